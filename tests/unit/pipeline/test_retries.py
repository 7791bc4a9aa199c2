"""A job's `retry` through the pipeline: failed attempts go back to pending and are sent again
after the backoff, each device counts once, a report delivered twice changes nothing, and a
retry asked for by a delivery that died is asked for again by its redelivery."""
from __future__ import annotations

from collections import Counter

import pytest

from dispatcher.planning import plan_job
from dispatcher.sending import send_batch
from shared.domain.devices import DeviceErrorCode, DeviceOutcome, DeviceStatus
from shared.domain.errors import InvalidField
from shared.domain.jobs import Job, JobStatus
from shared.hub_gateway import HubFailure
from shared.messages import DispatchRequest, OutcomesReport, PlanRequest
from status_collector.collecting import collect_outcomes, send_retries
from tests.fakes import START
from tests.unit.pipeline.conftest import add_devices, command_op, pending_job, property_op, run_job

OFFLINE = HubFailure(DeviceErrorCode.DEVICE_NOT_ONLINE, "The device is not online.", 404)
REJECTED = HubFailure(DeviceErrorCode.DEVICE_REJECTED, "The device answered 500: busy", 500)


def retry(*criteria, initial=20, maximum=600):
    return {"criteria": [{"failureType": kind, "numberOfRetries": n} for kind, n in criteria],
            "backoff": {"initialSeconds": initial, "maximumSeconds": maximum}}


def fail_first_calls(hub, failure, device_ids, times=1):
    """These devices fail their first `times` calls, then answer."""
    calls = Counter()
    for device_id in device_ids:
        hub.failures[device_id] = failure

    def on_call(call):
        calls[call[1]] += 1
        if calls[call[1]] > times:
            hub.failures.pop(call[1], None)
    hub.on_call = on_call


def rows(pipeline, job_id="job-1"):
    return {row.device_id: row for row in pipeline.c.job_devices.iter_devices(job_id)}


def test_devices_offline_at_first_complete_on_a_retry_sent_after_the_backoff(pipeline):
    ids = add_devices(pipeline.hub, 10)
    fail_first_calls(pipeline.hub, OFFLINE, ids[:4])
    pending_job(pipeline, [command_op()], retry=retry(("DeviceNotOnline", 2), initial=20))
    plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
    (dispatch,) = pipeline.dispatch_queue.take(DispatchRequest)
    send_batch(dispatch, pipeline.c)
    (report,) = pipeline.outcomes_queue.take(OutcomesReport)
    collect_outcomes(report, pipeline.c)

    progress = pipeline.c.job_devices.get_progress("job-1")
    assert progress.as_dict() == {"total": 10, "pending": 4, "running": 0, "completed": 6, "failed": 0}
    waiting = rows(pipeline)
    assert {d: (waiting[d].status, waiting[d].attempts, waiting[d].error_code) for d in ids[:4]} == {
        d: (DeviceStatus.PENDING, 1, DeviceErrorCode.DEVICE_NOT_ONLINE) for d in ids[:4]}
    ((text, delay),) = pipeline.dispatch_queue.sent
    again = DispatchRequest.from_text(text)
    assert (again.first_device_id, again.last_device_id) == (ids[0], ids[3])
    assert 10 <= delay <= 20  # the first backoff, less its jitter

    pipeline.dispatch_queue.take(DispatchRequest)
    send_batch(again, pipeline.c)
    collect_outcomes(pipeline.outcomes_queue.take(OutcomesReport)[0], pipeline.c)
    done = rows(pipeline)
    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert {d: (done[d].status, done[d].attempts) for d in ids} == {
        **{d: (DeviceStatus.COMPLETED, 2) for d in ids[:4]}, **{d: (DeviceStatus.COMPLETED, 1) for d in ids[4:]}}
    assert Counter(call[1] for call in pipeline.hub.calls) == {**{d: 2 for d in ids[:4]}, **{d: 1 for d in ids[4:]}}


