"""The one gateway to IoT Hub, over the azure-iot-hub SDK's IoTHubRegistryManager.

The SDK does not retry POST/PATCH and hides IoT Hub's error codes, so this gateway reads the
status and `iothub-errorcode` itself, retries 5xx with backoff and jitter (honouring
`Retry-After`), paces each operation class under its per-second limit, and turns every
failure into one of a small vocabulary of error codes (`HubFailure.code`).

A 429 is the hub asking to slow down, not a failure of the device: every caller of the class
slows down (the limiter's hold-off and lower pace) and the call waits its turn, failing
`Throttled` only after `RetryPolicy.throttled_wait` seconds of throttling.

Calls made for an HTTP caller go through `for_reads` (group reads and checks, device listings)
or `for_job_checks` (the checks before a job starts): they never wait out throttling, retry
within a short deadline, and the pipeline keeps priority. Reads may use only their share of the
query budget (`HubLimits.interactive_query_share`; over it they are refused with
`CallerThrottled` and a retry time) and never queue behind the pipeline; the pipeline may use
what reads leave idle. Job checks start a job, so they take the pipeline's budget, waiting
their turn up to the deadline. Both shares are of this process's share of the hub, so they hold
across instances as the pacing does. The hub's verdict on a query (accepted or refused) is
kept for `verdict_seconds`. Aggregate queries (`count_devices`, for previews) are reads like any
other: admitted together, their rows handed back as the query's aliases and values.
"""
from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import requests
from azure.core.exceptions import DeserializationError
from azure.iot.hub.models import CloudToDeviceMethod, JobProperties, QuerySpecification, Twin, TwinProperties
from msrest.exceptions import ClientRequestError, HttpOperationError

from shared.domain.devices import DeviceErrorCode, DevicePage
from shared.domain.hub_quotas import method_units
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
EXPORT_BUSY = "JobQuotaExceeded"  # 403001: IoT Hub runs one import/export job at a time

# Jobs operations (creating and reading an export job): IoT Hub allows 1.67 a second per unit on
# every tier below S3; at most one a second keeps any hub's jobs budget for its other users.
JOB_OPERATIONS_PER_SECOND = 1.0
# IoT Hub meters its per-second limits over about a second's calls. A sender that spends a whole
# second's worth at once, then goes on at the limit, leaves the hub's bucket empty: calls that
# reach it bunched (threads held up a moment, then sending together) are answered 429, and each
# 429 halves the pace for a while (shared.pacing). A quarter of a second's burst keeps the rest
# of the hub's bucket for that jitter, at the same rate.
PER_SECOND_BURST = 0.25

_SIX_DIGIT_CODE = re.compile(r"\b(\d{6})\b")
_STATUS_IN_RETRY_ERROR = re.compile(r"too many (\d{3}) error responses")
# Transport errors that prove the request never reached the hub, so even a command may be repeated.
_NOT_SENT = ("Connection refused", "NewConnectionError", "NameResolutionError", "ConnectTimeout")


HEALTH_PROBE_DEVICE_ID = "health-probe"  # never registered: its 404 proves the hub answers


