from shared.domain.devices import DeviceErrorCode, DeviceOutcome
from shared.domain.jobs import JobStatus
from shared.messages import OutcomesReport, ReportedOutcome

from status_collector.collecting import collect_outcomes
from tests.unit.pipeline.conftest import START, pending_job, property_op


def running_job(p, count):
    job = pending_job(p, [property_op()])
    p.c.job_devices.add_pending("job-1", [f"d{i}" for i in range(count)], START)
    job.start(START)
    p.c.jobs.update(job)


def report(*outcomes):
    return OutcomesReport(job_id="job-1", outcomes=[ReportedOutcome.of(o) for o in outcomes])


def test_outcomes_are_recorded_and_the_last_one_ends_the_job(pipeline):
    running_job(pipeline, 2)
    c = pipeline.c
    collect_outcomes(report(DeviceOutcome.success("d0")), c.jobs, c.job_devices, START)
    assert c.jobs.get("job-1").status is JobStatus.RUNNING
    failure = DeviceOutcome.failure("d1", DeviceErrorCode.DEVICE_NOT_ONLINE, "offline")
    progress = collect_outcomes(report(failure), c.jobs, c.job_devices, START)
    assert (progress.completed, progress.failed) == (1, 1)
    job = c.jobs.get("job-1")
    assert job.status is JobStatus.FAILED and job.ended_at == START


def test_a_replayed_report_changes_no_count(pipeline):
    running_job(pipeline, 3)
    c = pipeline.c
    message = report(DeviceOutcome.success("d0"), DeviceOutcome.success("d1"))
    first = collect_outcomes(message, c.jobs, c.job_devices, START)
    again = collect_outcomes(OutcomesReport.from_text(message.to_text()), c.jobs, c.job_devices, START)
    assert first == again and again.completed == 2


def test_a_stopped_job_ends_when_its_last_in_flight_devices_finish_with_none_pending(pipeline):
    running_job(pipeline, 1)
    c = pipeline.c
    job = c.jobs.get("job-1")
    job.stop(START)
    c.jobs.update(job)
    collect_outcomes(report(DeviceOutcome.success("d0")), c.jobs, c.job_devices, START)
    assert c.jobs.get("job-1").status is JobStatus.COMPLETED


def test_an_empty_report_only_ends_a_finished_job(pipeline):
    running_job(pipeline, 1)
    c = pipeline.c
    collect_outcomes(report(), c.jobs, c.job_devices, START)
    assert c.jobs.get("job-1").status is JobStatus.RUNNING


def test_outcomes_of_a_deleted_job_are_dropped(pipeline):
    assert collect_outcomes(report(DeviceOutcome.success("d0")), pipeline.c.jobs, pipeline.c.job_devices,
                            START) is None


def test_reports_split_only_when_error_messages_would_pass_the_queue_limit():
    long = [DeviceOutcome.failure(f"device-{i:03d}" + "x" * 100, DeviceErrorCode.HUB_ERROR, "e" * 1000)
            for i in range(98)]
    reports = OutcomesReport.split("job-1", long)
    assert sum(len(r.outcomes) for r in reports) == 98
    assert all(len(r.to_text().encode()) < 48 * 1024 for r in reports)
    assert len(OutcomesReport.split("job-1", [DeviceOutcome.success(f"d{i}") for i in range(98)])) == 1
