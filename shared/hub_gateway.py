"""The one gateway to IoT Hub, over the azure-iot-hub SDK's IoTHubRegistryManager.

The SDK does not retry POST/PATCH and hides IoT Hub's error codes, so this gateway reads the
status and `iothub-errorcode` itself, retries 429 and 5xx with backoff and jitter (honouring
`Retry-After`), paces each operation class under its per-second limit, and turns every
failure into one of a small vocabulary of error codes (`HubFailure.code`).
"""
from __future__ import annotations

import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from azure.core.exceptions import DeserializationError
from azure.iot.hub.models import CloudToDeviceMethod, QuerySpecification, Twin, TwinProperties
from msrest.exceptions import ClientRequestError, HttpOperationError

from shared.domain.devices import DeviceErrorCode, DevicePage
from shared.pacing import RateLimiter, Unlimited

logger = logging.getLogger(__name__)

# Per-device failures are the job's device error codes; a refused query is the planner's concern.
DEVICE_NOT_FOUND = DeviceErrorCode.DEVICE_NOT_FOUND
DEVICE_NOT_ONLINE = DeviceErrorCode.DEVICE_NOT_ONLINE
TIMEOUT = DeviceErrorCode.TIMEOUT
THROTTLED = DeviceErrorCode.THROTTLED
DEVICE_REJECTED = DeviceErrorCode.DEVICE_REJECTED
INVALID_VALUE = DeviceErrorCode.INVALID_VALUE
HUB_ERROR = DeviceErrorCode.HUB_ERROR
INVALID_QUERY = "InvalidQuery"

METHOD_METER_BYTES = 4096  # IoT Hub meters direct methods in 4 KB units
_SIX_DIGIT_CODE = re.compile(r"\b(\d{6})\b")
# Transport errors that prove the request never reached the hub, so even a command may be repeated.
_NOT_SENT = ("Connection refused", "NewConnectionError", "NameResolutionError", "ConnectTimeout")


class HubFailure(Exception):
    """An operation on one device (or a query) failed for good; `code` says how: a
    DeviceErrorCode, or INVALID_QUERY for a query IoT Hub refused."""

    def __init__(self, code: DeviceErrorCode | str, message: str, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class HubLimits:
    """Per-second budgets per operation class; 0 switches pacing off for that class."""
    twin_reads_per_second: float = 100
    twin_updates_per_second: float = 50
    method_units_per_second: float = 40
    queries_per_second: float = 20 / 60


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** attempt))  # full jitter


@dataclass(frozen=True)
class DeviceSummary:
    device_id: str
    model_id: str | None = None
    is_edge: bool = False
    connection_state: str | None = None


@dataclass(frozen=True)
class MethodResult:
    status: int
    payload: object = None


@dataclass
class _Retryable(Exception):
    failure: HubFailure
    retry_after: float | None = None


@dataclass
class HubGateway:
    """`limits` are the hub's; `senders` says how many processes send to it now (this one
    included), and each paces at its share."""
    registry_manager: object
    limits: HubLimits = field(default_factory=HubLimits)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    senders: Callable[[], int] = lambda: 1

    def __post_init__(self):
        limits = self.limits
        # Queries are quoted per minute and IoT Hub meters them over minute windows, so a minute's
        # budget may go at once (planning a group's first pages without waiting 3 s per page).
        self._classes = {"read": (limits.twin_reads_per_second, 1),
                         "update": (limits.twin_updates_per_second, 1),
                         "method": (limits.method_units_per_second, 1),
                         "query": (limits.queries_per_second, 60)}
        self._share, self._share_lock = 1, threading.Lock()
        self._limiters = {name: RateLimiter(*_budget(rate, burst_seconds, 1), sleep=self.sleep) if rate > 0
                          else Unlimited() for name, (rate, burst_seconds) in self._classes.items()}

    def query_devices(self, query: str, continuation: str | None = None,
                      page_size: int = 100) -> DevicePage[DeviceSummary]:
        spec = QuerySpecification(query=query)
        result = self._call("query", lambda: self.registry_manager.query_iot_hub(spec, continuation, page_size))
        return DevicePage([_summary(twin) for twin in result.items or []], result.continuation_token or None)

    def patch_desired(self, device_id: str, desired: dict) -> None:
        twin = Twin(properties=TwinProperties(desired=desired))
        self._call("update", lambda: self.registry_manager.update_twin(device_id, twin, "*"), idempotent=True)

    def patch_tags(self, device_id: str, tags: dict) -> None:
        twin = Twin(tags=tags)
        self._call("update", lambda: self.registry_manager.update_twin(device_id, twin, "*"), idempotent=True)

    def invoke_method(self, device_id: str, method_name: str, payload: object = None,
                      response_timeout: int = 30, connect_timeout: int = 0) -> MethodResult:
        request = CloudToDeviceMethod(method_name=method_name, payload=payload,
                                      response_timeout_in_seconds=response_timeout,
                                      connect_timeout_in_seconds=connect_timeout)
        units = max(1, math.ceil(len(json.dumps(payload)) / METHOD_METER_BYTES))
        result = self._call("method", lambda: self.registry_manager.invoke_device_method(device_id, request),
                            tokens=units, idempotent=False)
        if not 200 <= (result.status or 0) < 300:
            raise HubFailure(DEVICE_REJECTED, f"the device answered {method_name} with status {result.status}: "
                             f"{json.dumps(result.payload)[:300]}", status=result.status)
        return MethodResult(result.status, result.payload)

    def _call(self, operation: str, send: Callable[[], object], tokens: float = 1, idempotent: bool = True):
        self._follow_share()
        limiter = self._limiters[operation]
        for attempt in range(self.retry.max_attempts):
            limiter.acquire(tokens)
            try:
                return _classified(send, operation, idempotent)
            except _Retryable as retryable:
                if attempt + 1 == self.retry.max_attempts:
                    raise retryable.failure from None
                wait = self.retry.delay(attempt, retryable.retry_after)
                if retryable.failure.code == THROTTLED:
                    limiter.hold_off(wait)  # every caller of this class slows down, not just this one
                else:
                    self.sleep(wait)
                logger.debug("retrying %s after %s (%.2f s)", operation, retryable.failure.code, wait)
        raise AssertionError("unreachable")

    def _follow_share(self) -> None:
        share = self.senders()
        if share == self._share:
            return
        with self._share_lock:  # every limiter follows the same count
            share = self.senders()
            if share == self._share:
                return
            for name, (rate, burst_seconds) in self._classes.items():
                if rate > 0:
                    self._limiters[name].set_rate(*_budget(rate, burst_seconds, share))
            self._share = share
        logger.info("pacing at 1/%d of the hub's limits: %d processes send to it", share, share)


