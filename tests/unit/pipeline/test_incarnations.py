"""A job deleted and made again under the same id: the first one's queued messages and rows
never act on the second."""
from shared.domain.devices import DeviceErrorCode, DeviceOutcome
from shared.domain.jobs import Job, JobStatus
from shared.messages import DispatchRequest, OutcomesReport, PlanRequest

from dispatcher.planning import plan_job
from dispatcher.sending import send_batch
from status_collector.collecting import collect_outcomes
from tests.unit.pipeline.conftest import START, add_devices, command_op, run_until_quiet


def made(p, command: str, incarnation: str) -> Job:
    job = Job.draft("job-1", "Reused id", "vending", [command_op(command)], START, incarnation=incarnation)
    job.run(START)
    return p.c.jobs.add(job)


def test_messages_of_a_deleted_job_do_not_act_on_a_new_job_with_its_id(pipeline):
    ids = add_devices(pipeline.hub, 150)
    first = made(pipeline, "reboot", "first")
    plan_job(PlanRequest.plan(first), pipeline.c)
    stale_dispatches = pipeline.dispatch_queue.take(DispatchRequest)
    stale_plans = [PlanRequest.plan(first), PlanRequest.resume(first)]
    stale_report = OutcomesReport.split(first, [DeviceOutcome.failure(ids[0], DeviceErrorCode.TIMEOUT, "old")])
    job = pipeline.c.jobs.get("job-1")
    job.stop(START)
    pipeline.c.jobs.update(job)
    pipeline.c.job_devices.delete_all("job-1")
    pipeline.c.jobs.delete("job-1")
    pipeline.plan_queue.sent.clear()

    second = made(pipeline, "calibrate", "second")
    for request in stale_plans:  # before the new job's own plan message
        plan_job(request, pipeline.c)
    for request in stale_dispatches:
        assert send_batch(request, pipeline.c).sent == 0
    for report in stale_report:
        assert collect_outcomes(report, pipeline.c) is None
    assert pipeline.hub.calls == [] and pipeline.c.job_devices.get_progress("job-1").total == 0

    pipeline.plan_queue.send(PlanRequest.plan(second).to_text())
    run_until_quiet(pipeline)
    assert sorted(call[1] for call in pipeline.hub.calls) == ids  # each device once
    assert {call[2] for call in pipeline.hub.calls} == {"calibrate"}
    progress = pipeline.c.job_devices.get_progress("job-1")
    assert (progress.total, progress.completed) == (150, 150)
    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED


def test_rows_a_deleted_job_left_are_cleared_before_a_new_job_with_its_id_is_planned(pipeline):
    ids = add_devices(pipeline.hub, 5)
    pipeline.c.job_devices.add_pending("job-1", ids[:3], START, "first")  # a late planner of a deleted job
    pipeline.c.job_devices.record_outcomes("job-1", [DeviceOutcome.success(ids[0])], START, "first")
    second = made(pipeline, "calibrate", "second")
    pipeline.plan_queue.send(PlanRequest.plan(second).to_text())
    run_until_quiet(pipeline)
    assert sorted(call[1] for call in pipeline.hub.calls) == ids
    progress = pipeline.c.job_devices.get_progress("job-1")
    assert (progress.total, progress.completed) == (5, 5)


def test_a_planner_of_a_deleted_job_does_not_start_a_new_job_with_its_id(pipeline):
    add_devices(pipeline.hub, 3)
    first = made(pipeline, "reboot", "first")
    pipeline.c.jobs.delete("job-1")
    made(pipeline, "calibrate", "second")
    plan_job(PlanRequest.plan(first), pipeline.c)
    assert pipeline.c.jobs.get("job-1").status is JobStatus.PENDING  # still waiting for its own planner
    assert pipeline.c.job_devices.get_progress("job-1").total == 0 and pipeline.dispatch_queue.sent == []


def test_a_job_deleted_while_its_planner_pages_leaves_no_rows_and_is_not_started(pipeline):
    from jobs_api.jobs import delete_job

    add_devices(pipeline.hub, 300)
    job = made(pipeline, "calibrate", "first")
    query, queries = pipeline.hub.query_devices, []

    def deleted_during_the_second_page(*args, **kwargs):
        queries.append(args)
        if len(queries) == 2:
            delete_job("job-1", None, pipeline.c)  # the caller's DELETE lands while the planner pages
        return query(*args, **kwargs)

    pipeline.hub.query_devices = deleted_during_the_second_page
    plan_job(PlanRequest.plan(job), pipeline.c)
    assert pipeline.c.job_devices.incarnation_of("job-1") is None  # no row written after the delete
    assert pipeline.dispatch_queue.sent == [] and pipeline.hub.calls == []