def test_retries_spent_fail_the_device_once_and_the_counters_add_up(pipeline):
    ids = add_devices(pipeline.hub, 5)
    fail_first_calls(pipeline.hub, OFFLINE, ids[:2], times=99)
    pending_job(pipeline, [property_op()], retry=retry(("all", 2)))
    run_job(pipeline)
    final = rows(pipeline)
    assert pipeline.c.jobs.get("job-1").status is JobStatus.FAILED
    assert pipeline.c.job_devices.get_progress("job-1").as_dict() == {
        "total": 5, "pending": 0, "running": 0, "completed": 3, "failed": 2}
    assert [(final[d].status, final[d].attempts, final[d].error_code) for d in ids[:2]] == [
        (DeviceStatus.FAILED, 3, DeviceErrorCode.DEVICE_NOT_ONLINE)] * 2


def test_a_rejected_command_is_not_retried_unless_listed_by_name(pipeline):
    ids = add_devices(pipeline.hub, 3)
    fail_first_calls(pipeline.hub, REJECTED, ids)
    pending_job(pipeline, [command_op()], retry=retry(("all", 3)))
    run_job(pipeline)
    assert len(pipeline.hub.calls) == 3
    assert {(row.status, row.attempts) for row in rows(pipeline).values()} == {(DeviceStatus.FAILED, 1)}

    pending_job(pipeline, [command_op()], job_id="job-2", retry=retry(("DeviceRejected", 1)))
    fail_first_calls(pipeline.hub, REJECTED, ids)
    run_job(pipeline, "job-2")
    assert pipeline.c.jobs.get("job-2").status is JobStatus.COMPLETED
    assert {(row.status, row.attempts) for row in rows(pipeline, "job-2").values()} == {(DeviceStatus.COMPLETED, 2)}


def test_a_command_that_timed_out_is_never_sent_again(pipeline):
    ids = add_devices(pipeline.hub, 2)
    fail_first_calls(pipeline.hub, HubFailure(DeviceErrorCode.TIMEOUT, "no answer", 504), ids)
    pending_job(pipeline, [command_op()], retry=retry(("all", 3)))
    run_job(pipeline)
    assert len(pipeline.hub.calls) == 2
    assert pipeline.c.job_devices.get_progress("job-1").failed == 2


def test_a_report_delivered_twice_counts_once_and_its_redelivery_asks_for_the_retry_again(pipeline):
    ids = add_devices(pipeline.hub, 3)
    fail_first_calls(pipeline.hub, OFFLINE, ids[:1])
    pending_job(pipeline, [command_op()], retry=retry(("DeviceNotOnline", 1)))
    plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
    send_batch(pipeline.dispatch_queue.take(DispatchRequest)[0], pipeline.c)
    (report,) = pipeline.outcomes_queue.take(OutcomesReport)

    pipeline.dispatch_queue.broken = True  # the collector dies after recording, before asking for the retry
    try:
        collect_outcomes(report, pipeline.c)
    except ConnectionError:
        pass
    pipeline.dispatch_queue.broken = False
    before = pipeline.c.job_devices.get_progress("job-1")
    collect_outcomes(report, pipeline.c)  # the host delivers the report again
    assert pipeline.c.job_devices.get_progress("job-1") == before
    assert before.as_dict() == {"total": 3, "pending": 1, "running": 0, "completed": 2, "failed": 0}
    (again,) = pipeline.dispatch_queue.take(DispatchRequest)
    assert (again.first_device_id, again.last_device_id) == (ids[0], ids[0])
    assert rows(pipeline)[ids[0]].attempts == 1

    send_batch(again, pipeline.c)
    collect_outcomes(pipeline.outcomes_queue.take(OutcomesReport)[0], pipeline.c)
    collect_outcomes(report, pipeline.c)  # the first report, late once more: the device is done
    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert (rows(pipeline)[ids[0]].status, rows(pipeline)[ids[0]].attempts) == (DeviceStatus.COMPLETED, 2)
    assert not pipeline.dispatch_queue.sent


def test_devices_waiting_for_a_retry_do_not_count_towards_the_cancellation_threshold(pipeline):
    ids = add_devices(pipeline.hub, 10)
    fail_first_calls(pipeline.hub, OFFLINE, ids[:5])
    pending_job(pipeline, [command_op()], retry=retry(("DeviceNotOnline", 1)),
                cancellation_threshold={"type": "number", "value": 2})
    run_job(pipeline)
    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED


