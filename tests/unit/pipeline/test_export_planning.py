"""Planning from a registry export: the hub writes every device to a blob, the planner keeps the
group's, writes them in id order and sends each page as it is written."""
from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest

from shared.domain.devices import DeviceErrorCode, DeviceStatus
from shared.domain.groups import DeviceGroup
from shared.domain.jobs import JobStatus
from shared.hub_gateway import EXPORT_BUSY, ExportState, HubFailure
from shared.messages import DispatchRequest, PlanKind, PlanRequest
from shared.settings import Settings

from dispatcher import export_planning
from dispatcher.planning import plan_job
from dispatcher.export_planning import EXPORT_BUSY_WAIT, EXPORT_WAIT, PAGES_PER_TURN
from tests.unit.pipeline.conftest import MODEL, FakeHub, Pipeline, pending_job, property_op, run_until_quiet


class ExportStore:
    """The registry-exports container: blobs of lines."""

    def __init__(self):
        self.blobs: dict[str, list[bytes]] = {}

    def writable_url(self, now=None) -> str:
        return "https://storage/registry-exports?sas"

    def lines(self, blob_name: str):
        return iter(self.blobs[blob_name])

    def delete(self, blob_name: str) -> None:
        self.blobs.pop(blob_name, None)


class ExportingHub(FakeHub):
    """Exports its devices, tagged by `tags` (id → tags), in a shuffled order: IoT Hub gives none."""

    def __init__(self, store: ExportStore):
        super().__init__()
        self.store, self.tags = store, {}
        self.looks_until_written = 1
        self.busy = False
        self.outcome = "completed"
        self.exports: dict[str, int] = {}

    def export_devices(self, container_url: str, blob_name: str) -> str:
        if self.busy:
            raise HubFailure(EXPORT_BUSY, "Another job is running", 403)
        devices = list(self.devices.values())
        random.Random(7).shuffle(devices)
        self.store.blobs[blob_name] = [json.dumps({
            "id": d.device_id, "modelId": d.model_id, "status": "enabled", "tags": self.tags.get(d.device_id, {}),
            "properties": {"desired": {}, "reported": {}}, "capabilities": {"iotEdge": d.is_edge}}).encode()
            for d in devices]
        export_id = f"export-{len(self.exports) + 1}"
        self.exports[export_id] = self.looks_until_written
        return export_id

    def export_state(self, job_id: str) -> ExportState:
        self.exports[job_id] -= 1
        return ExportState("running") if self.exports[job_id] > 0 else ExportState(self.outcome, "it broke")


@pytest.fixture
def page_a_turn(monkeypatch):
    """Planning writes one page per turn, so each add_pending call is one page."""
    monkeypatch.setattr(export_planning, "PAGES_PER_TURN", 1)


@pytest.fixture
def exporting(pipeline) -> Pipeline:
    store = ExportStore()
    hub = ExportingHub(store)
    c = pipeline.c.__class__(**{**pipeline.c.__dict__, "hub": hub, "registry_exports": store,
                                "settings": Settings(plan_seconds_per_invocation=60, dispatch_stall_seconds=30,
                                                     dispatch_status_check_seconds=0)})
    return Pipeline(c, hub, pipeline.clock, pipeline.plan_queue, pipeline.dispatch_queue, pipeline.outcomes_queue)


def vending(p: Pipeline, count: int, other: int = 0) -> list[str]:
    ids = [f"dev-{index:05d}" for index in range(count + other)]
    for index, device_id in enumerate(ids):
        p.hub.add(device_id)
        p.hub.tags[device_id] = {"type": "vending" if index < count else "kiosk"}
    return ids[:count]


def plans(p: Pipeline) -> list[PlanRequest]:
    return [request for request in p.plan_queue.take(PlanRequest) if request.kind is not PlanKind.WATCH]


def deliver_plans(p: Pipeline, requests: list[PlanRequest]) -> None:
    for request in requests:
        plan_job(request, p.c)


