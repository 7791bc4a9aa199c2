"""The pipeline's plain functions over in-memory repositories, a scripted hub, queues that
keep their messages and a serial device pool (tests/fakes.py)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from shared.collaborators import Collaborators
from shared.domain.groups import DeviceGroup
from shared.domain.jobs import Job
from shared.domain.operations import Operation, OperationType
from shared.messages import DispatchRequest, OutcomesReport, PlanKind, PlanRequest
from shared.settings import Settings
from tests.fakes import MODEL, START, FakeClock, FakeHub, FakeQueue, collaborators  # noqa: F401 - used by tests


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
    c = collaborators(hub=hub, plan_queue=queues[0], dispatch_queue=queues[1], outcomes_queue=queues[2],
                      clock=clock, settings=Settings(plan_seconds_per_invocation=60, dispatch_stall_seconds=30,
                                                     dispatch_status_check_seconds=0))
    c.groups.save(DeviceGroup("vending", "Vending machines", "SELECT * FROM devices WHERE tags.type = 'vending'"))
    return Pipeline(c, hub, clock, *queues)


def add_devices(hub: FakeHub, count: int, prefix: str = "dev") -> list[str]:
    ids = [f"{prefix}-{index:05d}" for index in range(count)]
    for device_id in ids:
        hub.add(device_id)
    return ids


def pending_job(p: Pipeline, operations, job_id: str = "job-1", **optional) -> Job:
    """A pending job; its incarnation is the one the repositories assume when a test writes rows
    itself (""), unless one is given."""
    job = Job.draft(job_id, "A job", "vending", list(operations), START, **{"incarnation": "", **optional})
    job.run(START)
    return p.c.jobs.add(job)


def run_job(p: Pipeline, job_id: str = "job-1") -> None:
    p.plan_queue.send(PlanRequest.plan(p.c.jobs.get(job_id)).to_text())  # as the API does
    run_until_quiet(p)


def run_until_quiet(p: Pipeline, redelivered: bool = False, limit: int = 1000) -> None:
    """Deliver every queued message (plan, dispatch, outcomes; watch messages are dropped) until
    the queues are empty."""
    from dispatcher.planning import plan_job
    from dispatcher.sending import send_batch
    from status_collector.collecting import collect_outcomes
    for _ in range(limit):
        plans = [request for request in p.plan_queue.take(PlanRequest) if request.kind is not PlanKind.WATCH]
        dispatches = p.dispatch_queue.take(DispatchRequest)
        reports = p.outcomes_queue.take(OutcomesReport)
        if not (plans or dispatches or reports):
            return
        for request in plans:
            plan_job(request, p.c)
        for request in dispatches:
            send_batch(request, p.c, redelivered=redelivered)
        for report in reports:
            collect_outcomes(report, p.c)
    raise AssertionError("the pipeline never went quiet")
