"""Rollout batches through the pipeline: one batch at a time, thresholds per batch, a minimum
sample, pausing after each batch, and replayed messages."""
from __future__ import annotations

from dispatcher.planning import plan_job
from shared.domain.devices import DeviceErrorCode
from shared.domain.jobs import JobStatus
from shared.domain.rollout import batch_statuses
from shared.hub_gateway import HubFailure
from shared.messages import DispatchRequest, PlanKind, PlanRequest
from tests.unit.pipeline.conftest import add_devices, command_op, pending_job, property_op, run_job, run_until_quiet

OFFLINE = HubFailure(DeviceErrorCode.DEVICE_NOT_ONLINE, "offline", 404)


def first_call_of(pipeline, device_ids) -> int:
    return min(index for index, call in enumerate(pipeline.hub.calls) if call[1] in device_ids)


def last_call_of(pipeline, device_ids) -> int:
    return max(index for index, call in enumerate(pipeline.hub.calls) if call[1] in device_ids)


def batch_rows(pipeline, job_id="job-1"):
    """Each batch as the API shows it: first and last id, total, completed, failed, status."""
    job, progress = pipeline.c.jobs.get(job_id), pipeline.c.job_devices.get_progress(job_id)
    shown = batch_statuses(pipeline.c.job_devices.rollout_batches(job_id), progress.rollout, progress,
                           job.status.value)
    return [(b.first_device_id, b.last_device_id, b.total, b.completed, b.failed, status) for b, status in shown]


def test_batch_n_plus_1_starts_only_after_every_device_of_batch_n_has_an_outcome(pipeline):
    ids = add_devices(pipeline.hub, 250)
    pending_job(pipeline, [property_op()], batch={"type": "number", "value": 100})
    run_job(pipeline)

    job, progress = pipeline.c.jobs.get("job-1"), pipeline.c.job_devices.get_progress("job-1")
    assert job.status is JobStatus.COMPLETED and progress.as_dict() == {
        "total": 250, "pending": 0, "running": 0, "completed": 250, "failed": 0}
    assert len(pipeline.hub.calls) == 250  # each device once
    assert last_call_of(pipeline, ids[:100]) < first_call_of(pipeline, ids[100:200])
    assert last_call_of(pipeline, ids[100:200]) < first_call_of(pipeline, ids[200:])
    assert batch_rows(pipeline) == [("dev-00000", "dev-00099", 100, 100, 0, "completed"),
                                    ("dev-00100", "dev-00199", 100, 100, 0, "completed"),
                                    ("dev-00200", "dev-00249", 50, 50, 0, "completed")]


def test_a_percentage_is_of_the_jobs_devices_rounded_up(pipeline):
    add_devices(pipeline.hub, 7)
    pending_job(pipeline, [property_op()], batch={"type": "percentage", "value": 50})
    run_job(pipeline)
    assert [row[2] for row in batch_rows(pipeline)] == [4, 3]
    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED


def test_while_a_batch_runs_nothing_of_the_next_is_dispatched(pipeline):
    add_devices(pipeline.hub, 30)
    pending_job(pipeline, [property_op()], batch={"type": "number", "value": 10})
    plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
    (dispatch,) = pipeline.dispatch_queue.take(DispatchRequest)
    assert (dispatch.first_device_id, dispatch.last_device_id) == ("dev-00000", "dev-00009")


def test_a_per_batch_threshold_counts_each_batch_on_its_own_and_trips_on_the_batch_that_passes_it(pipeline):
    ids = add_devices(pipeline.hub, 300)
    for device_id in ids[:4] + ids[100:106]:  # 4 in batch 1 (within 5), 6 in batch 2 (past it)
        pipeline.hub.failures[device_id] = OFFLINE
    pending_job(pipeline, [command_op()], batch={"type": "number", "value": 100},
                cancellation_threshold={"type": "number", "value": 5, "batch": True})
    run_job(pipeline)

    job = pipeline.c.jobs.get("job-1")
    assert job.status is JobStatus.CANCELLED
    assert job.reason.startswith("6 devices of batch 2 failed, more than the cancellation threshold of 5 devices of "
                                 "batch 2")
    assert not any(call[1] in ids[200:] for call in pipeline.hub.calls)  # batch 3 never sent to
    progress = pipeline.c.job_devices.get_progress("job-1")
    assert (progress.failed, progress.pending, progress.completed + progress.failed + progress.pending) == (
        10, 100, 300)
    assert [row[3:] for row in batch_rows(pipeline)] == [(96, 4, "failed"), (94, 6, "failed"),
                                                         (0, 0, "cancelled")]


