"""Domain errors of the simulated hub, and the one place that turns them into IoT Hub's wire form.

The backend raises these; it never sees HTTP. `to_wire` builds the status, the
`iothub-errorcode` header and the JSON body exactly once for every route.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone


class IotHubError(Exception):
    """Base of every error the simulator answers with. Subclasses fix status, name and number."""

    status = 500
    code_name = "ServerError"
    code_number = 500001
    nested_body = False  # direct-method errors carry a JSON string inside `Message`

    def __init__(self, message: str, info: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.info = info or {}


class ArgumentInvalid(IotHubError):
    status, code_name, code_number = 400, "ArgumentInvalid", 400004


class DeviceDefinedMultipleTimes(IotHubError):
    status, code_name, code_number = 400, "DeviceDefinedMultipleTimes", 400011


class TooManyDevices(IotHubError):
    status, code_name, code_number = 413, "TooManyDevices", 413002


class IotHubUnauthorizedAccess(IotHubError):
    status, code_name, code_number = 401, "IotHubUnauthorizedAccess", 401002


class Forbidden(IotHubError):
    status, code_name, code_number = 403, "IotHubUnauthorizedAccess", 403000


class JobQuotaExceeded(IotHubError):
    """A second import/export job while one is enqueued or running (one per hub on every tier)."""

    status, code_name, code_number = 403, "JobQuotaExceeded", 403001


class DeviceNotFound(IotHubError):
    status, code_name, code_number = 404, "DeviceNotFound", 404001


class JobNotFound(IotHubError):
    status, code_name, code_number = 404, "JobNotFound", 404002


class ModuleNotFound(IotHubError):
    status, code_name, code_number = 404, "ModuleNotFound", 404010


class RouteNotFound(IotHubError):
    status, code_name, code_number = 404, "NotFound", 404000


class DeviceNotOnline(IotHubError):
    status, code_name, code_number = 404, "DeviceNotOnline", 404103
    nested_body = True


class DeviceAlreadyExists(IotHubError):
    status, code_name, code_number = 409, "DeviceAlreadyExists", 409001


class PreconditionFailed(IotHubError):
    status, code_name, code_number = 412, "PreconditionFailed", 412001


class ThrottlingException(IotHubError):
    status, code_name, code_number = 429, "ThrottlingException", 429001


class ServerError(IotHubError):
    status, code_name, code_number = 500, "ServerError", 500001


class ServiceUnavailable(IotHubError):
    status, code_name, code_number = 503, "ServiceUnavailable", 503001


class GatewayTimeout(IotHubError):
    status, code_name, code_number = 504, "GatewayTimeout", 504101
    nested_body = True


INJECTABLE_STATUSES = {429: ThrottlingException, 500: ServerError, 503: ServiceUnavailable}


def to_wire(error: IotHubError) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body for an error, in the form the real hub uses for that kind of error."""
    now = datetime.now(timezone.utc)
    tracking_id = uuid.uuid4().hex
    if error.nested_body:
        body = _nested_body(error, tracking_id, now)
    else:
        body = _classic_body(error, tracking_id, now)
    headers = {"iothub-errorcode": error.code_name, "Content-Type": "application/json; charset=utf-8"}
    return error.status, headers, json.dumps(body).encode()


def _classic_body(error: IotHubError, tracking_id: str, now: datetime) -> dict:
    # The real envelope has no numeric code; `errorCode` is added so callers can read 404001 etc.
    return {
        "Message": f"ErrorCode:{error.code_name};{error.message}",
        "ExceptionMessage": f"Tracking ID:{tracking_id}-G:0-TimeStamp:{now:%m/%d/%Y %H:%M:%S}",
        "errorCode": error.code_number,
    }


def _nested_body(error: IotHubError, tracking_id: str, now: datetime) -> dict:
    inner = {
        "errorCode": error.code_number,
        "trackingId": f"{tracking_id}-G:0-TimeStamp:{now:%m/%d/%Y %H:%M:%S}",
        "message": error.message,
        "info": error.info,
        "timestampUtc": now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
    }
    return {"Message": json.dumps(inner), "ExceptionMessage": ""}
