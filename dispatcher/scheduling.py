"""The scheduler: at each tick, start the runs of scheduled jobs that are due.

Per enabled scheduled job that is not completed: `next_due` (shared/domain/schedules.py) says
which occurrences are missed and which one starts; the run is created through the one way jobs
start (jobs_api.jobs.start_job), then the scheduled job's new state is saved, conditioned on the
ETag it was read with.

Exactly one run per occurrence, with any number of schedulers (hosts, instances, a timer that
fires twice, a restart): the run's id is the same on all of them (`<id>-run-<n>`), and creating
it is retry-safe (the job already made under that id is the run, never started twice). A
scheduler that loses the race to save the state did nothing the winner did not; it moves on.
A crash between creating the run and saving the state leaves the state as it was: the next
tick decides the same, finds the run made, and saves.

A run that is refused (the group gone or corrupted, the app's job limit reached) counts as
missed, with the reason in `lastError`. A failure that may pass (storage, IoT Hub or the plan
queue unavailable) leaves the state alone: the next tick tries again, while within the grace
period (SCHEDULED_JOBS_GRACE_MINUTES).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from shared.collaborators import Collaborators
from shared.domain.access import Caller
from shared.domain.errors import (AlreadyExists, ConcurrencyConflict, DomainError, JobNotFound,
                                  ScheduledJobNotFound)
from shared.domain.scheduled_jobs import ScheduledJob
from shared.domain.schedules import Decision
from jobs_api.jobs import start_job

logger = logging.getLogger(__name__)

SCHEDULER = Caller.system("scheduler")


@dataclass(frozen=True)
class TickResult:
    started: tuple[str, ...] = ()  # the runs this tick made or found made
    missed: int = 0
    deferred: tuple[str, ...] = ()  # scheduled jobs left for the next tick (a failure that may pass)


def start_due_runs(ctx: Collaborators) -> TickResult:
    """One tick of the scheduler over every scheduled job."""
    ctx = replace(ctx, caller=SCHEDULER)
    grace = timedelta(minutes=ctx.settings.scheduled_jobs_grace_minutes)
    started, deferred, missed = [], [], 0
    for job in ctx.scheduled_jobs.list():
        if not job.enabled or job.completed:
            continue
        decision = job.due(ctx.clock(), grace)
        if not decision.missed and not decision.start and decision.completed == job.completed:
            continue
        outcome = _start(job, decision, ctx)
        if outcome is _DEFERRED:
            deferred.append(job.id)
            continue
        if _save(job, decision, outcome, ctx):
            missed += len(decision.missed) + (1 if outcome else 0)
            if decision.start and not outcome:
                started.append(job.run_id(decision.start))
    return TickResult(tuple(started), missed, tuple(deferred))


_DEFERRED = object()


def _start(job: ScheduledJob, decision: Decision, ctx: Collaborators):
    """None when the run started (or nothing was to start), the refusal's text when it was
    refused, _DEFERRED when it failed in a way that may pass."""
    if decision.start is None:
        return None
    run = job.run_for(decision.start, ctx.clock(), by=ctx.caller.actor)
    try:
        start_job(run, ctx)
    except AlreadyExists:
        return None if _is_run_of(run.id, job, ctx) else f"Job '{run.id}' already exists and is not this run."
    except DomainError as refused:  # the group, the subset, the app's limits: the run cannot start
        logger.warning("scheduled job %s: run %s refused: %s", job.id, run.id, refused)
        return str(refused)
    except Exception as error:  # storage, IoT Hub or the plan queue unavailable: try again next tick
        logger.warning("scheduled job %s: run %s could not start now (%s); trying again", job.id, run.id, error)
        return _DEFERRED
    logger.info("scheduled job %s: run %s started for %s", job.id, run.id, decision.start.at.isoformat())
    return None


def _is_run_of(run_id: str, job: ScheduledJob, ctx: Collaborators) -> bool:
    """A job under the run's id that this scheduled job made (its definition edited since)."""
    try:
        return ctx.jobs.get(run_id).scheduled_job_id == job.id
    except JobNotFound:
        return False


def _save(job: ScheduledJob, decision: Decision, refusal: str | None, ctx: Collaborators) -> bool:
    job.record(decision, refusal)
    try:
        ctx.scheduled_jobs.update(job)
    except (ConcurrencyConflict, ScheduledJobNotFound):
        logger.info("scheduled job %s changed or went meanwhile; another scheduler or a caller has it", job.id)
        return False
    return True
