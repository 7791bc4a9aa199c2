"""API errors in the Azure REST shape that IoT Central uses, built in one place.

Body: {"error": {"code", "message", "target", "details": [...], "requestId", "time"}},
with the same code in the `x-ms-error-code` header.
"""
from __future__ import annotations

import uuid
from email.utils import formatdate

from pydantic import ValidationError


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

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        if self.details:
            error["details"] = self.details
        error["requestId"] = str(uuid.uuid4())
        error["time"] = formatdate(usegmt=True)
        return {"error": error}


def bad_request(message: str, target: str | None = None, code: str = "InvalidRequest") -> ApiError:
    return ApiError(400, code, message, target)


def not_found(kind: str, identifier: str, extra: str = "") -> ApiError:
    return ApiError(404, "NotFound", f"{kind} '{identifier}' was not found.{extra}", target=identifier)


def conflict(message: str, code: str = "Conflict") -> ApiError:
    return ApiError(409, code, message)


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
