"""The sender and the watchdog with a job's maintenance windows: outside every window no device
is started, the batch stays pending and its dispatch message waits for the next opening; a
device started before the window closes finishes; waiting is not a stall."""
from datetime import timedelta

from shared.domain.devices import DeviceStatus
from shared.domain.jobs import JobStatus
from shared.domain.schedules import MaintenanceWindow
from shared.messages import DispatchRequest, OutcomesReport, PlanKind, PlanRequest

from dispatcher.planning import plan_job
from dispatcher.sending import MAX_WAIT_SECONDS, send_batch
from tests.fakes import START
from tests.unit.pipeline.conftest import add_devices, command_op, pending_job, property_op, run_until_quiet

# START is Thursday 26 November 2026, 12:00 UTC.
OPEN_NOW = MaintenanceWindow("0 12 * * *", 60)  # 12:00-13:00 UTC
OPENS_AT_ONE = MaintenanceWindow("0 13 * * *", 30)  # 13:00-13:30 UTC
ONE = START + timedelta(hours=1)


def planned(p, count, operations, windows, zone="UTC"):
    add_devices(p.hub, count)
    pending_job(p, operations, maintenance_windows=tuple(windows), maintenance_time_zone=zone)
    plan_job(PlanRequest.plan(p.c.jobs.get("job-1")), p.c)
    p.plan_queue.sent.clear()
    return p.dispatch_queue.take(DispatchRequest)


def statuses(p):
    return {row.device_id: row.status for row in p.c.job_devices.iter_devices("job-1")}


def test_outside_every_window_nothing_is_sent_and_the_batch_waits_for_the_next_opening(pipeline):
    (batch,) = planned(pipeline, 5, [property_op()], [OPENS_AT_ONE])
    before = pipeline.c.jobs.get("job-1")
    result = send_batch(batch, pipeline.c)

    assert result.waiting and (result.sent, result.released) == (0, 0)
    assert pipeline.hub.calls == [] and pipeline.outcomes_queue.sent == []
    assert set(statuses(pipeline).values()) == {DeviceStatus.PENDING}  # not claimed, not failed
    ((text, delay),) = pipeline.dispatch_queue.sent
    assert DispatchRequest.from_text(text) == batch
    assert ONE - timedelta(seconds=1) <= pipeline.clock.now + timedelta(seconds=delay) <= ONE + timedelta(seconds=1)
    job = pipeline.c.jobs.get("job-1")
    assert (job.status, job.reason) == (JobStatus.RUNNING, "Waiting for the maintenance window at 2026-11-26T13:00:00Z")
    assert job.last_modified == before.last_modified  # the watchdog's chain goes on


def test_the_window_s_time_zone_decides_when_it_opens(pipeline):
    berlin = MaintenanceWindow("0 14 * * *", 30)  # 14:00 in Berlin is 13:00 UTC in November
    (batch,) = planned(pipeline, 2, [property_op()], [berlin], zone="Europe/Berlin")
    send_batch(batch, pipeline.c)
    assert pipeline.hub.calls == []
    assert pipeline.c.jobs.get("job-1").reason.endswith("2026-11-26T13:00:00Z")


def test_when_the_window_opens_the_batch_is_sent_and_the_reason_goes(pipeline):
    (batch,) = planned(pipeline, 5, [property_op()], [OPENS_AT_ONE])
    send_batch(batch, pipeline.c)
    (waiting,) = pipeline.dispatch_queue.take(DispatchRequest)
    pipeline.clock.now = ONE  # the message becomes visible
    result = send_batch(waiting, pipeline.c)
    assert (result.sent, result.waiting) == (5, False)
    assert pipeline.c.jobs.get("job-1").reason is None
    run_until_quiet(pipeline)
    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert sorted(call[1] for call in pipeline.hub.calls) == [f"dev-{i:05d}" for i in range(5)]  # each once


def test_a_window_that_closes_mid_batch_lets_the_device_in_flight_finish_and_gives_the_rest_back(pipeline):
    (batch,) = planned(pipeline, 6, [command_op()], [OPEN_NOW])

    def window_closes_during_the_second_device(call):
        if len(pipeline.hub.calls) == 2:
            pipeline.clock.now = START + timedelta(hours=1, seconds=1)  # 13:00:01: closed

    pipeline.hub.on_call = window_closes_during_the_second_device
    result = send_batch(batch, pipeline.c)

    assert (result.sent, result.released, result.waiting) == (2, 4, True)
    (report,) = pipeline.outcomes_queue.take(OutcomesReport)
    assert [outcome.error_code for outcome in report.outcomes] == [None, None]  # finished, counted
    assert list(statuses(pipeline).values()).count(DeviceStatus.PENDING) == 4  # released, not failed
    ((text, delay),) = pipeline.dispatch_queue.sent
    assert DispatchRequest.from_text(text) == batch
    assert timedelta(seconds=delay) > timedelta(hours=22)  # tomorrow's 12:00
    assert pipeline.c.jobs.get("job-1").reason == "Waiting for the maintenance window at 2026-11-27T12:00:00Z"


