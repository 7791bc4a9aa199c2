"""A job's rollout rate through the pipeline, in simulated time: every queued message is delivered
when its delay has passed (the fake clock jumps there), and each hub call is noted with the time
it was made. The rate holds across steps, stops, resumes, duplicated and restarted chains, windows
and rollout batches; every device is sent to once and the counters add up."""
from __future__ import annotations

import heapq
import itertools
from datetime import timedelta

import pytest

from dispatcher.planning import plan_job, watch_job
from dispatcher.sending import send_batch
from shared.domain.jobs import JobStatus
from shared.domain.rollout_rate import batch_size
from shared.domain.schedules import MaintenanceWindow
from shared.hub_gateway import HubFailure
from shared.messages import DispatchRequest, OutcomesReport, PlanKind, PlanRequest
from shared.settings import Settings
from status_collector.collecting import collect_outcomes
from tests.fakes import START
from tests.unit.pipeline.conftest import add_devices, pending_job, property_op


class Timeline:
    """Delivers the pipeline's messages in the order they become visible, moving the clock."""

    def __init__(self, pipeline, duplicate_steps: bool = False):
        self.p, self.duplicate_steps = pipeline, duplicate_steps
        self.queued: list = []
        self.order = itertools.count()
        self.received: list[tuple[float, str]] = []  # (seconds since START, device id) per hub call
        self.on_receipt = None
        pipeline.hub.on_call = self._noted

    @property
    def now(self) -> float:
        return (self.p.clock.now - START).total_seconds()

    def _noted(self, call) -> None:
        self.received.append((self.now, call[1]))
        if self.on_receipt:
            self.on_receipt(len(self.received))

    def _gather(self) -> None:
        for name, queue in (("plan", self.p.plan_queue), ("dispatch", self.p.dispatch_queue),
                            ("outcomes", self.p.outcomes_queue)):
            for text, delay in queue.sent:
                heapq.heappush(self.queued, (self.now + delay, next(self.order), name, text))
            queue.sent = []

    def run(self, until: float = float("inf"), limit: int = 100_000) -> None:
        for _ in range(limit):
            self._gather()
            if not self.queued or self.queued[0][0] > until:
                return
            due, _, name, text = heapq.heappop(self.queued)
            self.p.clock.now = max(self.p.clock.now, START + timedelta(seconds=due))
            self.p.clock.seconds = max(self.p.clock.seconds, due)
            self._deliver(name, text)
        raise AssertionError("the pipeline never went quiet")

    def _deliver(self, name: str, text: str) -> None:
        if name == "plan":
            request = PlanRequest.from_text(text)
            for _ in range(2 if self.duplicate_steps and request.kind is PlanKind.DISPATCH_MORE else 1):
                plan_job(request, self.p.c)
        elif name == "dispatch":
            send_batch(DispatchRequest.from_text(text), self.p.c)
        else:
            collect_outcomes(OutcomesReport.from_text(text), self.p.c)

    def busiest_minute(self) -> int:
        """The most first receipts in any 60-second window."""
        firsts = sorted({device: at for at, device in reversed(self.received)}.values())
        return max(sum(1 for at in firsts[i:] if at < start + 60) for i, start in enumerate(firsts))

    def receipts_between(self, start: float, end: float) -> int:
        return sum(1 for at, _ in self.received if start <= at < end)


@pytest.fixture
def timeline(pipeline):
    pipeline.c = pipeline.with_changes(settings=Settings(dispatch_stall_seconds=900, dispatch_status_check_seconds=0)).c
    return Timeline(pipeline)


def start(p, count, rollout_rate, **optional) -> list[str]:
    ids = add_devices(p.hub, count)
    pending_job(p, [property_op()], rollout_rate=rollout_rate, **optional)
    p.plan_queue.send(PlanRequest.plan(p.c.jobs.get("job-1")).to_text())
    return ids


def assert_done_once_each(p, ids, completed=None):
    progress = p.c.job_devices.get_progress("job-1").as_dict()
    assert progress == {"total": len(ids), "pending": 0, "running": 0,
                        "completed": len(ids) if completed is None else completed,
                        "failed": 0 if completed is None else len(ids) - completed}
    assert sorted(call[1] for call in p.hub.calls) == sorted(ids)  # each device once


def test_a_maximum_per_minute_spreads_the_devices_over_the_minutes_in_small_batches(pipeline, timeline):
    ids = start(pipeline, 600, {"maximumPerMinute": 240})
    sizes = []
    original = pipeline.dispatch_queue.send
    pipeline.dispatch_queue.send = lambda text, delay_seconds=0: (
        sizes.append(DispatchRequest.from_text(text).size), original(text, delay_seconds))
    timeline.run()

    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert_done_once_each(pipeline, ids)
    assert max(sizes) == batch_size(240) == 4
    assert timeline.busiest_minute() <= 240 + 4
    last = max(at for at, _ in timeline.received)
    assert last >= (600 - 4) * 60 / 240  # 600 devices at 240 a minute: not sooner than 149 s
    assert timeline.receipts_between(0, 15) <= 60 + 4  # spread within the minute too


