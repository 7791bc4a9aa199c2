"""API errors in the Azure REST shape that IoT Central uses, built in one place.

Body: {"error": {"code", "message", "target", "details": [...], "requestId", "time"}},
with the same code in the `x-ms-error-code` header.
"""
from __future__ import annotations

import logging
import uuid
from email.utils import formatdate

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from pydantic import ValidationError

from shared.domain.access import Forbidden, IdentityProviderUnavailable, RateLimited, Unauthenticated
from shared.domain.errors import (AlreadyExists, ConcurrencyConflict, IllegalTransition, InvalidField,
                                  LimitReached, NotFound)
from jobs_api.jobs import PlanningUnavailable
from jobs_api.targets import HubBusy, HubUnavailable

logger = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, target: str | None = None,
                 details: list[dict] | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.details = details or []
        self.headers = headers or {}

    def body(self, request_id: str | None = None) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        if self.details:
            error["details"] = self.details
        error["requestId"] = request_id or str(uuid.uuid4())
        error["time"] = formatdate(usegmt=True)
        return {"error": error}


def bad_request(message: str, target: str | None = None, code: str = "InvalidRequest") -> ApiError:
    return ApiError(400, code, message, target)


def from_validation_error(error: ValidationError, prefix: str = "") -> ApiError:
    """One detail per invalid field, each naming the field as a JSON path (`data[0].type`)."""
    details = [{"code": "InvalidField", "target": _field_path(prefix, issue["loc"]),
                "message": _field_message(issue)} for issue in error.errors()]
    first = details[0]
    summary = f"{first['target']}: {first['message']}" if first["target"] else first["message"]
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return ApiError(400, "InvalidRequest", f"The request body is invalid. {summary}{more}",
                    target=first["target"] or None, details=details)


def _field_path(prefix: str, location: tuple) -> str:
    path = prefix
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not str(part).startswith(("function-", "tagged-union", "literal")):
            path += f".{part}" if path else str(part)
    return path


def _field_message(issue: dict) -> str:
    if issue["type"] == "extra_forbidden":
        return "unknown field"
    if issue["type"] == "missing":
        return "required field is missing"
    return issue["msg"].removeprefix("Value error, ")


def from_exception(error: Exception) -> ApiError:
    """The one mapping of domain and service failures to API errors."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, ValidationError):
        return from_validation_error(error)
    for kinds, build in _MAPPING:
        if isinstance(error, kinds):
            return build(error)
    if _storage_unavailable(error):
        logger.warning("storage did not answer: %s: %s", type(error).__name__, error)
        return _unavailable("The service's storage did not answer; try again.")
    logger.exception("unexpected failure", exc_info=error)
    return ApiError(500, "InternalServerError", "The request failed unexpectedly; it was logged.")


def _invalid_field(error: InvalidField) -> ApiError:
    code = getattr(error, "code", "InvalidRequest")
    field = error.field
    return ApiError(400, code, f"{field}: {error.message}", target=field,
                    details=[{"code": code, "target": field, "message": error.message}])


def _unavailable(message: str) -> ApiError:
    return ApiError(503, "ServiceUnavailable", message, headers={"Retry-After": "5"})


def _storage_unavailable(error: Exception) -> bool:
    """Storage (the Azure SDK) could not be reached, or answered with a server error."""
    if isinstance(error, (ServiceRequestError, ServiceResponseError)):
        return True
    return isinstance(error, HttpResponseError) and (error.status_code or 0) >= 500


def _too_many_requests(error: HubBusy) -> ApiError:
    return ApiError(429, "TooManyRequests", f"{error} Nothing was changed; try again in {error.retry_after} s.",
                    headers={"Retry-After": str(error.retry_after)})


_MAPPING = [
    # Access: none of these names the resource asked for, so none tells whether it exists.
    (Unauthenticated, lambda error: ApiError(401, "Unauthorized", error.reason,
                                             headers={"WWW-Authenticate": error.challenge})),
    (Forbidden, lambda error: ApiError(403, "Forbidden", str(error))),
    (RateLimited, lambda error: ApiError(429, "TooManyRequests", f"{error} Try again in {error.retry_after} s.",
                                         headers={"Retry-After": str(error.retry_after)})),
    (IdentityProviderUnavailable, lambda error: _unavailable("Microsoft Entra ID's signing keys could not be read; "
                                                             "try again.")),
    (InvalidField, _invalid_field),
    (NotFound, lambda error: ApiError(404, "NotFound", str(error), target=error.identifier)),
    (IllegalTransition, lambda error: ApiError(409, "InvalidJobState", str(error))),
    (AlreadyExists, lambda error: ApiError(409, "AlreadyExists", str(error), target=error.identifier)),
    (LimitReached, lambda error: ApiError(409, "QuotaExceeded", str(error), target=error.setting)),
    (ConcurrencyConflict, lambda error: ApiError(412, "PreconditionFailed",
                                                 f"{error} The If-Match value is not the resource's current ETag.",
                                                 target="If-Match")),
    (PlanningUnavailable, lambda error: _unavailable(f"{error} Try again.")),
    (HubBusy, _too_many_requests),
    (HubUnavailable, lambda error: _unavailable(f"{error} Nothing was changed; try again.")),
]
