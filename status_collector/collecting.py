"""Collect outcomes (queue `jobs-outcomes`): record a batch's outcomes and the job's counters in
one conditional transaction (exactly once: a replayed report changes nothing), then cancel the
job if its failures crossed its cancellation threshold, or end it when no device is pending or
running: `completed` if none failed, else `failed`. When the active rollout batch is done but
the job is not, the planner is asked for the next batch. Devices whose failed attempt the
job's `retry` tries again are back to `pending`: their dispatch message is sent with the backoff.
Devices whose written properties wait for an acknowledgement get a message that looks for it.

A pending job is left to its planner (which ends empty groups itself); a stopped job whose
last in-flight devices finish with nothing pending ends like a running one.
"""
from __future__ import annotations

import logging
import math
from datetime import datetime

from shared.collaborators import Collaborators
from shared.domain.acknowledgements import FIRST_LOOK_SECONDS
from shared.domain.batching import batches_of
from shared.domain.devices import DeviceOutcome
from shared.domain.errors import JobNotFound
from shared.domain.jobs import Job, JobAction, JobStatus
from shared.domain.progress import Progress
from shared.messages import DispatchRequest, OutcomesReport, PlanRequest
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
    if result.retries:
        send_retries(report, result.retries, c)
    if result.awaiting:
        send_acknowledgement_checks(report, result.awaiting, c)
    # Any failure so far, not only this report's: a delivery that recorded them and died before
    # cancelling leaves the decision to its redelivery, which records nothing new.
    if result.progress.failed and cancel_past_threshold(c.jobs, report, result.progress, now):
        return result.progress
    if result.progress.is_done:
        end_job(c.jobs, report, result.progress, now)
    elif (rollout := result.progress.rollout) and not rollout.is_last and rollout.active_done(result.progress):
        c.plan_queue.send(PlanRequest.next_batch(report.job_id, report.incarnation, rollout.active).to_text())
    return result.progress


def send_retries(report: OutcomesReport, retries: list[DeviceOutcome], c: Collaborators) -> None:
    """A delayed dispatch message for the devices to try again, per run of consecutive ids,
    visible once the longest backoff among them has passed (none of them is tried early). Their
    rows are pending: the sender claims them as any other."""
    wait = {outcome.device_id: outcome.retry_in or 0 for outcome in retries}
    for batch in batches_of(sorted(wait)):
        delay = math.ceil(max(seconds for device_id, seconds in wait.items() if batch.contains(device_id)))
        request = DispatchRequest.of_range(report.job_id, report.incarnation, batch)
        c.dispatch_queue.send(request.to_text(), delay_seconds=max(delay, 1))
    logger.info("job %s: %d devices to try again", report.job_id, len(retries))


def send_acknowledgement_checks(report: OutcomesReport, awaiting: list[DeviceOutcome], c: Collaborators) -> None:
    """The first look at whether devices whose values were written have acknowledged them, a
    few seconds on (the sender looks again later for those that have not)."""
    for batch in batches_of(sorted(outcome.device_id for outcome in awaiting)):
        request = DispatchRequest.check_acknowledgements(report.job_id, report.incarnation, batch)
        c.dispatch_queue.send(request.to_text(), delay_seconds=FIRST_LOOK_SECONDS)


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
        if job.status in _ENDABLE and job.may_end and job.allows(JobAction.FINISH):  # else ended, or still planning
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
