"""Rollout batches as pure rules: cutting, sizes, the active batch's counters, statuses."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from shared.domain.devices import DeviceStatus
from shared.domain.jobs import ROLLOUT_ACTOR, Job, JobStatus
from shared.domain.operations import Operation, OperationType
from shared.domain.progress import Progress
from shared.domain.rollout import Rollout, batch_index_of, batch_size, batch_statuses, cut_batches

P, F, C = DeviceStatus.PENDING, DeviceStatus.FAILED, DeviceStatus.COMPLETED
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def rows(count: int, failed: set[int] = frozenset()):
    return [(f"d{index:03}", F if index in failed else P) for index in range(count)]


@pytest.mark.parametrize("batch, total, size", [
    ({"type": "number", "value": 100}, 250, 100),
    ({"type": "number", "value": 100}, 5, 100),
    ({"type": "percentage", "value": 10}, 250, 25),
    ({"type": "percentage", "value": 10}, 251, 26),  # rounded up
    ({"type": "percentage", "value": 0.1}, 5, 1),  # at least one device
    ({"type": "percentage", "value": 100}, 7, 7),
])
def test_batch_size(batch, total, size):
    assert batch_size(batch, total) == size


def test_batches_are_consecutive_ranges_with_the_counts_they_were_cut_with():
    batches = list(cut_batches(rows(25, failed={3, 12}), 10))
    assert [(b.index, b.first_device_id, b.last_device_id, b.total, b.pending, b.failed) for b in batches] == [
        (0, "d000", "d009", 10, 9, 1), (1, "d010", "d019", 10, 9, 1), (2, "d020", "d024", 5, 5, 0)]
    assert list(cut_batches([], 10)) == []


def test_the_active_batchs_counters_are_the_jobs_less_the_others():
    batches = list(cut_batches(rows(25, failed={3, 12}), 10))
    rollout = Rollout.starting(batches)
    job = Progress(total=25, pending=23, failed=2)
    assert rollout.active_progress(job).as_dict() == {"total": 10, "pending": 9, "running": 0, "completed": 0,
                                                      "failed": 1}
    job = Progress(total=25, pending=14, completed=8, failed=3)  # batch 1 done: 8 completed, 2 failed
    assert rollout.active_done(job)
    second = rollout.following(rollout.active_progress(job), batches[1])
    assert (second.active, second.total, second.is_last) == (1, 10, False)
    assert second.active_progress(job).as_dict() == {"total": 10, "pending": 9, "running": 0, "completed": 0,
                                                     "failed": 1}
    assert Rollout.from_fields(second.to_fields()) == second and Rollout.from_fields({}) is None


def test_statuses_of_batches_before_during_and_after():
    batches = list(cut_batches(rows(30), 10))
    rollout = Rollout.starting(batches)
    finished = rollout.active_progress(Progress(total=30, pending=20, completed=9, failed=1))
    batches[0] = batches[0].finished_with(finished)
    rollout = rollout.following(finished, batches[1])
    progress = Progress(total=30, pending=15, running=5, completed=9, failed=1)
    shown = batch_statuses(batches, rollout, progress, "running")
    assert [(status, b.running, b.pending) for b, status in shown] == [
        ("failed", 0, 0), ("running", 5, 5), ("pending", 0, 10)]
    assert [status for _, status in batch_statuses(batches, rollout, progress, "cancelled")] == [
        "failed", "cancelled", "cancelled"]
    assert [status for _, status in batch_statuses(batches, rollout, progress, "stopped")] == [
        "failed", "stopped", "pending"]


def test_which_batch_holds_a_device():
    batches = list(cut_batches(rows(25), 10))
    assert [batch_index_of(batches, device) for device in ("d000", "d009", "d010", "d024", "d025", "a")] == [
        0, 0, 1, 2, None, None]


def _job(**optional) -> Job:
    job = Job.draft("job", "Job", "group", [Operation(OperationType.PROPERTY, "fanSpeed", 3)], NOW, **optional)
    job.run(NOW)
    return job


def test_a_per_batch_threshold_judges_the_active_batch_only():
    job = _job(batch={"type": "number", "value": 10},
               cancellation_threshold={"type": "percentage", "value": 20, "batch": True})
    batches = list(cut_batches(rows(30), 10))
    rollout = Rollout.starting(batches)
    assert job.threshold_crossed(Progress(30, 20, 0, 8, 2, rollout=rollout)) is None  # 2 of 10: not past 20 %
    reason = job.threshold_crossed(Progress(30, 20, 0, 7, 3, rollout=rollout))
    assert reason == ("3 devices of batch 1 failed, more than the cancellation threshold of 20% of its 10 devices "
                      "of batch 1; the rest were not sent to.")
    second = rollout.following(Progress(10, 0, 0, 7, 3), batches[1])
    assert job.threshold_crossed(Progress(30, 10, 0, 17, 3, rollout=second)) is None  # batch 1's failures are past
    assert job.threshold_crossed(Progress(30, 20, 0, 7, 3)) is None  # not cut yet


def test_a_minimum_sample_holds_any_threshold_until_that_many_outcomes():
    job = _job(cancellation_threshold={"type": "number", "value": 1, "minNumberOfExecutedDevices": 50})
    assert job.threshold_crossed(Progress(1000, 951, 0, 0, 49)) is None
    assert job.threshold_crossed(Progress(1000, 950, 0, 48, 2)).startswith("2 devices failed")
    small = _job(cancellation_threshold={"type": "number", "value": 1, "minNumberOfExecutedDevices": 50})
    assert small.threshold_crossed(Progress(10, 0, 0, 8, 2)) is not None  # the whole job is fewer than the sample


def test_a_pause_after_a_batch_says_which_and_a_resume_clears_it():
    job = _job(batch={"type": "number", "value": 10, "pauseAfterEach": True})
    job.start(NOW)
    assert job.batch_pauses
    job.pause_after_batch(0, 3, NOW)
    assert (job.status, job.reason) == (JobStatus.STOPPED, "Paused after batch 1 of 3; resume to send to batch 2.")
    assert job.stopped_by == ROLLOUT_ACTOR
    job.resume(NOW)
    assert (job.status, job.reason) == (JobStatus.RUNNING, None)
    assert not _job(batch={"type": "number", "value": 10}).batch_pauses