class HubFailure(Exception):
    """An operation on one device (or a query) failed for good; `code` says how: a
    DeviceErrorCode, or INVALID_QUERY for a query IoT Hub refused. `status` is the hub's HTTP
    status, None when no answer came."""

    def __init__(self, code: DeviceErrorCode | str, message: str, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class CallerThrottled(HubFailure):
    """A call for an HTTP caller was not made (its share of the hub's budget is spent) or the
    hub throttled it; the caller may try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(THROTTLED, message, 429)
        self.retry_after = retry_after


@dataclass(frozen=True)
class HubLimits:
    """Per-second budgets per operation class; 0 switches pacing off for that class.
    `interactive_query_share`: the part of the query budget group reads and listings may use."""
    twin_reads_per_second: float = 100
    twin_updates_per_second: float = 50
    method_units_per_second: float = 40
    queries_per_second: float = 20 / 60
    interactive_query_share: float = 0.25


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` on 5xx and transport errors; a 429 is retried until the call has been
    throttled for `throttled_wait` seconds, each hold-off at most `throttled_max_delay` (the
    limiter's lower pace does the rest); `deadline` bounds a whole call, retries included."""
    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0
    throttled_wait: float = 300.0
    throttled_max_delay: float = 2.0
    deadline: float | None = None

    def delay(self, attempt: int, retry_after: float | None, max_delay: float | None = None) -> float:
        ceiling = self.max_delay if max_delay is None else max_delay
        if retry_after is not None:
            return min(retry_after, ceiling)
        return random.uniform(0, min(ceiling, self.base_delay * 2 ** attempt))  # full jitter


@dataclass(frozen=True)
class DeviceSummary:
    device_id: str
    model_id: str | None = None
    is_edge: bool = False
    connection_state: str | None = None
    enabled: bool = True  # the registry's status: a disabled device cannot connect
    etag: str | None = None  # the twin's


@dataclass(frozen=True)
class ExportState:
    """An export job as IoT Hub reports it: `status` enqueued, running, completed, failed or cancelled."""
    status: str
    failure_reason: str | None = None

    @property
    def ended(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")


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
    included), and each paces at its share. `interactive_manager` serves calls for HTTP callers
    (a client with a short read timeout), `interactive_retry` bounds them."""
    registry_manager: object
    limits: HubLimits = field(default_factory=HubLimits)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    senders: Callable[[], int] = lambda: 1
    monotonic: Callable[[], float] = time.monotonic
    interactive_manager: object | None = None
    interactive_retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(max_attempts=3, base_delay=0.25, max_delay=2.0, deadline=10.0))
    verdict_seconds: float = 60.0
    job_manager: object | None = None  # an IoTHubJobManager: registry exports (planning's)

    def __post_init__(self):
        limits = self.limits
        # Queries are quoted per minute and IoT Hub meters them over minute windows, so a minute's
        # budget may go at once (planning a group's first pages without waiting 3 s per page).
        # Limits quoted per second are met with a burst of a quarter of a second (PER_SECOND_BURST).
        self._classes = {"read": (limits.twin_reads_per_second, PER_SECOND_BURST),
                         "update": (limits.twin_updates_per_second, PER_SECOND_BURST),
                         "method": (limits.method_units_per_second, PER_SECOND_BURST),
                         "query": (limits.queries_per_second, 60),
                         "jobs": (JOB_OPERATIONS_PER_SECOND, 1)}
        self._share, self._share_lock = 1, threading.Lock()
        self._limiters = {name: self._limiter(rate, *_budget(rate, burst_seconds, 1, self._pipeline_part(name)))
                          for name, (rate, burst_seconds) in self._classes.items()}
        self._reads_limiter = self._limiter(limits.queries_per_second, *self._reads_budget(1))
        self._verdicts = _Verdicts(self.verdict_seconds, self.monotonic)
        self.for_reads = InteractiveHub(self, self._admit_read)
        self.for_job_checks = InteractiveHub(self, self._admit_job_check)

    def _limiter(self, hub_rate: float, rate: float, burst: float):
        if hub_rate > 0:
            return RateLimiter(rate, burst, clock=self.monotonic, sleep=self.sleep)
        return Unlimited(clock=self.monotonic, sleep=self.sleep)

    def _reads_budget(self, share: int) -> tuple[float, float]:
        part = self.limits.interactive_query_share
        return _budget(self.limits.queries_per_second, 60, share, burst_part=part, rate_part=part)

    def _pipeline_part(self, operation: str) -> float:
        """Of a class's burst, the part the pipeline may spend at once: for queries, all but the
        reads' share, so that reads admitted on their own never take the hub over its limit."""
        return 1 - self.limits.interactive_query_share if operation == "query" else 1

    def query_devices(self, query: str, continuation: str | None = None,
                      page_size: int = 100) -> DevicePage[DeviceSummary]:
        result = self._call("query", self._query_sender(self.registry_manager, query, continuation, page_size))
        return _page(result)

    def patch_desired(self, device_id: str, desired: dict) -> int | None:
        """The desired version the hub stored the patch at (the twin it answers with says)."""
        twin = Twin(properties=TwinProperties(desired=desired))
        stored = self._call("update", lambda: self.registry_manager.update_twin(device_id, twin, "*"), idempotent=True)
        version = ((getattr(getattr(stored, "properties", None), "desired", None)) or {}).get("$version")
        return version if isinstance(version, int) else None

    def reported_properties(self, device_id: str) -> dict | None:
        """The device's reported properties (None when it no longer exists), by one twin read:
        reads have a quota of their own (100 a second on S1), so looking for acknowledgements
        never takes the query budget that planning needs."""
        try:
            twin = self._call("read", lambda: self.registry_manager.get_twin(device_id))
        except HubFailure as failure:
            if failure.code == DEVICE_NOT_FOUND:
                return None
            raise
        return dict(getattr(getattr(twin, "properties", None), "reported", None) or {})

    def patch_tags(self, device_id: str, tags: dict) -> None:
        twin = Twin(tags=tags)
        self._call("update", lambda: self.registry_manager.update_twin(device_id, twin, "*"), idempotent=True)

    def invoke_method(self, device_id: str, method_name: str, payload: object = None,
                      response_timeout: int = 30, connect_timeout: int = 0) -> MethodResult:
        request = CloudToDeviceMethod(method_name=method_name, payload=payload,
                                      response_timeout_in_seconds=response_timeout,
                                      connect_timeout_in_seconds=connect_timeout)
        units = method_units(payload)
        result = self._call("method", lambda: self.registry_manager.invoke_device_method(device_id, request),
                            tokens=units, idempotent=False)
        if not 200 <= (result.status or 0) < 300:
            raise HubFailure(DEVICE_REJECTED, f"the device answered {method_name} with status {result.status}: "
                             f"{json.dumps(result.payload)[:300]}", status=result.status)
        return MethodResult(result.status, result.payload)

    def export_devices(self, container_url: str, blob_name: str) -> str:
        """Start IoT Hub's export of its registry, twins included and keys left out, to
        `blob_name` in the container (a SAS URL the hub may write with); the export job's id.
        One jobs operation, whatever the fleet's size. Raises HubFailure(EXPORT_BUSY) while
        another import/export job runs on the hub."""
        properties = JobProperties(type="export", output_blob_container_uri=container_url, output_blob_name=blob_name,
                                   exclude_keys_in_export=True, storage_authentication_type="keyBased")
        job = self._call("jobs", lambda: self.job_manager.create_import_export_job(properties))
        return job.job_id

    def export_state(self, job_id: str) -> ExportState:
        job = self._call("jobs", lambda: self.job_manager.get_import_export_job(job_id))
        return ExportState(str(job.status or "unknown").lower(), job.failure_reason)

    def check_reachable(self) -> None:
        """Raises HubFailure unless IoT Hub answers. A twin read of a device that does not exist
        is the cheapest call (reads have the loosest limit); its 404, or a 429, is an answer."""
        manager = self._interactive_manager()
        try:  # counted in the read budget, but not as a sender: it would shrink the others' share
            self._interactive_call("read", lambda: manager.get_twin(HEALTH_PROBE_DEVICE_ID),
                                   self._limiters["read"].charge, follow_share=False)
        except CallerThrottled:
            return
        except HubFailure as failure:
            if failure.code != DEVICE_NOT_FOUND:
                raise

    def _call(self, operation: str, send: Callable[[], object], tokens: float = 1, idempotent: bool = True):
        self._follow_share()
        limiter = self._limiters[operation]
        failures, throttles, throttled_since = 0, 0, None
        while True:
            limiter.acquire(tokens)
            try:
                return _classified(send, operation, idempotent)
            except _Retryable as retryable:
                failure = retryable.failure
                if failure.code == THROTTLED:
                    now = self.monotonic()
                    throttled_since = now if throttled_since is None else throttled_since
                    wait = self.retry.delay(throttles, retryable.retry_after, self.retry.throttled_max_delay)
                    throttles += 1
                    if now - throttled_since + wait > self.retry.throttled_wait:
                        # Throttled says the call never ran, unless an earlier try of a call that
                        # must not repeat got a 5xx: that one may have reached the device.
                        code = THROTTLED if idempotent or not failures else HUB_ERROR
                        raise HubFailure(code, f"IoT Hub kept throttling for {now - throttled_since:.0f} s: "
                                         f"{failure.message}", failure.status) from None
                    limiter.hold_off(wait)  # every caller of this class slows down, not just this one
                else:
                    failures += 1
                    if failures == self.retry.max_attempts:
                        raise failure from None
                    wait = self.retry.delay(failures - 1, retryable.retry_after)
                    self.sleep(wait)
                logger.debug("retrying %s after %s (%.2f s)", operation, failure.code, wait)

    def _interactive_call(self, operation: str, send: Callable[[], object], admit: Callable[[float], None],
                          tokens: float = 1, follow_share: bool = True):
        """One call for an HTTP caller: admitted by `admit` (which raises CallerThrottled), never
        waiting out throttling, retried on 5xx within the deadline."""
        if follow_share:
            self._follow_share()
        policy, started = self.interactive_retry, self.monotonic()
        admit(tokens)
        failures = 0
        while True:
            try:
                return _classified(send, operation, idempotent=True)
            except _Retryable as retryable:
                failure = retryable.failure
                wait = policy.delay(failures, retryable.retry_after)
                if failure.code == THROTTLED:
                    self._limiters[operation].hold_off(wait)  # the hub is over its limit: the pipeline slows too
                    raise CallerThrottled(failure.message, max(wait, 1.0)) from None
                failures += 1
                spent = self.monotonic() - started
                if failures >= policy.max_attempts or (policy.deadline is not None and spent + wait > policy.deadline):
                    raise failure from None
                self.sleep(wait)

    def _admit_read(self, tokens: float) -> None:
        """Reads take their own share and never queue: refused while it is spent, or while the
        hub's throttling holds the pipeline back."""
        total = self._limiters["query"]
        wait = total.paused_for() or self._reads_limiter.try_acquire(tokens)
        if wait > 0:
            raise CallerThrottled("this app's share of IoT Hub's query budget for reads is spent for now", wait)
        total.charge(tokens)  # the pipeline's next queries wait for these

    def _admit_job_check(self, tokens: float) -> None:
        deadline = self.interactive_retry.deadline
        wait = self._limiters["query"].try_acquire(tokens, max_wait=deadline if deadline is not None else 0)
        if wait > 0:
            raise CallerThrottled("IoT Hub's query budget is taken by running jobs for now", wait)

    def _interactive_manager(self):
        return self.interactive_manager if self.interactive_manager is not None else self.registry_manager

    @staticmethod
    def _query_sender(manager, query: str, continuation: str | None, page_size: int) -> Callable[[], object]:
        spec = QuerySpecification(query=query)
        return lambda: manager.query_iot_hub(spec, continuation, page_size)

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
                    self._limiters[name].set_rate(*_budget(rate, burst_seconds, share, self._pipeline_part(name)))
            if self.limits.queries_per_second > 0:
                self._reads_limiter.set_rate(*self._reads_budget(share))
            self._share = share
        logger.info("pacing at 1/%d of the hub's limits: %d processes send to it", share, share)


class InteractiveHub:
    """IoT Hub's queries for an HTTP caller (see the module's docstring): `admit` decides whether
    a call may go now."""

    def __init__(self, gateway: HubGateway, admit: Callable[[float], None]):
        self._gateway, self._admit = gateway, admit

    def query_devices(self, query: str, continuation: str | None = None,
                      page_size: int = 100) -> DevicePage[DeviceSummary]:
        return self._query(query, continuation, page_size, self._admit)

    def query_each(self, queries: Iterable[str], page_size: int = 100) -> Iterator[DeviceSummary]:
        """Every device of every query; the queries are admitted together, so a check needing
        several never stops half way for want of budget (continuation pages cost extra)."""
        queries = list(queries)
        if not queries:
            return
        self._gateway._follow_share()
        self._admit(len(queries))
        for query in queries:
            continuation, admit = None, _admitted
            while True:
                page = self._query(query, continuation, page_size, admit)
                yield from page.devices
                continuation, admit = page.continuation, self._gateway._limiters["query"].charge
                if not continuation:
                    break

    def count_devices(self, queries: Iterable[str]) -> list[list[dict]]:
        """The rows of each aggregate query (`SELECT COUNT() AS n, <path> AS <alias> FROM devices
        WHERE … GROUP BY <path>`), admitted together like `query_each`. A row is the query's
        aliases and their values; give aliases that are not twin fields (`n`, `edge`, `state`), as
        the SDK reads every row as a twin and keeps only what it does not know as such."""
        queries = list(queries)
        if not queries:
            return []
        self._gateway._follow_share()
        self._admit(len(queries))
        return [self._rows(query) for query in queries]

    def _rows(self, query: str) -> list[dict]:
        gateway, rows, continuation, admit = self._gateway, [], None, _admitted
        while True:
            send = gateway._query_sender(gateway._interactive_manager(), query, continuation, 100)
            result = gateway._interactive_call("query", send, admit)
            rows += [dict(getattr(item, "additional_properties", None) or {}) for item in result.items or []]
            continuation, admit = result.continuation_token or None, gateway._limiters["query"].charge
            if not continuation:
                return rows

    def refusal_of(self, query: str) -> str | None:
        """Why IoT Hub refuses the query (its message), or None when it accepts it; the verdict
        is kept a while, so a group read again soon costs no query."""
        known, verdict = self._gateway._verdicts.get(query)
        if known:
            return verdict
        try:
            self.query_devices(query, None, 1)
            verdict = None
        except HubFailure as failure:
            if failure.code != INVALID_QUERY:
                raise
            verdict = failure.message
        self._gateway._verdicts.put(query, verdict)
        return verdict

    def _query(self, query: str, continuation: str | None, page_size: int, admit) -> DevicePage[DeviceSummary]:
        gateway = self._gateway
        send = gateway._query_sender(gateway._interactive_manager(), query, continuation, page_size)
        return _page(gateway._interactive_call("query", send, admit))


def _admitted(tokens: float) -> None:
    """Admission already given (for the whole of a multi-query check)."""


class _Verdicts:
    """IoT Hub's verdicts on queries, each kept `seconds`; the oldest go past MAX entries."""
    MAX = 2048

    def __init__(self, seconds: float, monotonic: Callable[[], float]):
        self._seconds, self._monotonic = seconds, monotonic
        self._entries: OrderedDict[str, tuple[float, str | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, query: str) -> tuple[bool, str | None]:
        with self._lock:
            entry = self._entries.get(query)
            if entry is None or entry[0] <= self._monotonic():
                return False, None
            return True, entry[1]

    def put(self, query: str, verdict: str | None) -> None:
        if self._seconds <= 0:
            return
        with self._lock:
            self._entries[query] = (self._monotonic() + self._seconds, verdict)
            self._entries.move_to_end(query)
            while len(self._entries) > self.MAX:
                self._entries.popitem(last=False)


def _budget(rate: float, burst_seconds: float, share: int, burst_part: float = 1,
            rate_part: float = 1) -> tuple[float, float]:
    """This process's rate, and its burst (`burst_seconds` of it), or the given parts of them (a
    burst of at least one call)."""
    mine = rate / share
    return mine * rate_part, max(1.0, mine * burst_seconds * burst_part)


def _page(result) -> DevicePage[DeviceSummary]:
    return DevicePage([_summary(twin) for twin in result.items or []], result.continuation_token or None)


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
    if status == 403 and code in (EXPORT_BUSY, "403001"):
        return HubFailure(EXPORT_BUSY, message, status)
    return HubFailure(HUB_ERROR, message, status)


def _failure_from_transport(error: Exception, idempotent: bool):
    text = f"{error} {getattr(error, 'inner_exception', '') or ''}"
    answered = _STATUS_IN_RETRY_ERROR.search(text)
    if answered:  # urllib3 turns a 5xx to a GET into this error, even with retries off
        status = int(answered.group(1))
        return _Retryable(HubFailure(HUB_ERROR, f"IoT Hub answered {status}", status))
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
                         connection_state=getattr(twin, "connection_state", None),
                         enabled=getattr(twin, "status", None) != "disabled", etag=getattr(twin, "etag", None))