def test_a_minimum_sample_keeps_early_failures_from_cancelling(pipeline):
    ids = add_devices(pipeline.hub, 40)
    for device_id in ids[:5]:  # all in batch 1: past a threshold of 2, but only 10 outcomes so far
        pipeline.hub.failures[device_id] = OFFLINE
    pending_job(pipeline, [command_op()], batch={"type": "number", "value": 10},
                cancellation_threshold={"type": "number", "value": 2, "batch": True,
                                        "minNumberOfExecutedDevices": 20})
    run_job(pipeline)

    job, progress = pipeline.c.jobs.get("job-1"), pipeline.c.job_devices.get_progress("job-1")
    assert job.status is JobStatus.FAILED and job.reason is None
    assert (progress.completed, progress.failed, progress.pending) == (35, 5, 0)


def test_without_the_minimum_sample_the_same_failures_cancel_at_batch_1(pipeline):
    ids = add_devices(pipeline.hub, 40)
    for device_id in ids[:5]:
        pipeline.hub.failures[device_id] = OFFLINE
    pending_job(pipeline, [command_op()], batch={"type": "number", "value": 10},
                cancellation_threshold={"type": "number", "value": 2, "batch": True})
    run_job(pipeline)
    job = pipeline.c.jobs.get("job-1")
    assert job.status is JobStatus.CANCELLED and "of batch 1" in job.reason
    assert len(pipeline.hub.calls) == 10


def test_pause_after_each_batch_stops_the_job_until_it_is_resumed(pipeline):
    ids = add_devices(pipeline.hub, 25)
    pending_job(pipeline, [property_op()], batch={"type": "number", "value": 10, "pauseAfterEach": True})
    run_job(pipeline)
    for batch_number, sent in ((1, 10), (2, 20)):
        job = pipeline.c.jobs.get("job-1")
        assert job.status is JobStatus.STOPPED
        assert job.reason == f"Paused after batch {batch_number} of 3; resume to send to batch {batch_number + 1}."
        assert {call[1] for call in pipeline.hub.calls} == set(ids[:sent])
        job.resume(pipeline.clock())
        pipeline.c.jobs.update(job)
        pipeline.plan_queue.send(PlanRequest.resume(pipeline.c.jobs.get("job-1")).to_text())  # as the API does
        run_until_quiet(pipeline)

    job = pipeline.c.jobs.get("job-1")
    assert job.status is JobStatus.COMPLETED and job.reason is None and len(pipeline.hub.calls) == 25


def test_a_next_batch_message_delivered_twice_sends_to_the_next_batch_once(pipeline):
    add_devices(pipeline.hub, 20)
    pending_job(pipeline, [property_op()], batch={"type": "number", "value": 10})
    pipeline.plan_queue.send(PlanRequest.plan(pipeline.c.jobs.get("job-1")).to_text())
    next_batch = None
    while next_batch is None:  # run until the collector asks for batch 2, and hold that message
        from dispatcher.sending import send_batch
        from status_collector.collecting import collect_outcomes
        from shared.messages import OutcomesReport
        for request in pipeline.plan_queue.take(PlanRequest):
            if request.kind is PlanKind.NEXT_BATCH:
                next_batch = request
            elif request.kind is not PlanKind.WATCH:
                plan_job(request, pipeline.c)
        for request in pipeline.dispatch_queue.take(DispatchRequest):
            send_batch(request, pipeline.c)
        for report in pipeline.outcomes_queue.take(OutcomesReport):
            collect_outcomes(report, pipeline.c)
    plan_job(next_batch, pipeline.c)
    plan_job(next_batch, pipeline.c)
    assert len(pipeline.dispatch_queue.messages) == 1
    run_until_quiet(pipeline)
    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED and len(pipeline.hub.calls) == 20


def test_devices_refused_at_planning_count_in_their_batch(pipeline):
    ids = add_devices(pipeline.hub, 20)
    pipeline.hub.add("dev-00015-edge", is_edge=True)  # sorts into batch 2
    pending_job(pipeline, [property_op()], batch={"type": "number", "value": 10})
    run_job(pipeline)
    job, progress = pipeline.c.jobs.get("job-1"), pipeline.c.job_devices.get_progress("job-1")
    assert job.status is JobStatus.FAILED and (progress.total, progress.completed, progress.failed) == (21, 20, 1)
    assert batch_rows(pipeline)[1][2:5] == (10, 9, 1) and len(pipeline.hub.calls) == len(ids)