def statuses(p: Pipeline) -> dict[str, DeviceStatus]:
    return {row.device_id: row.status for row in p.c.job_devices.iter_devices("job-1")}


def test_the_group_s_devices_are_planned_in_id_order_and_each_page_is_sent_as_it_is_written(exporting):
    ids = vending(exporting, 250, other=40)
    job = pending_job(exporting, [property_op()])
    plan_job(PlanRequest.plan(job), exporting.c)
    [look] = plans(exporting)
    assert look.kind is PlanKind.EXPORTED and exporting.c.job_devices.get_progress("job-1").total == 0
    exporting.hub.looks_until_written = 2
    plan_job(look, exporting.c)

    batches = exporting.dispatch_queue.take(DispatchRequest)
    assert [b.size for b in batches] == [98, 98, 54]
    assert [(b.first_device_id, b.last_device_id) for b in batches] == [
        (ids[0], ids[97]), (ids[98], ids[195]), (ids[196], ids[249])]
    stored = exporting.c.jobs.get("job-1")
    assert stored.status is JobStatus.RUNNING and stored.planned and not stored.planning
    assert exporting.c.job_devices.get_progress("job-1").total == 250  # the kiosks are not the group's
    assert exporting.c.registry_exports.blobs == {}  # read once, then deleted
    assert [query for query in exporting.hub.queries] == []  # no twin query at all


def test_sending_starts_with_the_first_page_and_the_job_ends_only_once_planning_is_done(exporting, page_a_turn):
    ids = vending(exporting, 350)
    job = pending_job(exporting, [property_op()])
    original_add = exporting.c.job_devices.add_pending

    def slow_add(*args, **kwargs):
        exporting.clock.seconds += 25  # three pages pass the 60 s budget
        return original_add(*args, **kwargs)

    exporting.c.job_devices.add_pending = slow_add
    plan_job(PlanRequest.plan(job), exporting.c)
    deliver_plans(exporting, plans(exporting))
    [carry_on] = plans(exporting)
    assert (carry_on.kind, carry_on.after) == (PlanKind.EXPORTED, ids[293])
    stored = exporting.c.jobs.get("job-1")
    assert stored.status is JobStatus.RUNNING and stored.planning  # running while it plans

    run_until_quiet(exporting)  # the planned pages are sent and their outcomes collected
    assert exporting.c.job_devices.get_progress("job-1").completed == 294
    assert exporting.c.jobs.get("job-1").status is JobStatus.RUNNING  # not ended: 56 devices to plan

    plan_job(carry_on, exporting.c)
    run_until_quiet(exporting)
    ended = exporting.c.jobs.get("job-1")
    assert ended.status is JobStatus.COMPLETED and not ended.planning
    assert exporting.c.job_devices.get_progress("job-1").as_dict() == {
        "total": 350, "pending": 0, "running": 0, "completed": 350, "failed": 0}
    assert sorted(call[1] for call in exporting.hub.calls) == ids  # each device once


def test_planning_writes_the_first_page_alone_then_many_pages_a_turn_each_sent_as_its_own_batch(exporting):
    count = 98 * (1 + PAGES_PER_TURN) + 50
    ids = vending(exporting, count)
    job = pending_job(exporting, [property_op()])
    original_add = exporting.c.job_devices.add_pending
    turns = []  # per call: how many devices, and how many batches were already sent

    def noting_add(job_id, device_ids, *args, **kwargs):
        turns.append((len(device_ids), len(exporting.dispatch_queue.sent)))
        return original_add(job_id, device_ids, *args, **kwargs)

    exporting.c.job_devices.add_pending = noting_add
    plan_job(PlanRequest.plan(job), exporting.c)
    deliver_plans(exporting, plans(exporting))
    assert turns == [(98, 0), (98 * PAGES_PER_TURN, 1), (50, 1 + PAGES_PER_TURN)]  # the first page is sent at once
    batches = exporting.dispatch_queue.take(DispatchRequest)
    assert [b.size for b in batches] == [98] * (1 + PAGES_PER_TURN) + [50]
    assert [(b.first_device_id, b.last_device_id) for b in batches] == [
        (ids[n], ids[min(n + 97, count - 1)]) for n in range(0, count, 98)]
    assert exporting.c.job_devices.get_progress("job-1").total == count


