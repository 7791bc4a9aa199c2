"""Collect outcomes (queue `jobs-outcomes`): record a batch's outcomes and the job's counters in
one conditional transaction (exactly once: a replayed report changes nothing), then cancel the
job if its failures crossed its cancellation threshold, or end it when no device is pending or
running: `completed` if none failed, else `failed`.

A pending job is left to its planner (which ends empty groups itself); a stopped job whose
last in-flight devices finish with nothing pending ends like a running one.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from shared.domain.devices import DeviceStatus
from shared.domain.errors import ConcurrencyConflict, JobNotFound
from shared.domain.jobs import Job, JobAction, JobStatus
from shared.domain.progress import Progress
from shared.messages import OutcomesReport

logger = logging.getLogger(__name__)

_SAVE_ATTEMPTS = 10
_ENDABLE = (JobStatus.RUNNING, JobStatus.STOPPED)


def collect_outcomes(report: OutcomesReport, jobs, job_devices, now: datetime) -> Progress | None:
    outcomes = [item.to_outcome() for item in report.outcomes]
    try:
        result = job_devices.record_outcomes(report.job_id, outcomes, now)
    except JobNotFound:
        logger.info("job %s has no device rows (deleted?); outcomes dropped", report.job_id)
        return None
    failed_now = any(row.status is DeviceStatus.FAILED for row in result.recorded)
    if failed_now and cancel_past_threshold(jobs, report.job_id, result.progress, now):
        return result.progress
    if result.progress.is_done:
        end_job(jobs, report.job_id, result.progress, now)
    return result.progress


def cancel_past_threshold(jobs, job_id: str, progress: Progress, now: datetime) -> bool:
    """Cancel a running or stopped job whose failures crossed its cancellation threshold: its
    senders stop starting devices (devices in flight finish and count), the rest stay pending."""
    def cancel(job: Job) -> bool:
        reason = job.threshold_crossed(progress) if job.allows(JobAction.CANCEL) else None
        if reason is not None:
            job.cancel(reason, now)
        return reason is not None

    cancelled = _save_fresh(jobs, job_id, cancel)
    if cancelled:
        logger.info("job %s cancelled: %s", job_id, progress.as_dict())
    return cancelled


def end_job(jobs, job_id: str, progress: Progress, now: datetime) -> None:
    def finish(job: Job) -> bool:
        if job.status not in _ENDABLE or not job.allows(JobAction.FINISH):
            return False  # already ended by an earlier delivery, or still planning
        job.finish(progress, now)
        return True

    if _save_fresh(jobs, job_id, finish):
        logger.info("job %s ended: %s", job_id, progress.as_dict())


def _save_fresh(jobs, job_id: str, change: Callable[[Job], bool]) -> bool:
    """Read the job, let `change` decide and change it, save it; a concurrent change (stop,
    resume, end) means: read again and decide again. False when there was nothing to change."""
    for _ in range(_SAVE_ATTEMPTS):
        try:
            job = jobs.get(job_id)
        except JobNotFound:
            return False
        if not change(job):
            return False
        try:
            jobs.update(job)
        except ConcurrencyConflict:
            continue
        return True
    raise ConcurrencyConflict("Job", job_id)
