"""The wire: request checks every endpoint shares (api-version, body size, JSON), responses, and
the one place where any failure becomes an IoT Central error response.

api-version: optional; when given it must be 2022-07-31, the version whose shapes we follow
(IoT Central refuses versions it does not serve, and a client asking for another version's
shapes should learn that at once). Bodies over MAX_BODY_BYTES are 413.
"""
from __future__ import annotations

import json
from collections.abc import Callable

import azure.functions as func
from pydantic import BaseModel

from shared.bootstrap import services
from shared.collaborators import Collaborators
from shared.domain import limits
from shared.domain.errors import InvalidField
from jobs_api.errors import ApiError, bad_request, from_exception
from jobs_api.models import ErrorResponse, ResponseModel

API_VERSION = "2022-07-31"
API_VERSION_PARAM = "api-version"
# The largest valid job (20 operations within 256 KiB of values, 1,000 device ids) fits with room.
MAX_BODY_BYTES = 1024 * 1024
JSON = "application/json"


def respond(req: func.HttpRequest, action: Callable[[Collaborators], func.HttpResponse]) -> func.HttpResponse:
    """Check the common parts of the request, run `action`, and map any failure to an error."""
    try:
        require_api_version(req)
        return action(services().api_collaborators)  # storage clients that give up quickly: a 503 at once
    except Exception as error:  # every failure becomes an error response; unexpected ones are logged
        return error_response(from_exception(error))


def require_api_version(req: func.HttpRequest) -> None:
    version = req.params.get(API_VERSION_PARAM)
    if version is not None and version != API_VERSION:
        raise ApiError(400, "InvalidApiVersion", f"api-version '{version}' is not supported; use {API_VERSION} "
                       "or leave it out.", target=API_VERSION_PARAM)


def read_body(req: func.HttpRequest, model: type[BaseModel]) -> BaseModel:
    return model.model_validate(read_json(req))


def read_json(req: func.HttpRequest) -> object:
    declared = req.headers.get("content-length")
    body = req.get_body() or b""
    if (declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES) or len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "RequestEntityTooLarge", f"The request body must be at most {MAX_BODY_BYTES} bytes.")
    if not body.strip():
        raise bad_request("The request needs a JSON body.", code="InvalidJson")
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise bad_request(f"The request body is not valid JSON: {error}", code="InvalidJson") from None
    except RecursionError:
        raise bad_request("The request body is nested too deeply.", code="InvalidJson") from None
    # Grammatical JSON that no store or service can take: `1e400` (read as infinity) or a lone
    # surrogate (`"\ud800"`, which UTF-8 cannot encode). Refused here, naming where it is.
    problem = limits.json_value_problem(value)
    if problem:
        path, message = problem
        raise InvalidField(path, message) if path else bad_request(f"The request body {message}")
    return value


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")  # Python's json accepts NaN and Infinity; JSON does not


def if_match(req: func.HttpRequest) -> str | None:
    return req.headers.get("if-match") or None


def json_response(model: ResponseModel | dict, status: int = 200, etag: str | None = None,
                  location: str | None = None) -> func.HttpResponse:
    body = model.to_json() if isinstance(model, ResponseModel) else model
    headers = {}
    if etag:
        headers["ETag"] = etag
    if location:
        headers["Location"] = location
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype=JSON, headers=headers)


def no_content() -> func.HttpResponse:
    return func.HttpResponse(status_code=204)


def error_response(error: ApiError) -> func.HttpResponse:
    headers = {"x-ms-error-code": error.code, **error.headers}
    body = ErrorResponse.model_validate(error.body()).to_json()
    return func.HttpResponse(json.dumps(body), status_code=error.status, mimetype=JSON, headers=headers)


def resource_url(req: func.HttpRequest, path: str) -> str:
    """The absolute URL of another resource of this API (`path` relative to /api/)."""
    base = req.url.split("?", 1)[0]
    return base[: base.index("/api/") + len("/api/")] + path