def test_a_job_without_a_rollout_rate_is_sent_in_full_batches_visible_at_its_fair_share_of_the_hub(pipeline, timeline):
    ids = add_devices(pipeline.hub, 300)
    pending_job(pipeline, [property_op()])
    plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
    # 98 devices a batch, visible at 1.25 x the 50 twin updates a second the hub allows the job alone
    assert [round(delay, 3) for _, delay in pipeline.dispatch_queue.sent] == [0, 1.568, 3.136, 4.704]
    timeline.run()
    assert_done_once_each(pipeline, ids)
    assert max(at for at, _ in timeline.received) < 6


def test_with_pacing_off_every_batch_is_visible_at_once(pipeline):
    add_devices(pipeline.hub, 300)
    unpaced = pipeline.with_changes(settings=Settings(hub_twin_updates_per_second=0, hub_method_units_per_second=0))
    pending_job(unpaced, [property_op()])
    plan_job(PlanRequest.plan(unpaced.c.jobs.get("job-1")), unpaced.c)
    assert [delay for _, delay in pipeline.dispatch_queue.sent] == [0, 0, 0, 0]


def test_a_ramp_on_notified_devices_starts_at_its_base_and_grows_up_to_the_maximum(pipeline, timeline):
    ids = start(pipeline, 700, {"maximumPerMinute": 480, "exponentialRate": {
        "baseRatePerMinute": 60, "incrementFactor": 2, "rateIncreaseCriteria": {"numberOfNotifiedDevices": 100}}})
    timeline.run()

    assert_done_once_each(pipeline, ids)
    firsts = sorted(at for at, _ in timeline.received)
    # The ramp: 100 at 60/min (100 s), 100 at 120/min (50 s), 100 at 240/min (25 s), then 480/min.
    assert firsts[99] >= 98 and firsts[100] < 101 + 2
    assert 148 <= firsts[200] <= 152 + 2 and 173 <= firsts[300] <= 177 + 2
    assert firsts[-1] == pytest.approx(175 + 400 * 60 / 480, abs=3)
    assert timeline.receipts_between(0, 60) <= 60 + 1
    assert timeline.busiest_minute() <= 480 + 8


def test_a_ramp_on_successes_does_not_grow_while_devices_fail(pipeline, timeline):
    ids = start(pipeline, 150, {"exponentialRate": {
        "baseRatePerMinute": 60, "incrementFactor": 4, "rateIncreaseCriteria": {"numberOfSucceededDevices": 10}}})
    for device_id in ids:
        pipeline.hub.failures[device_id] = HubFailure("DeviceRejected", "no", 400)
    timeline.run()

    assert_done_once_each(pipeline, ids, completed=0)
    assert timeline.busiest_minute() <= 60 + 1
    assert max(at for at, _ in timeline.received) >= 149 * 60 / 60


def test_stop_and_resume_keep_the_rate_and_the_old_chain_of_steps_ends(pipeline, timeline, caplog):
    ids = start(pipeline, 400, {"maximumPerMinute": 240})

    def stop_at_100(count):
        if count == 100:
            pipeline.c.jobs.change("job-1", lambda job: job.stop(pipeline.clock()))
    timeline.on_receipt = stop_at_100
    timeline.run(until=26)  # the 100th device is sent to at 25 s; the next step is due at 30 s
    assert pipeline.c.jobs.get("job-1").status is JobStatus.STOPPED
    timeline.on_receipt = None  # a quick resume: the stopped run's next step is still queued
    pipeline.c.jobs.change("job-1", lambda job: job.resume(pipeline.clock()))
    pipeline.plan_queue.send(PlanRequest.resume(pipeline.c.jobs.get("job-1")).to_text())
    with caplog.at_level("INFO", logger="dispatcher.planning"):
        timeline.run()

    assert "a pacing step of a run before a stop or resume; dropped" in caplog.text
    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert_done_once_each(pipeline, ids)
    assert timeline.busiest_minute() <= 240 + 4


def test_a_step_delivered_twice_does_not_double_the_rate(pipeline):
    pipeline.c = pipeline.with_changes(settings=Settings(dispatch_stall_seconds=900)).c
    timeline = Timeline(pipeline, duplicate_steps=True)
    ids = start(pipeline, 600, {"maximumPerMinute": 240})
    timeline.run()

    assert_done_once_each(pipeline, ids)
    assert timeline.busiest_minute() <= 240 + 2 * 4