def test_a_job_without_retry_fails_devices_at_once_as_before(pipeline):
    ids = add_devices(pipeline.hub, 3)
    fail_first_calls(pipeline.hub, OFFLINE, ids[:1])
    pending_job(pipeline, [command_op()])
    run_job(pipeline)
    assert len(pipeline.hub.calls) == 3
    assert pipeline.c.jobs.get("job-1").status is JobStatus.FAILED
    assert rows(pipeline)[ids[0]].attempts == 1


def test_a_command_that_ran_is_not_run_again_when_a_later_step_of_the_device_fails(pipeline):
    add_devices(pipeline.hub, 1)
    failed = []

    def reboot_offline_once(call):
        if call[0] == "method" and call[2] == "reboot" and not failed:
            failed.append(call)
            raise OFFLINE
    pipeline.hub.on_call = reboot_offline_once
    pending_job(pipeline, [command_op("install", {"package": "fw-2"}), command_op("reboot")],
                retry=retry(("DeviceNotOnline", 2), initial=1))
    run_job(pipeline)
    assert [call[2] for call in pipeline.hub.calls] == ["install", "reboot"]  # install once, no retry
    (row,) = rows(pipeline).values()
    assert (row.status, row.attempts, row.error_code) == (DeviceStatus.FAILED, 1, DeviceErrorCode.DEVICE_NOT_ONLINE)


def test_a_property_after_a_command_is_not_retried_either(pipeline):
    add_devices(pipeline.hub, 1)
    throttled = []

    def desired_throttled_once(call):
        if call[0] == "desired" and not throttled:
            throttled.append(call)
            raise HubFailure(DeviceErrorCode.THROTTLED, "IoT Hub kept throttling for 300 s", 429)
    pipeline.hub.on_call = desired_throttled_once
    pending_job(pipeline, [command_op("reboot"), property_op()], retry=retry(("all", 2), initial=1))
    run_job(pipeline)
    assert [call[0] for call in pipeline.hub.calls] == ["method", "desired"]


def test_retries_of_one_range_wait_for_the_longest_backoff_among_them(pipeline):
    report = OutcomesReport(job_id="job-1", incarnation="")
    waits = [DeviceOutcome("dev-a", False, DeviceErrorCode.DEVICE_NOT_ONLINE, "x", attempt=1, retry_in=10),
             DeviceOutcome("dev-b", False, DeviceErrorCode.DEVICE_NOT_ONLINE, "x", attempt=3, retry_in=300),
             DeviceOutcome("dev-c", False, DeviceErrorCode.DEVICE_NOT_ONLINE, "x", attempt=1, retry_in=10)]
    send_retries(report, waits, pipeline.c)
    ((text, delay),) = pipeline.dispatch_queue.sent
    assert (DispatchRequest.from_text(text).first_device_id, DispatchRequest.from_text(text).last_device_id,
            delay) == ("dev-a", "dev-c", 300)


def test_a_retry_that_could_never_apply_is_refused_naming_it():
    with pytest.raises(InvalidField) as refusal:
        Job.draft("j", "J", "vending", [command_op()], START, retry=retry(("DeviceNotOnline", 1), ("Timeout", 1)))
    assert refusal.value.field == "retry.criteria[1].failureType"


def test_a_rollout_batch_ends_once_its_retries_are_done_and_the_next_starts_after(pipeline):
    ids = add_devices(pipeline.hub, 20)
    fail_first_calls(pipeline.hub, OFFLINE, ids[:2])
    pending_job(pipeline, [command_op()], batch={"type": "number", "value": 10},
                retry=retry(("DeviceNotOnline", 1), initial=1))
    run_job(pipeline)
    calls = [call[1] for call in pipeline.hub.calls]
    retried_at = max(index for index, device_id in enumerate(calls) if device_id == ids[0])
    assert calls.count(ids[0]) == calls.count(ids[1]) == 2
    assert retried_at < min(calls.index(device_id) for device_id in ids[10:])  # batch 2 after batch 1's retries
    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert pipeline.c.job_devices.get_progress("job-1").completed == 20
