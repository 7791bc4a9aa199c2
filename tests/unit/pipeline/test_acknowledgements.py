"""Acknowledged completion through the pipeline: a written property keeps its device running
until the device acknowledges the desired version written; a rejection fails it with the
device's words, silence past the timeout with Timeout; replays change nothing."""
from __future__ import annotations

from datetime import timedelta

import pytest

from dispatcher.planning import plan_job, watch_job
from dispatcher.sending import send_batch
from shared.domain.devices import DeviceErrorCode, DeviceStatus
from shared.domain.errors import InvalidField
from shared.domain.jobs import Job, JobStatus
from shared.hub_gateway import HubFailure
from shared.messages import DispatchRequest, OutcomesReport, PlanRequest
from status_collector.collecting import collect_outcomes
from tests.fakes import START
from tests.unit.pipeline.conftest import add_devices, pending_job, property_op

ACKNOWLEDGED = property_op("fanSpeed", 3, completion="acknowledged")


def rows(pipeline, job_id="job-1"):
    return {row.device_id: row for row in pipeline.c.job_devices.iter_devices(job_id)}


def write_all(pipeline, **job):
    """Plan, send and collect: every device written, none checked yet."""
    pending_job(pipeline, [ACKNOWLEDGED], **job)
    plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
    for dispatch in pipeline.dispatch_queue.take(DispatchRequest):
        send_batch(dispatch, pipeline.c)
    for report in pipeline.outcomes_queue.take(OutcomesReport):
        collect_outcomes(report, pipeline.c)


def look(pipeline):
    """Deliver the pending acknowledgement checks and their reports; the checks sent again, with delays."""
    for check in pipeline.dispatch_queue.take(DispatchRequest):
        assert check.acknowledgements
        send_batch(check, pipeline.c)
    for report in pipeline.outcomes_queue.take(OutcomesReport):
        collect_outcomes(report, pipeline.c)
    return list(pipeline.dispatch_queue.sent)


def test_a_written_property_waits_for_the_acknowledgement_of_its_version(pipeline):
    ids = add_devices(pipeline.hub, 3)
    write_all(pipeline)
    written = rows(pipeline)
    assert {(row.status, row.awaiting_version) for row in written.values()} == {(DeviceStatus.RUNNING, 2)}
    assert pipeline.c.job_devices.get_progress("job-1").running == 3
    ((text, delay),) = pipeline.dispatch_queue.sent
    assert DispatchRequest.from_text(text).acknowledgements and delay == 5

    pipeline.hub.acknowledge(ids[0], "fanSpeed")
    pipeline.hub.reported[ids[1]] = {"fanSpeed": {"value": 1, "ac": 200, "av": 1, "ad": "an older write"}}
    again = look(pipeline)
    assert [DispatchRequest.from_text(text).first_device_id for text, _ in again] == [ids[1]]
    assert (rows(pipeline)[ids[0]].status, rows(pipeline)[ids[0]].attempts) == (DeviceStatus.COMPLETED, 1)
    assert pipeline.c.jobs.get("job-1").status is JobStatus.RUNNING

    pipeline.hub.acknowledge(ids[1], "fanSpeed")
    pipeline.hub.acknowledge(ids[2], "fanSpeed", ac=400, ad="rejected: out of range 0..5")
    assert look(pipeline) == []
    final = rows(pipeline)
    assert final[ids[1]].status is DeviceStatus.COMPLETED
    assert (final[ids[2]].status, final[ids[2]].error_code, final[ids[2]].error_message) == (
        DeviceStatus.FAILED, DeviceErrorCode.DEVICE_REJECTED,
        "The device rejected fanSpeed (ac 400): rejected: out of range 0..5")
    assert pipeline.c.jobs.get("job-1").status is JobStatus.FAILED
    assert pipeline.c.job_devices.get_progress("job-1").as_dict() == {
        "total": 3, "pending": 0, "running": 0, "completed": 2, "failed": 1}
    assert len(pipeline.hub.calls) == 3  # each device written once


def test_in_progress_or_start_up_answers_are_no_answer_and_silence_past_the_timeout_is_a_timeout(pipeline):
    ids = add_devices(pipeline.hub, 2)
    write_all(pipeline, timeout={"inProgressMinutes": 2})
    pipeline.hub.acknowledge(ids[0], "fanSpeed", ac=202, ad="in progress")
    assert len(look(pipeline)) == 1
    pipeline.clock.now += timedelta(minutes=2)
    pipeline.dispatch_queue.sent = [(text, 0) for text, _ in pipeline.dispatch_queue.sent]
    look(pipeline)
    final = rows(pipeline)
    assert {(row.status, row.error_code) for row in final.values()} == {(DeviceStatus.FAILED, DeviceErrorCode.TIMEOUT)}
    assert final[ids[0]].error_message == "The device did not acknowledge desired version 2 within 2 minutes."
    assert pipeline.c.jobs.get("job-1").status is JobStatus.FAILED