def test_a_job_stopped_while_the_window_is_closed_is_left_for_its_resume(pipeline):
    (batch,) = planned(pipeline, 3, [property_op()], [OPENS_AT_ONE])
    send_batch(batch, pipeline.c)
    job = pipeline.c.jobs.get("job-1")
    job.stop(pipeline.clock())
    pipeline.c.jobs.update(job)
    assert pipeline.c.jobs.get("job-1").reason is None  # a stopped job waits for its resume
    (waiting,) = pipeline.dispatch_queue.take(DispatchRequest)
    pipeline.clock.now = ONE
    assert send_batch(waiting, pipeline.c).sent == 0 and pipeline.hub.calls == []


def test_a_wait_beyond_the_queue_s_longest_delay_waits_again_then(pipeline):
    yearly = MaintenanceWindow("0 3 1 1 *", 60)  # 1 January, 03:00
    (batch,) = planned(pipeline, 1, [property_op()], [yearly])
    send_batch(batch, pipeline.c)
    ((_, delay),) = pipeline.dispatch_queue.sent
    assert delay == MAX_WAIT_SECONDS < 7 * 24 * 3600
    assert pipeline.c.jobs.get("job-1").reason == "Waiting for the maintenance window at 2027-01-01T03:00:00Z"


def test_a_redelivered_batch_in_a_closed_window_resolves_its_dead_sender_s_devices_and_waits_with_the_rest(pipeline):
    (batch,) = planned(pipeline, 4, [property_op()], [OPEN_NOW])
    pipeline.c.job_devices.claim("job-1", batch.batch, pipeline.clock(), "message-a")  # then the sender died
    pipeline.clock.now = START + timedelta(hours=2)  # 14:00: closed until tomorrow's 12:00
    result = send_batch(batch, pipeline.c, redelivered=True, delivery_id="message-a")
    assert result.waiting and pipeline.hub.calls == []
    # Property writes only: the dead sender's rows are released to pending and sent again, in the next window.
    assert set(statuses(pipeline).values()) == {DeviceStatus.PENDING}
    (waiting,) = pipeline.dispatch_queue.take(DispatchRequest)
    pipeline.clock.now = START + timedelta(days=1)
    pipeline.dispatch_queue.send(waiting.to_text())
    run_until_quiet(pipeline)
    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert sorted(call[1] for call in pipeline.hub.calls) == [f"dev-{i:05d}" for i in range(4)]  # each once


def test_jobs_without_windows_send_as_before(pipeline):
    (batch,) = planned(pipeline, 3, [property_op()], [])
    result = send_batch(batch, pipeline.c)
    assert (result.sent, result.waiting) == (3, False) and pipeline.dispatch_queue.sent == []


def look(p):
    """The watchdog's next look, a stall period after the last one; the dispatch messages it sent."""
    (watch,) = [r for r in p.plan_queue.take(PlanRequest) if r.kind is PlanKind.WATCH]
    p.clock.now += timedelta(seconds=p.c.settings.dispatch_stall_seconds)
    plan_job(watch, p.c)
    return p.dispatch_queue.take(DispatchRequest)


class TestWatchdog:
    def test_a_job_waiting_for_its_window_is_not_taken_for_stalled(self, pipeline):
        add_devices(pipeline.hub, 3)
        pending_job(pipeline, [command_op()], maintenance_windows=(OPENS_AT_ONE,))
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        for batch in pipeline.dispatch_queue.take(DispatchRequest):
            send_batch(batch, pipeline.c)
        pipeline.dispatch_queue.sent.clear()  # the batch waits for 13:00
        assert [look(pipeline) for _ in range(4)] == [[]] * 4  # counters unchanged for 2 minutes, closed all along
        assert pipeline.c.jobs.get("job-1").status is JobStatus.RUNNING

    def test_counters_that_do_not_move_while_a_window_is_open_are_a_stall(self, pipeline):
        add_devices(pipeline.hub, 3)
        pending_job(pipeline, [property_op()], maintenance_windows=(OPEN_NOW,))
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        pipeline.dispatch_queue.sent.clear()  # its dispatch message is lost
        assert look(pipeline) == []  # first look: remembers the counters
        assert len(look(pipeline)) == 1  # nothing moved, open all along: the pending devices batched again

    def test_a_window_that_opened_since_the_last_look_is_given_a_whole_period(self, pipeline):
        add_devices(pipeline.hub, 3)
        opens_soon = MaintenanceWindow("1 12 * * *", 60)  # 12:01
        pending_job(pipeline, [property_op()], maintenance_windows=(opens_soon,))
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        pipeline.dispatch_queue.sent.clear()
        pipeline.clock.now = START + timedelta(seconds=20)
        assert look(pipeline) == []  # 12:00:50: first look
        assert look(pipeline) == []  # 12:01:20: nothing moved, but open only since 12:01
        assert len(look(pipeline)) == 1  # 12:01:50: open for the whole period, nothing moved: recovered
