"""Timer triggers: NCRONTAB schedules, runOnStartup, the useMonitor status blob and past-due runs."""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import socket
from datetime import datetime, timezone
from pathlib import Path

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.functions.timer import TimerRequest
from azure.storage.blob.aio import ContainerClient

from .app_loader import FunctionInfo
from .invoker import Invoker, InvocationResult
from .ncrontab import NCrontabSchedule
from .settings import expand_settings, parse_timespan

log = logging.getLogger("local.functions_host")

STATUS_CONTAINER = "azure-webjobs-hosts"
NEVER = "0001-01-01T00:00:00"  # .NET's default DateTime, what the host writes before the first run
SCHEDULE = {"AdjustForDST": True}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def default_host_id(app_dir: Path, environ) -> str:
    """AzureFunctionsWebHost__hostid, else machine name plus a hash of the app path (<= 32 chars)."""
    if environ.get("AzureFunctionsWebHost__hostid"):
        return environ["AzureFunctionsWebHost__hostid"]
    digest = hashlib.sha1(str(app_dir.resolve()).encode()).hexdigest()[:8]
    machine = re.sub(r"[^a-z0-9]+", "-", socket.gethostname().lower()).strip("-")[:23] or "host"
    return f"{machine}-{digest}"


def timer_request(past_due: bool, status: dict | None) -> TimerRequest:
    return TimerRequest(past_due=past_due, schedule=dict(SCHEDULE), schedule_status=status)


def schedule_of(function: FunctionInfo, environ) -> NCrontabSchedule:
    """The function's schedule with %Setting% expanded; TimeSpan schedules are not supported."""
    return NCrontabSchedule(expand_settings(function.trigger.schedule, environ))


class ScheduleMonitor:
    """The status blob `timers/{hostId}/{function}/status` in container azure-webjobs-hosts."""

    def __init__(self, connection_string: str, host_id: str) -> None:
        self._container = ContainerClient.from_connection_string(connection_string, STATUS_CONTAINER)
        self.host_id = host_id

    def blob_name(self, function_name: str) -> str:
        return f"timers/{self.host_id}/{function_name}/status"

    async def read(self, function_name: str) -> dict | None:
        try:
            download = await self._container.download_blob(self.blob_name(function_name))
            return json.loads(await download.readall())
        except ResourceNotFoundError:
            return None

    async def write(self, function_name: str, status: dict) -> None:
        try:
            await self._container.create_container()
        except ResourceExistsError:
            pass
        await self._container.upload_blob(self.blob_name(function_name), json.dumps(status), overwrite=True)

    async def close(self) -> None:
        await self._container.close()


class TimerScheduler:
    """One timer function. Invocations run one at a time, so a slow run makes the next
    occurrence wait instead of overlapping (the host's singleton behaviour)."""

    def __init__(self, function: FunctionInfo, schedule: NCrontabSchedule, invoker: Invoker,
                 monitor: ScheduleMonitor | None, clock=utc_now) -> None:
        self.function, self.schedule, self.invoker, self.monitor = function, schedule, invoker, monitor
        self.clock = clock
        self.status: dict | None = None
        self._firing: asyncio.Future | None = None

    async def run(self) -> None:
        try:
            past_due = await self._check_past_due()
        except Exception as error:  # storage trouble must not stop the schedule
            log.warning("Could not check whether %s is past due: %s", self.function.name, error)
            past_due = False
        if past_due or self.function.trigger.run_on_startup:
            await self._fire(self.clock(), past_due)
        last = self.clock()
        while True:
            occurrence = self.schedule.next_after(max(self.clock(), last))
            await asyncio.sleep(max(0.0, (occurrence - self.clock()).total_seconds()))
            await self._fire(occurrence, past_due=False)
            last = occurrence

    async def _check_past_due(self) -> bool:
        """ScheduleMonitor.CheckPastDueAsync: past due when now is after the recorded Next."""
        if self.monitor is None:
            return False
        now = self.clock()
        self.status = await self.monitor.read(self.function.name)
        if self.status is None or self._schedule_changed():
            last = self.status["Last"] if self.status else NEVER
            self.status = {"Last": last, "Next": format_time(self.schedule.next_after(now)),
                           "LastUpdated": format_time(now)}
            await self.monitor.write(self.function.name, self.status)
            return False
        return now > datetime.fromisoformat(self.status["Next"])

    def _schedule_changed(self) -> bool:
        if self.status.get("Last", NEVER).startswith("0001-"):
            return False
        expected = self.schedule.next_after(datetime.fromisoformat(self.status["Last"]))
        return expected != datetime.fromisoformat(self.status["Next"])

    async def _fire(self, occurrence: datetime, past_due: bool) -> None:
        # shielded: stopping the schedule lets a running invocation finish and record its status
        self._firing = asyncio.ensure_future(self._fire_once(occurrence, past_due))
        await asyncio.shield(self._firing)

    async def drain(self, timeout: float) -> None:
        if self._firing is not None and not self._firing.done():
            await asyncio.wait([self._firing], timeout=timeout)

    async def _fire_once(self, occurrence: datetime, past_due: bool) -> None:
        await invoke_with_retry(self.invoker, self.function, timer_request(past_due, self.status))
        now = self.clock()
        self.status = {"Last": format_time(occurrence), "Next": format_time(self.schedule.next_after(now)),
                       "LastUpdated": format_time(now)}
        if self.monitor is not None:
            try:
                await self.monitor.write(self.function.name, self.status)
            except Exception as error:
                log.warning("Could not write the timer status of %s: %s", self.function.name, error)


async def invoke_with_retry(invoker: Invoker, function: FunctionInfo, timer: TimerRequest) -> InvocationResult:
    """Runs once, or per the function's @retry policy (kept in memory, as the host does)."""
    policy = function.retry or {}
    max_retries = int(policy.get("max_retry_count", 0))
    attempt = 0
    while True:
        result = await invoker.invoke(function, timer, "timer", attempt, max_retries)
        if result.succeeded or (max_retries != -1 and attempt >= max_retries):
            return result
        await asyncio.sleep(retry_delay(policy, attempt))
        attempt += 1


def retry_delay(policy: dict, attempt: int) -> float:
    if policy.get("strategy") == "exponential_backoff":
        minimum = parse_timespan(policy.get("minimum_interval", "00:00:01"))
        maximum = parse_timespan(policy.get("maximum_interval", "00:15:00"))
        return min(minimum * 2 ** attempt, maximum)
    return parse_timespan(policy.get("delay_interval", "00:00:00"))