def test_devices_the_job_cannot_apply_to_fail_at_planning_and_are_not_sent_to(exporting):
    ids = vending(exporting, 5)
    exporting.hub.add(ids[2], is_edge=True)
    run = pending_job(exporting, [property_op()])
    plan_job(PlanRequest.plan(run), exporting.c)
    run_until_quiet(exporting)
    rows = {row.device_id: row for row in exporting.c.job_devices.iter_devices("job-1")}
    assert rows[ids[2]].error_code is DeviceErrorCode.EDGE_NOT_SUPPORTED
    assert ids[2] not in {call[1] for call in exporting.hub.calls}
    assert exporting.c.jobs.get("job-1").status is JobStatus.FAILED  # the end rule: one device failed


def test_a_stop_while_planning_then_a_resume_plans_the_rest_and_sends_each_device_once(exporting, page_a_turn):
    ids = vending(exporting, 300)
    job = pending_job(exporting, [property_op()])
    original_add = exporting.c.job_devices.add_pending

    def stop_after_the_second_page(job_id, device_ids, *args, **kwargs):
        written = original_add(job_id, device_ids, *args, **kwargs)
        if device_ids[0] == ids[98]:
            exporting.c.jobs.change("job-1", lambda j: j.stop(exporting.clock()))
            exporting.c.job_devices.add_pending = original_add  # once
        return written

    exporting.c.job_devices.add_pending = stop_after_the_second_page
    plan_job(PlanRequest.plan(job), exporting.c)
    run_until_quiet(exporting)
    stopped = exporting.c.jobs.get("job-1")
    assert stopped.status is JobStatus.STOPPED and exporting.c.job_devices.get_progress("job-1").total == 196

    exporting.c.jobs.change("job-1", lambda j: j.resume(exporting.clock()))
    assert exporting.c.jobs.get("job-1").status is JobStatus.PENDING  # its planning never finished
    exporting.plan_queue.send(PlanRequest.resume(exporting.c.jobs.get("job-1")).to_text())
    run_until_quiet(exporting)
    assert exporting.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert set(statuses(exporting).values()) == {DeviceStatus.COMPLETED} and len(statuses(exporting)) == 300
    assert sorted(call[1] for call in exporting.hub.calls) == ids


def test_a_job_with_rollout_batches_plans_every_device_before_it_sends(exporting):
    vending(exporting, 200)
    job = pending_job(exporting, [property_op()], batch={"type": "number", "value": 50})
    plan_job(PlanRequest.plan(job), exporting.c)
    deliver_plans(exporting, plans(exporting))
    batches = exporting.dispatch_queue.take(DispatchRequest)
    assert sum(b.size for b in batches) == 50  # only the first rollout batch, cut from all 200
    assert exporting.c.job_devices.get_progress("job-1").total == 200


def test_a_hub_busy_with_another_export_is_asked_again_then_planning_uses_queries(exporting):
    vending(exporting, 120)
    exporting.hub.busy = True
    job = pending_job(exporting, [property_op()])
    plan_job(PlanRequest.plan(job), exporting.c)
    [again] = plans(exporting)
    assert again.kind is PlanKind.PLAN and again.asked_at is not None
    exporting.clock.now += EXPORT_BUSY_WAIT
    plan_job(again, exporting.c)
    run_until_quiet(exporting)
    assert exporting.hub.queries  # planned by twin queries instead
    assert exporting.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert exporting.c.job_devices.get_progress("job-1").completed == 120