def test_a_watchdog_recovery_beside_a_live_chain_does_not_double_the_rate(pipeline, timeline):
    ids = start(pipeline, 600, {"maximumPerMinute": 240})
    timeline.run(until=40)
    job = pipeline.c.jobs.get("job-1")
    look = PlanRequest.watch(job, pipeline.c.job_devices.get_progress("job-1").as_dict())
    watch_job(job, look, pipeline.c)  # counters as at the last look: taken for stalled, recovered
    timeline.run()

    assert_done_once_each(pipeline, ids)
    assert timeline.busiest_minute() <= 240 + 2 * 4


def test_a_paced_job_is_not_taken_for_stalled_at_the_lowest_rate(pipeline, caplog):
    pipeline.c = pipeline.with_changes(settings=Settings(dispatch_stall_seconds=900)).c
    timeline = Timeline(pipeline)
    ids = start(pipeline, 20, {"maximumPerMinute": 1})
    with caplog.at_level("WARNING", logger="dispatcher.planning"):
        timeline.run()  # 20 minutes: the watchdog looks at it every 900 s

    assert "made no progress" not in caplog.text
    assert_done_once_each(pipeline, ids)
    firsts = sorted(at for at, _ in timeline.received)
    assert all(later - earlier >= 59 for earlier, later in zip(firsts, firsts[1:]))


def test_in_a_closed_window_one_batch_waits_for_the_opening_and_the_rate_holds_from_there(pipeline, timeline):
    ids = start(pipeline, 300, {"maximumPerMinute": 240},
                maintenance_windows=(MaintenanceWindow("0 13 * * *", 30),), maintenance_time_zone="UTC")
    timeline.run(until=3599)
    assert pipeline.hub.calls == []
    assert pipeline.c.jobs.get("job-1").reason == "Waiting for the maintenance window at 2026-11-26T13:00:00Z"
    assert len(timeline.queued) <= 4  # one small batch and the next step (and the watchdog), not the job
    timeline.run()

    assert_done_once_each(pipeline, ids)
    assert min(at for at, _ in timeline.received) >= 3600
    assert timeline.busiest_minute() <= 240 + 2 * 4


def test_a_window_that_closes_holds_the_rest_of_the_job_until_it_opens_again(pipeline, timeline):
    ids = start(pipeline, 300, {"maximumPerMinute": 120},
                maintenance_windows=(MaintenanceWindow("0 12 * * *", 1), MaintenanceWindow("0 13 * * *", 30)),
                maintenance_time_zone="UTC")
    timeline.run()

    assert_done_once_each(pipeline, ids)
    in_first = [at for at, _ in timeline.received if at < 60 + 1]
    assert 100 <= len(in_first) <= 120 + 2  # a minute's worth, then nothing until 13:00
    assert all(at >= 3600 for at, _ in timeline.received if at >= 61)
    assert timeline.busiest_minute() <= 120 + 2 * 2


def test_rollout_batches_are_paced_one_after_the_other(pipeline, timeline):
    ids = start(pipeline, 250, {"maximumPerMinute": 240}, batch={"type": "number", "value": 100})
    timeline.run()

    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert_done_once_each(pipeline, ids)
    at = {device: when for when, device in timeline.received}
    assert max(at[d] for d in ids[:100]) <= min(at[d] for d in ids[100:200])
    assert max(at[d] for d in ids[100:200]) <= min(at[d] for d in ids[200:])
    assert timeline.busiest_minute() <= 240 + 4


def test_retries_keep_their_own_backoff_beside_the_rate_and_each_device_counts_once(pipeline, timeline):
    ids = start(pipeline, 300, {"maximumPerMinute": 240}, retry={
        "criteria": [{"failureType": "DeviceNotOnline", "numberOfRetries": 2}],
        "backoff": {"initialSeconds": 20, "maximumSeconds": 60}})
    offline, called = set(ids[::10]), set()
    for device_id in offline:
        pipeline.hub.failures[device_id] = HubFailure("DeviceNotOnline", "The device is not online.", 404)
    noted = timeline._noted

    def online_from_the_second_call(call):
        noted(call)
        if call[1] in called:
            pipeline.hub.failures.pop(call[1], None)
        called.add(call[1])
    pipeline.hub.on_call = online_from_the_second_call
    timeline.run()

    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert pipeline.c.job_devices.get_progress("job-1").as_dict() == {
        "total": 300, "pending": 0, "running": 0, "completed": 300, "failed": 0}
    for device_id in ids:
        times = [at for at, device in timeline.received if device == device_id]
        assert len(times) == (2 if device_id in offline else 1), device_id
        if device_id in offline:
            assert times[1] - times[0] >= 10, device_id  # the backoff (20 s, with jitter), not the rate
    assert timeline.busiest_minute() <= 240 + 4  # first attempts keep the rate; retries come on top
