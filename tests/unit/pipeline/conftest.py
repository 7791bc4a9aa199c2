"""Fakes for the pipeline's plain functions: in-memory repositories, a scripted hub, queues that
keep their messages, a serial device pool."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from dispatcher.collaborators import Collaborators
from shared.domain.groups import DeviceGroup
from shared.domain.jobs import Job
from shared.domain.operations import Operation, OperationType
from shared.hub_gateway import DevicePage, DeviceSummary, HubFailure, MethodResult
from shared.messages import DispatchRequest, OutcomesReport, PlanRequest
from shared.repositories.in_memory import (InMemoryDeviceGroupRepository, InMemoryJobDeviceRepository,
                                           InMemoryJobRepository)

START = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
MODEL = "dtmi:contoso:RefrigeratedVendingMachine;1"


class FakeClock:
    def __init__(self):
        self.now = START
        self.seconds = 0.0

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def monotonic(self) -> float:
        return self.seconds


class FakeQueue:
    def __init__(self):
        self.sent: list[tuple[str, float]] = []

    def send(self, text: str, delay_seconds: float = 0) -> None:
        self.sent.append((text, delay_seconds))

    def take(self, model):
        texts, self.sent = [text for text, _ in self.sent], []
        return [model.from_text(text) for text in texts]


@dataclass
class FakeHub:
    """Devices by id; `failures[id] = HubFailure` makes every call to that device fail."""
    devices: dict[str, DeviceSummary] = field(default_factory=dict)
    failures: dict[str, HubFailure] = field(default_factory=dict)
    refuse_queries: bool = False
    calls: list[tuple] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    on_call: object = None  # called after each device call (tests stop the job from here)

    def add(self, device_id: str, model_id: str | None = MODEL, is_edge: bool = False) -> None:
        self.devices[device_id] = DeviceSummary(device_id, model_id, is_edge)

    def query_devices(self, query: str, continuation: str | None = None, page_size: int = 100) -> DevicePage:
        self.queries.append(query)
        if self.refuse_queries:
            raise HubFailure("InvalidQuery", "the query is not valid", 400)
        listed = re.search(r"deviceId IN \[(.*)\]", query)
        ids = sorted(self.devices)
        if listed:
            wanted = set(re.findall(r"'([^']*)'", listed.group(1)))
            ids = [device_id for device_id in ids if device_id in wanted]
        start = int(continuation or 0)
        page = ids[start:start + page_size]
        following = str(start + page_size) if start + page_size < len(ids) else None
        return DevicePage([self.devices[device_id] for device_id in page], following)

    def _device_call(self, *call) -> None:
        self.calls.append(call)
        if self.on_call:
            self.on_call(call)
        failure = self.failures.get(call[1])
        if failure:
            raise failure

    def patch_desired(self, device_id: str, desired: dict) -> None:
        self._device_call("desired", device_id, desired)

    def patch_tags(self, device_id: str, tags: dict) -> None:
        self._device_call("tags", device_id, tags)

    def invoke_method(self, device_id, method_name, payload=None, response_timeout=30, connect_timeout=0):
        self._device_call("method", device_id, method_name, payload, response_timeout, connect_timeout)
        return MethodResult(200, None)

    def calls_to(self, device_id: str) -> list[tuple]:
        return [call for call in self.calls if call[1] == device_id]


class SerialPool:
    def map(self, function, items):
        return [function(item) for item in items]


@dataclass
class Pipeline:
    c: Collaborators
    hub: FakeHub
    clock: FakeClock
    plan_queue: FakeQueue
    dispatch_queue: FakeQueue
    outcomes_queue: FakeQueue

    def with_changes(self, **changes) -> "Pipeline":
        from dataclasses import replace
        return Pipeline(replace(self.c, **changes), self.hub, self.clock, self.plan_queue, self.dispatch_queue,
                        self.outcomes_queue)


def property_op(path="fanSpeed", value=3, **more) -> Operation:
    return Operation(OperationType.PROPERTY, path, value, **more)


def command_op(path="reboot", value=None, **more) -> Operation:
    return Operation(OperationType.COMMAND, path, value, **more)


@pytest.fixture
def pipeline() -> Pipeline:
    clock, hub = FakeClock(), FakeHub()
    queues = FakeQueue(), FakeQueue(), FakeQueue()
    c = Collaborators(jobs=InMemoryJobRepository(), job_devices=InMemoryJobDeviceRepository(),
                      groups=InMemoryDeviceGroupRepository(), hub=hub, plan_queue=queues[0],
                      dispatch_queue=queues[1], outcomes_queue=queues[2], devices_pool=SerialPool(),
                      clock=clock, monotonic=clock.monotonic, plan_seconds=60, stall_seconds=30,
                      status_check_seconds=0)
    c.groups.save(DeviceGroup("vending", "Vending machines", "SELECT * FROM devices WHERE tags.type = 'vending'"))
    return Pipeline(c, hub, clock, *queues)


def add_devices(hub: FakeHub, count: int, prefix: str = "dev") -> list[str]:
    ids = [f"{prefix}-{index:05d}" for index in range(count)]
    for device_id in ids:
        hub.add(device_id)
    return ids


def pending_job(p: Pipeline, operations, job_id: str = "job-1", **optional) -> Job:
    job = Job.draft(job_id, "A job", "vending", list(operations), START, **optional)
    job.run(START)
    return p.c.jobs.add(job)


def run_job(p: Pipeline, job_id: str = "job-1") -> None:
    p.plan_queue.send(PlanRequest(job_id=job_id).to_text())  # as the API does
    run_until_quiet(p)


def run_until_quiet(p: Pipeline, redelivered: bool = False, limit: int = 1000) -> None:
    """Deliver every queued message (plan, dispatch, outcomes; watch messages are dropped) until
    the queues are empty."""
    from dispatcher.planning import plan_job
    from dispatcher.sending import send_batch
    from status_collector.collecting import collect_outcomes
    for _ in range(limit):
        plans = [request for request in p.plan_queue.take(PlanRequest) if not request.watch]
        dispatches = p.dispatch_queue.take(DispatchRequest)
        reports = p.outcomes_queue.take(OutcomesReport)
        if not (plans or dispatches or reports):
            return
        for request in plans:
            plan_job(request, p.c)
        for request in dispatches:
            send_batch(request, p.c, redelivered=redelivered)
        for report in reports:
            collect_outcomes(report, p.c.jobs, p.c.job_devices, p.clock())
    raise AssertionError("the pipeline never went quiet")
