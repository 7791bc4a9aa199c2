from dataclasses import replace

from shared.domain.devices import DeviceErrorCode, DeviceOutcome
from shared.domain.jobs import Job, JobStatus
from shared.hub_gateway import HubFailure
from shared.messages import DispatchRequest, OutcomesReport, PlanRequest, ReportedOutcome

from dispatcher.planning import plan_job
from dispatcher.sending import send_batch
from status_collector.collecting import collect_outcomes
from tests.unit.pipeline.conftest import START, add_devices, command_op, pending_job, property_op, run_job


def running_job(p, count):
    job = pending_job(p, [property_op()])
    p.c.job_devices.add_pending("job-1", [f"d{i}" for i in range(count)], START)
    job.start(START)
    p.c.jobs.update(job)


def report(*outcomes):
    return OutcomesReport(job_id="job-1", incarnation="", outcomes=[ReportedOutcome.of(o) for o in outcomes])


def test_outcomes_are_recorded_and_the_last_one_ends_the_job(pipeline):
    running_job(pipeline, 2)
    c = replace(pipeline.c, clock=lambda: START)
    collect_outcomes(report(DeviceOutcome.success("d0")), c)
    assert c.jobs.get("job-1").status is JobStatus.RUNNING
    failure = DeviceOutcome.failure("d1", DeviceErrorCode.DEVICE_NOT_ONLINE, "offline")
    progress = collect_outcomes(report(failure), c)
    assert (progress.completed, progress.failed) == (1, 1)
    job = c.jobs.get("job-1")
    assert job.status is JobStatus.FAILED and job.ended_at == START


def test_a_replayed_report_changes_no_count(pipeline):
    running_job(pipeline, 3)
    c = pipeline.c
    message = report(DeviceOutcome.success("d0"), DeviceOutcome.success("d1"))
    first = collect_outcomes(message, c)
    again = collect_outcomes(OutcomesReport.from_text(message.to_text()), c)
    assert first == again and again.completed == 2


def test_a_stopped_job_ends_when_its_last_in_flight_devices_finish_with_none_pending(pipeline):
    running_job(pipeline, 1)
    c = pipeline.c
    job = c.jobs.get("job-1")
    job.stop(START)
    c.jobs.update(job)
    collect_outcomes(report(DeviceOutcome.success("d0")), c)
    assert c.jobs.get("job-1").status is JobStatus.COMPLETED


def test_an_empty_report_only_ends_a_finished_job(pipeline):
    running_job(pipeline, 1)
    c = pipeline.c
    collect_outcomes(report(), c)
    assert c.jobs.get("job-1").status is JobStatus.RUNNING


def test_outcomes_of_a_deleted_job_are_dropped(pipeline):
    assert collect_outcomes(report(DeviceOutcome.success("d0")), pipeline.c) is None


def test_reports_split_only_when_error_messages_would_pass_the_queue_limit():
    long = [DeviceOutcome.failure(f"device-{i:03d}" + "x" * 100, DeviceErrorCode.HUB_ERROR, "e" * 1000)
            for i in range(98)]
    job = Job.draft("job-1", "A job", "vending", [property_op()], START)
    reports = OutcomesReport.split(job, long)
    assert sum(len(r.outcomes) for r in reports) == 98
    assert all(len(r.to_text().encode()) < 48 * 1024 for r in reports)
    assert len(OutcomesReport.split(job, [DeviceOutcome.success(f"d{i}") for i in range(98)])) == 1


def test_failures_past_the_cancellation_threshold_cancel_the_job_and_no_further_device_is_sent(pipeline):
    ids = add_devices(pipeline.hub, 200)
    for device_id in ids[:5]:
        pipeline.hub.failures[device_id] = HubFailure(DeviceErrorCode.DEVICE_NOT_ONLINE, "offline", 404)
    pending_job(pipeline, [command_op()], cancellation_threshold={"type": "number", "value": 3})
    plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
    first, *rest = pipeline.dispatch_queue.take(DispatchRequest)

    send_batch(first, pipeline.c)
    (outcomes,) = pipeline.outcomes_queue.take(OutcomesReport)
    collect_outcomes(outcomes, pipeline.c)

    job = pipeline.c.jobs.get("job-1")
    assert job.status is JobStatus.CANCELLED and job.reason.startswith("5 devices failed, more than")
    for request in rest:
        assert send_batch(request, pipeline.c).sent == 0
    assert len(pipeline.hub.calls) == 98
    assert pipeline.c.job_devices.get_progress("job-1").as_dict() == {
        "total": 200, "pending": 102, "running": 0, "completed": 93, "failed": 5}


def test_failures_within_the_threshold_leave_the_job_to_end_as_usual(pipeline):
    ids = add_devices(pipeline.hub, 10)
    pipeline.hub.failures[ids[0]] = HubFailure(DeviceErrorCode.DEVICE_NOT_ONLINE, "offline", 404)
    pending_job(pipeline, [command_op()], cancellation_threshold={"type": "percentage", "value": 10})
    run_job(pipeline)
    assert pipeline.c.jobs.get("job-1").status is JobStatus.FAILED  # 1 of 10 is not more than 10%


def test_a_redelivered_report_still_cancels_a_job_past_its_threshold(pipeline):
    job = pending_job(pipeline, [property_op()], cancellation_threshold={"type": "number", "value": 0})
    pipeline.c.job_devices.add_pending("job-1", ["d0", "d1"], START)
    job.start(START)
    pipeline.c.jobs.update(job)
    failure = report(DeviceOutcome.failure("d0", DeviceErrorCode.DEVICE_NOT_ONLINE, "offline"))
    pipeline.c.job_devices.record_outcomes("job-1", [failure.outcomes[0].to_outcome()], START)  # then it died
    collect_outcomes(failure, pipeline.c)  # delivered again: nothing new to record
    assert pipeline.c.jobs.get("job-1").status is JobStatus.CANCELLED
