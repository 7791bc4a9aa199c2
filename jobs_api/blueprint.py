"""HTTP triggers. Each turns a request into a call of a plain function and its result into a response."""
from __future__ import annotations

import json

import azure.functions as func

from shared.bootstrap import dependencies
from shared.health import check_health, default_probes

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    report = check_health(default_probes(dependencies()))
    status = 200 if report["status"] == "healthy" else 503
    return func.HttpResponse(json.dumps(report), status_code=status, mimetype="application/json")
