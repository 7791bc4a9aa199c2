"""Collect outcomes (queue `jobs-outcomes`): record a batch's outcomes and the job's counters in
one conditional transaction (exactly once: a replayed report changes nothing), then cancel the
job if its failures crossed its cancellation threshold, or end it when no device is pending or
running: `completed` if none failed, else `failed`.

A pending job is left to its planner (which ends empty groups itself); a stopped job whose
last in-flight devices finish with nothing pending ends like a running one.
"""
from __future__ import annotations

import logging
from datetime import datetime

from shared.domain.devices import DeviceStatus
from shared.domain.errors import ConcurrencyConflict, JobNotFound
from shared.domain.jobs import JobAction, JobStatus
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
    for _ in range(_SAVE_ATTEMPTS):
        try:
            job = jobs.get(job_id)
        except JobNotFound:
            return False
        reason = job.threshold_crossed(progress) if job.allows(JobAction.CANCEL) else None
        if reason is None:
            return False
        job.cancel(reason, now)
        try:
            jobs.update(job)
            logger.info("job %s cancelled: %s", job_id, reason)
            return True
        except ConcurrencyConflict:
            continue  # stopped, resumed or ended meanwhile: decide again on a fresh read
    raise ConcurrencyConflict("Job", job_id)


def end_job(jobs, job_id: str, progress: Progress, now: datetime) -> None:
    for _ in range(_SAVE_ATTEMPTS):
        try:
            job = jobs.get(job_id)
        except JobNotFound:
            return
        if job.status not in _ENDABLE or not job.allows(JobAction.FINISH):
            return  # already ended by an earlier delivery, or still planning
        job.finish(progress, now)
        try:
            jobs.update(job)
            logger.info("job %s %s: %s", job_id, job.status.value, progress.as_dict())
            return
        except ConcurrencyConflict:
            continue  # stopped, resumed or ended meanwhile: decide again on a fresh read
    raise ConcurrencyConflict("Job", job_id)
