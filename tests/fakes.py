"""The fakes the unit tests share: a clock, a queue that keeps its messages, a scripted hub, and
`collaborators()`, which builds a stage's Collaborators from in-memory stores and these."""
from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from shared.collaborators import Collaborators, SerialPool
from shared.domain.devices import DevicePage
from shared.hub_gateway import INVALID_QUERY, DeviceSummary, HubFailure, MethodResult
from shared.repositories.in_memory import (InMemoryDeviceGroupRepository, InMemoryJobDeviceRepository,
                                           InMemoryJobRepository, InMemoryScheduledJobRepository)
from shared.settings import Settings

START = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
MODEL = "dtmi:contoso:RefrigeratedVendingMachine;1"
_IN_LIST = re.compile(r"deviceId IN \[(.*)\]")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


class FakeClock:
    """Wall time that moves `step` on every reading, and monotonic seconds that move only when
    the test (or a caller's `sleep`) moves them."""

    def __init__(self, start: datetime = START, step: timedelta = timedelta(milliseconds=1)):
        self.now, self.step = start, step
        self.seconds = 0.0
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now

    def monotonic(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.seconds += seconds


class FakeQueue:
    """Keeps what is sent, with its delay; `broken` makes every send fail as if unreachable."""

    def __init__(self):
        self.sent: list[tuple[str, float]] = []
        self.broken = False

    def send(self, text: str, delay_seconds: float = 0) -> None:
        if self.broken:
            raise ConnectionError("queue service unreachable")
        self.sent.append((text, delay_seconds))

    @property
    def messages(self) -> list[str]:
        return [text for text, _ in self.sent]

    def take(self, model):
        texts, self.sent = self.messages, []
        return [model.from_text(text) for text in texts]


class FakeHub:
    """Devices by id, answering queries in id order, a page at a time (a `deviceId IN [...]`
    query answers the listed ones). `query_failure` fails every query; a query with `((` is one
    IoT Hub refuses as invalid; `failures[id]` makes every call to that device fail."""

    def __init__(self, devices: Iterable[DeviceSummary] = ()):
        self.devices = {device.device_id: device for device in devices}
        self.failures: dict[str, Exception] = {}
        self.query_failure: HubFailure | None = None
        self.calls: list[tuple] = []
        self.queries: list[str] = []
        self.on_call = None  # called after each device call (tests stop the job from here)
        self.desired_versions: dict[str, int] = {}  # the desired version each device's twin is at
        self.reported: dict[str, dict] = {}  # reported properties by device (tests write acknowledgements)
        self.reported_reads: list[str] = []

    def add(self, device_id: str, model_id: str | None = MODEL, is_edge: bool = False) -> None:
        self.devices[device_id] = DeviceSummary(device_id, model_id, is_edge)

    def query_devices(self, query: str, continuation: str | None = None,
                      page_size: int = 100) -> DevicePage[DeviceSummary]:
        self.queries.append(query)
        if self.query_failure:
            raise self.query_failure
        if "((" in query:
            raise HubFailure(INVALID_QUERY, "syntax error near ((", 400)
        ids = sorted(self.devices)
        listed = _IN_LIST.search(query)
        if listed:
            wanted = {_unquoted(text) for text in _QUOTED.findall(listed.group(1))}
            ids = [device_id for device_id in ids if device_id in wanted]
        start = int(continuation or 0)
        following = str(start + page_size) if start + page_size < len(ids) else None
        return DevicePage([self.devices[device_id] for device_id in ids[start:start + page_size]], following)

    def patch_desired(self, device_id: str, desired: dict) -> int:
        self._device_call("desired", device_id, desired)
        self.desired_versions[device_id] = self.desired_versions.get(device_id, 1) + 1
        return self.desired_versions[device_id]

    def reported_properties(self, device_id: str) -> dict | None:
        self.reported_reads.append(device_id)
        failure = self.failures.get(device_id)
        if failure:
            raise failure
        return self.reported.get(device_id, {}) if device_id in self.devices else None

    def acknowledge(self, device_id: str, name: str, ac: int = 200, ad: str = "completed") -> None:
        """The device answers for the desired version its twin is at."""
        self.reported.setdefault(device_id, {})[name] = {"value": None, "ac": ac,
                                                         "av": self.desired_versions.get(device_id, 1), "ad": ad}

    def patch_tags(self, device_id: str, tags: dict) -> None:
        self._device_call("tags", device_id, tags)

    def invoke_method(self, device_id, method_name, payload=None, response_timeout=30, connect_timeout=0):
        self._device_call("method", device_id, method_name, payload, response_timeout, connect_timeout)
        return MethodResult(200, None)

    def calls_to(self, device_id: str) -> list[tuple]:
        return [call for call in self.calls if call[1] == device_id]

    def _device_call(self, *call) -> None:
        self.calls.append(call)
        if self.on_call:
            self.on_call(call)
        failure = self.failures.get(call[1])
        if failure:
            raise failure


def _unquoted(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal)


def collaborators(**given) -> Collaborators:
    """In-memory stores, a FakeHub, FakeQueues, a serial pool and a FakeClock, unless given."""
    clock = given.pop("clock", None) or FakeClock()
    defaults = dict(jobs=InMemoryJobRepository(), job_devices=InMemoryJobDeviceRepository(),
                    groups=InMemoryDeviceGroupRepository(), scheduled_jobs=InMemoryScheduledJobRepository(),
                    hub=FakeHub(), plan_queue=FakeQueue(),
                    dispatch_queue=FakeQueue(), outcomes_queue=FakeQueue(), devices_pool=SerialPool(),
                    settings=Settings(), clock=clock, monotonic=getattr(clock, "monotonic", time.monotonic),
                    sleep=getattr(clock, "sleep", time.sleep))
    return Collaborators(**{**defaults, **given})