def test_a_rejection_is_tried_again_when_the_jobs_retry_lists_it(pipeline):
    (device,) = add_devices(pipeline.hub, 1)
    write_all(pipeline, retry={"criteria": [{"failureType": "DeviceRejected", "numberOfRetries": 1}],
                               "backoff": {"initialSeconds": 1}})
    pipeline.hub.acknowledge(device, "fanSpeed", ac=500, ad="busy")
    (retry,) = look(pipeline)
    assert not DispatchRequest.from_text(retry[0]).acknowledgements
    assert (rows(pipeline)[device].status, rows(pipeline)[device].attempts) == (DeviceStatus.PENDING, 1)
    send_batch(pipeline.dispatch_queue.take(DispatchRequest)[0], pipeline.c)
    collect_outcomes(pipeline.outcomes_queue.take(OutcomesReport)[0], pipeline.c)
    assert rows(pipeline)[device].awaiting_version == 3  # the second write
    pipeline.hub.acknowledge(device, "fanSpeed")
    look(pipeline)
    assert (rows(pipeline)[device].status, rows(pipeline)[device].attempts) == (DeviceStatus.COMPLETED, 2)


def test_replayed_reports_and_checks_count_once_and_a_lost_first_check_is_sent_again(pipeline):
    ids = add_devices(pipeline.hub, 2)
    pending_job(pipeline, [ACKNOWLEDGED])
    plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
    send_batch(pipeline.dispatch_queue.take(DispatchRequest)[0], pipeline.c)
    (report,) = pipeline.outcomes_queue.take(OutcomesReport)
    pipeline.dispatch_queue.broken = True  # recorded, then the check could not be sent
    try:
        collect_outcomes(report, pipeline.c)
    except ConnectionError:
        pass
    pipeline.dispatch_queue.broken = False
    collect_outcomes(report, pipeline.c)
    (check,) = pipeline.dispatch_queue.take(DispatchRequest)
    assert check.acknowledgements

    for device_id in ids:
        pipeline.hub.acknowledge(device_id, "fanSpeed")
    send_batch(check, pipeline.c)
    send_batch(check, pipeline.c)  # delivered twice
    for late in pipeline.outcomes_queue.take(OutcomesReport) + [report]:
        collect_outcomes(late, pipeline.c)
    assert pipeline.c.job_devices.get_progress("job-1").as_dict() == {
        "total": 2, "pending": 0, "running": 0, "completed": 2, "failed": 0}
    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED


def test_a_deleted_device_fails_and_a_stopped_job_still_hears_its_devices(pipeline):
    ids = add_devices(pipeline.hub, 2)
    write_all(pipeline)
    job = pipeline.c.jobs.get("job-1")
    job.stop(pipeline.clock())
    pipeline.c.jobs.update(job)
    del pipeline.hub.devices[ids[1]]
    pipeline.hub.acknowledge(ids[0], "fanSpeed")
    look(pipeline)
    final = rows(pipeline)
    assert final[ids[0]].status is DeviceStatus.COMPLETED
    assert (final[ids[1]].status, final[ids[1]].error_code) == (DeviceStatus.FAILED, DeviceErrorCode.DEVICE_NOT_FOUND)


def test_a_read_that_fails_is_no_answer_and_the_device_is_looked_at_again(pipeline):
    ids = add_devices(pipeline.hub, 2)
    write_all(pipeline)
    pipeline.hub.failures[ids[0]] = HubFailure(DeviceErrorCode.THROTTLED, "IoT Hub kept throttling", 429)
    pipeline.hub.acknowledge(ids[1], "fanSpeed")
    (again,) = look(pipeline)
    assert DispatchRequest.from_text(again[0]).first_device_id == ids[0]
    assert rows(pipeline)[ids[0]].status is DeviceStatus.RUNNING
    del pipeline.hub.failures[ids[0]]
    pipeline.hub.acknowledge(ids[0], "fanSpeed")
    look(pipeline)
    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED


def test_a_device_whose_checks_were_lost_times_out_at_the_watchdogs_look(pipeline):
    add_devices(pipeline.hub, 2)
    write_all(pipeline, timeout={"inProgressMinutes": 5})
    pipeline.dispatch_queue.take(DispatchRequest)  # the checks go to poison, say
    watch = PlanRequest.watch(pipeline.c.jobs.get("job-1"), pipeline.c.job_devices.get_progress("job-1").as_dict())
    watch_job(pipeline.c.jobs.get("job-1"), watch, pipeline.c)
    for report in pipeline.outcomes_queue.take(OutcomesReport):
        collect_outcomes(report, pipeline.c)
    assert pipeline.c.job_devices.get_progress("job-1").running == 2  # not yet past its timeout

    pipeline.clock.now += timedelta(minutes=5)
    watch = PlanRequest.watch(pipeline.c.jobs.get("job-1"), pipeline.c.job_devices.get_progress("job-1").as_dict())
    watch_job(pipeline.c.jobs.get("job-1"), watch, pipeline.c)
    for report in pipeline.outcomes_queue.take(OutcomesReport):
        collect_outcomes(report, pipeline.c)
    assert {(row.status, row.error_code) for row in rows(pipeline).values()} == {
        (DeviceStatus.FAILED, DeviceErrorCode.TIMEOUT)}
    assert pipeline.c.jobs.get("job-1").status is JobStatus.FAILED


def test_a_timeout_without_an_acknowledged_property_is_refused_naming_it():
    with pytest.raises(InvalidField) as refusal:
        Job.draft("j", "J", "vending", [property_op()], START, timeout={"inProgressMinutes": 5})
    assert refusal.value.field == "timeout"