@pytest.mark.parametrize("how", ["failed", "too slow"])
def test_an_export_that_fails_or_takes_too_long_falls_back_to_queries(exporting, how):
    vending(exporting, 30)
    if how == "failed":
        exporting.hub.outcome = "failed"
    else:
        exporting.hub.looks_until_written = 10 ** 6
    job = pending_job(exporting, [property_op()])
    plan_job(PlanRequest.plan(job), exporting.c)
    [look] = plans(exporting)
    if how == "too slow":
        exporting.clock.now += EXPORT_WAIT
    plan_job(look, exporting.c)
    run_until_quiet(exporting)
    assert exporting.hub.queries and exporting.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert exporting.c.job_devices.get_progress("job-1").completed == 30
    assert exporting.c.registry_exports.blobs == {}


def test_a_filter_the_planner_cannot_evaluate_itself_is_planned_by_queries(exporting):
    vending(exporting, 10)
    exporting.c.groups.save(DeviceGroup("odd", "Odd ones", "SELECT * FROM devices WHERE STARTSWITH(deviceId, 'dev')"))
    job = pending_job(exporting, [property_op()])
    exporting.c.jobs.change("job-1", lambda j: setattr(j, "group_id", "odd"))
    plan_job(PlanRequest.plan(exporting.c.jobs.get("job-1")), exporting.c)
    assert exporting.hub.exports == {} and exporting.hub.queries
    assert job.id == "job-1"


@pytest.mark.parametrize("group_filter", ["SELECT * FROM devices WHERE $template = 'dtmi:x;1'",
                                          "SELECT * FROM devices WHERE connectionState = 'Connected'"])
def test_a_filter_on_what_an_export_lacks_is_planned_by_queries(exporting, group_filter):
    vending(exporting, 10)
    exporting.c.groups.save(DeviceGroup("vending", "Vending machines", group_filter))
    plan_job(PlanRequest.plan(pending_job(exporting, [property_op()])), exporting.c)
    assert exporting.hub.exports == {} and exporting.hub.queries


def test_an_operation_that_targets_a_model_is_planned_by_queries(exporting):
    vending(exporting, 10)
    plan_job(PlanRequest.plan(pending_job(exporting, [property_op(target=MODEL)])), exporting.c)
    assert exporting.hub.exports == {} and exporting.hub.queries  # the export does not say a device's model


def test_exports_off_plans_by_queries(exporting):
    vending(exporting, 10)
    off = exporting.with_changes(settings=Settings(plan_from_registry_export=False))
    job = pending_job(off, [property_op()])
    plan_job(PlanRequest.plan(job), off.c)
    assert exporting.hub.exports == {} and exporting.hub.queries


def test_the_watchdog_asks_again_for_the_planning_of_a_job_that_stalled_while_it_planned(exporting, page_a_turn):
    vending(exporting, 300)
    job = pending_job(exporting, [property_op()])
    original_add = exporting.c.job_devices.add_pending

    def slow_add(*args, **kwargs):
        exporting.clock.seconds += 35
        return original_add(*args, **kwargs)

    exporting.c.job_devices.add_pending = slow_add
    plan_job(PlanRequest.plan(job), exporting.c)
    deliver_plans(exporting, plans(exporting))
    lost = plans(exporting)  # the carrying-on message is lost
    assert [r.kind for r in lost] == [PlanKind.EXPORTED]
    exporting.c.job_devices.add_pending = original_add
    run_until_quiet(exporting)
    watch = PlanRequest.watch(exporting.c.jobs.get("job-1"), exporting.c.job_devices.get_progress("job-1").as_dict())
    exporting.clock.seconds += timedelta(seconds=60).total_seconds()
    plan_job(watch, exporting.c)
    run_until_quiet(exporting)
    assert exporting.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert exporting.c.job_devices.get_progress("job-1").completed == 300