def _budget(rate: float, burst_seconds: float, share: int) -> tuple[float, float | None]:
    """This process's rate, and its burst (None: the limiter's default, one second's worth)."""
    mine = rate / share
    return mine, mine * burst_seconds if burst_seconds > 1 else None


def _classified(send: Callable[[], object], operation: str, idempotent: bool):
    try:
        return send()
    except HttpOperationError as error:
        raise _failure_from_response(error.response, operation) from None
    except (ClientRequestError, requests.RequestException) as error:
        raise _failure_from_transport(error, idempotent) from None
    except (DeserializationError, ValueError) as error:  # a reply the SDK could not read
        raise HubFailure(HUB_ERROR, f"IoT Hub's answer could not be read: {str(error)[:300]}") from None


def _failure_from_response(response, operation: str):
    status = response.status_code if response is not None else None
    code = _hub_error_code(response)
    message = _hub_error_message(response) or f"IoT Hub answered {status}"
    if status == 429:
        return _Retryable(HubFailure(THROTTLED, message, status), _retry_after(response))
    if status == 504 and operation == "method":  # 504101: the device may have run it, so never repeated
        return HubFailure(TIMEOUT, "the device did not answer in time", status)
    if status is not None and status >= 500:
        return _Retryable(HubFailure(HUB_ERROR, message, status), _retry_after(response))
    if status == 404:
        online_code = code in ("404103", "DeviceNotOnline") or "404103" in (response.text or "")
        return HubFailure(DEVICE_NOT_ONLINE if online_code else DEVICE_NOT_FOUND,
                          "the device is not online" if online_code else "the device is not registered in the hub",
                          status)
    if status == 400:
        return HubFailure(INVALID_QUERY if operation == "query" else INVALID_VALUE, message, status)
    return HubFailure(HUB_ERROR, message, status)


def _failure_from_transport(error: Exception, idempotent: bool):
    text = f"{error} {getattr(error, 'inner_exception', '') or ''}"
    unsent = any(sign in text for sign in _NOT_SENT)
    read_timeout = "timed out" in text.lower() and not unsent  # sent, but no answer came in time
    failure = HubFailure(TIMEOUT if read_timeout else HUB_ERROR, f"IoT Hub could not be reached: {text[:300]}")
    # A request that may have reached the device is only repeated when repeating it is harmless.
    return _Retryable(failure) if (idempotent or unsent) else failure


def _hub_error_code(response) -> str:
    """The header's code name, else the six-digit code in the body (direct methods nest it there)."""
    if response is None:
        return ""
    match = _SIX_DIGIT_CODE.search(response.text or "")
    return response.headers.get("iothub-errorcode") or (match.group(1) if match else "")


def _hub_error_message(response) -> str | None:
    if response is None or not response.text:
        return None
    try:
        message = json.loads(response.text).get("Message", "")
    except (ValueError, AttributeError):
        return response.text[:300]
    try:
        return json.loads(message).get("message", message)[:300]  # direct-method errors nest JSON in Message
    except (ValueError, AttributeError):
        return str(message)[:300]


def _retry_after(response) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _summary(twin) -> DeviceSummary:
    extra = getattr(twin, "additional_properties", None) or {}
    capabilities = getattr(twin, "capabilities", None)
    return DeviceSummary(device_id=twin.device_id, model_id=extra.get("modelId") or None,
                         is_edge=bool(capabilities and capabilities.iot_edge),
                         connection_state=getattr(twin, "connection_state", None))
