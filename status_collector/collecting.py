"""Collect outcomes (queue `jobs-outcomes`): record a batch's outcomes and the job's counters in
one conditional transaction (exactly once: a replayed report changes nothing), then cancel the
job if its failures crossed its cancellation threshold, or end it when no device is pending or
running: `completed` if none failed, else `failed`. When the active rollout batch is done but
the job is not, the planner is asked for the next batch.

A pending job is left to its planner (which ends empty groups itself); a stopped job whose
last in-flight devices finish with nothing pending ends like a running one.
"""
from __future__ import annotations

import logging
from datetime import datetime

from shared.collaborators import Collaborators
from shared.domain.errors import JobNotFound
from shared.domain.jobs import Job, JobAction, JobStatus
from shared.domain.progress import Progress
from shared.messages import OutcomesReport, PlanRequest
from shared.repositories.jobs import Decision, JobStore

logger = logging.getLogger(__name__)

_ENDABLE = (JobStatus.RUNNING, JobStatus.STOPPED)


def collect_outcomes(report: OutcomesReport, c: Collaborators) -> Progress | None:
    outcomes, now = [item.to_outcome() for item in report.outcomes], c.clock()
    try:
        result = c.job_devices.record_outcomes(report.job_id, outcomes, now, report.incarnation)
    except JobNotFound:
        logger.info("job %s has no device rows of this incarnation (deleted?); outcomes dropped", report.job_id)
        return None
    # Any failure so far, not only this report's: a delivery that recorded them and died before
    # cancelling leaves the decision to its redelivery, which records nothing new.
    if result.progress.failed and cancel_past_threshold(c.jobs, report, result.progress, now):
        return result.progress
    if result.progress.is_done:
        end_job(c.jobs, report, result.progress, now)
    elif (rollout := result.progress.rollout) and not rollout.is_last and rollout.active_done(result.progress):
        c.plan_queue.send(PlanRequest.next_batch(report.job_id, report.incarnation, rollout.active).to_text())
    return result.progress


def cancel_past_threshold(jobs: JobStore, report: OutcomesReport, progress: Progress, now: datetime) -> bool:
    """Cancel a running or stopped job whose failures crossed its cancellation threshold: its
    senders stop starting devices (devices in flight finish and count), the rest stay pending."""
    def cancel(job: Job) -> None:
        reason = job.threshold_crossed(progress) if job.allows(JobAction.CANCEL) else None
        if reason is not None:
            job.cancel(reason, now)

    cancelled = _changed(jobs, report, cancel)
    if cancelled:
        logger.info("job %s cancelled: %s", report.job_id, progress.as_dict())
    return cancelled


def end_job(jobs: JobStore, report: OutcomesReport, progress: Progress, now: datetime) -> None:
    def finish(job: Job) -> None:
        if job.status in _ENDABLE and job.allows(JobAction.FINISH):  # else ended already, or still planning
            job.finish(progress, now)

    if _changed(jobs, report, finish):
        logger.info("job %s ended: %s", report.job_id, progress.as_dict())


def _changed(jobs: JobStore, report: OutcomesReport, decide: Decision) -> bool:
    """Whether `decide` changed the stored job, the report's incarnation of it (False for a job
    deleted meanwhile)."""
    def for_this_job(job: Job) -> None:
        if report.is_for(job):
            decide(job)

    try:
        return jobs.change(report.job_id, for_this_job).changed
    except JobNotFound:
        return False
