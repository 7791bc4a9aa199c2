"""The wire: request checks every endpoint shares (api-version, body size, JSON), responses, and
the one place where any failure becomes an IoT Central error response.

api-version: optional; when given it must be 2022-07-31, the version whose shapes we follow
(IoT Central refuses versions it does not serve, and a client asking for another version's
shapes should learn that at once). Bodies over MAX_BODY_BYTES are 413.

Query parameters are read from the request URL, not from the host's `params`: the Functions host
joins a repeated parameter's values with a comma, and IoT Central's clients repeat `api-version`
(they append it to a nextLink that already carries it). The same value twice is one value;
different values are refused, naming the parameter.

Links are built from the public URL (`public_url`): behind a reverse proxy the host sees the
proxy's request to it, not the caller's (see `PUBLIC_BASE_URL` and `TRUST_FORWARDED_HEADERS`).
"""
from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import azure.functions as func
from pydantic import BaseModel

from shared.bootstrap import services
from shared.collaborators import Collaborators
from shared.domain.access import Action, Caller
from shared.domain import limits
from shared.domain.errors import InvalidField
from jobs_api.errors import ApiError, bad_request, from_exception
from jobs_api.models import ErrorResponse, ResponseModel

logger = logging.getLogger(__name__)

API_VERSION = "2022-07-31"
API_VERSION_PARAM = "api-version"
# The largest valid job (20 operations within 256 KiB of values, 1,000 device ids) fits with room.
MAX_BODY_BYTES = 1024 * 1024
JSON = "application/json"


def respond(req: func.HttpRequest, permission: Action | None,
            action: Callable[[Collaborators], func.HttpResponse]) -> func.HttpResponse:
    """The one way a request is served: admit the caller for `permission` (None: a public
    endpoint), check the common parts of the request, run `action` with the caller in its
    collaborators, record the outcome in the audit log, and map any failure to an error."""
    request_id, caller = str(uuid.uuid4()), None
    try:
        if permission is not None:
            caller = services().access.admit(req.headers, permission)
        # Storage clients that give up quickly (a 503 at once); a public endpoint has no caller.
        ctx = replace(services().api_collaborators, caller=caller or Caller.anonymous())
        require_api_version(req)
        response = action(ctx)
    except Exception as error:  # every failure becomes an error response; unexpected ones are logged
        api_error = from_exception(error)
        if permission is not None:
            resource = audited_resource(req.url)
            _audit(lambda audit, error=error: audit.refused_or_failed(error, caller, permission, resource, request_id,
                                                                      api_error.code))
        return error_response(api_error, request_id)
    if caller is not None:
        resource = audited_resource(response.headers.get("Location") or req.url)  # a new job: its own path
        _audit(lambda audit: audit.succeeded(caller, permission, resource, request_id))
    response.headers["x-ms-request-id"] = request_id
    return response


def _audit(record: Callable) -> None:
    """Record in the audit trail; the trail itself may be out of reach (storage down on a fresh
    instance), and that must not turn the answer into the host's bare 500."""
    try:
        record(services().audit)
    except Exception:
        logger.exception("audit: the audit trail could not be reached")


# The segments after these name what was done to the resource (the entry's action says it), not another one.
_ACTION_SEGMENTS = frozenset({"run", "stop", "resume", "copy", "rerun", "preview", "devices", "report.csv", "jobs"})


def audited_resource(url: str) -> str:
    """What the audit log names as acted on: the path below /api up to the resource itself, so
    `jobs/j1` finds its create, stop and resume alike (`jobs/j1/stop` → `jobs/j1`)."""
    path = urlsplit(url).path.split("/api/", 1)[-1]
    segments = path.split("/")
    for index, segment in enumerate(segments[2:], start=2):
        if segment in _ACTION_SEGMENTS:
            segments = segments[:index]
            break
    return "/".join(segments)[:512]


def query(req: func.HttpRequest) -> dict[str, str]:
    """The query parameters as the caller wrote them; a parameter repeated with different values is 400."""
    values: dict[str, str] = {}
    for name, value in parse_qsl(urlsplit(req.url).query, keep_blank_values=True):
        if values.setdefault(name, value) != value:
            raise bad_request(f"The query parameter {name} is given more than once with different values; "
                              "give it once.", name)
    return values


def public_url(req: func.HttpRequest) -> str:
    """The request's URL as the caller addressed it, for links back into this API."""
    return caller_url(req.url, req.headers, services().settings)


def caller_url(url: str, headers, settings) -> str:
    parts = urlsplit(url)
    if settings.public_base_url:
        base = urlsplit(settings.public_base_url)
        return urlunsplit(parts._replace(scheme=base.scheme, netloc=base.netloc,
                                         path=base.path.rstrip("/") + parts.path))
    if settings.trust_forwarded_headers:
        proto, host = _forwarded(headers)
        if proto or host:
            return urlunsplit(parts._replace(scheme=proto or parts.scheme, netloc=host or parts.netloc))
    return url


# What a forwarded scheme and host may be; anything else (a path, spaces, CR/LF) is ignored.
_PROTO = re.compile(r"https?", re.IGNORECASE)
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def _forwarded(headers) -> tuple[str | None, str | None]:
    """Scheme and host the caller used, from RFC 7239 `Forwarded` or else `X-Forwarded-Proto/-Host`.
    The last (rightmost) entry is the one the proxy in front of the app added; entries before it
    came with the request, and a caller can write anything there. (Behind a chain of proxies,
    set PUBLIC_BASE_URL.)"""
    proto = host = None
    forwarded = headers.get("forwarded")
    if forwarded:
        for pair in forwarded.split(",")[-1].split(";"):
            key, _, value = pair.strip().partition("=")
            value = value.strip().strip('"')
            if key.lower() == "proto":
                proto = value
            elif key.lower() == "host":
                host = value
    proto = proto or (headers.get("x-forwarded-proto") or "").split(",")[-1].strip() or None
    host = host or (headers.get("x-forwarded-host") or "").split(",")[-1].strip() or None
    return (proto.lower() if proto and _PROTO.fullmatch(proto) else None,
            host if host and _HOST.fullmatch(host) else None)


def require_api_version(req: func.HttpRequest) -> None:
    version = query(req).get(API_VERSION_PARAM)
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


def error_response(error: ApiError, request_id: str | None = None) -> func.HttpResponse:
    body = ErrorResponse.model_validate(error.body(request_id)).to_json()
    headers = {"x-ms-error-code": error.code, "x-ms-request-id": body["error"]["requestId"], **error.headers}
    return func.HttpResponse(json.dumps(body), status_code=error.status, mimetype=JSON, headers=headers)


def resource_url(req: func.HttpRequest, path: str) -> str:
    """The absolute URL of another resource of this API (`path` relative to /api/)."""
    base = public_url(req).split("?", 1)[0]
    return base[: base.index("/api/") + len("/api/")] + path
