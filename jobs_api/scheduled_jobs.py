"""Scheduled job use cases (IoT Central's `/scheduledJobs`): plain functions over the collaborators.

A refused request changes nothing: the body, the schedule and the group are checked before the
write. The group must exist and its filter still translate; IoT Hub is not asked here (each run
asks it when it starts, through jobs_api.jobs.start_job), so saving a schedule spends no hub
quota. What a run would refuse (a threshold per batch without batches) is refused now, rather
than at every occurrence.
"""
from __future__ import annotations

import re
from datetime import datetime

from shared.collaborators import Collaborators
from shared.domain import limits
from shared.domain.errors import (AlreadyExists, ConcurrencyConflict, DeviceGroupNotFound, InvalidField,
                                  ScheduledJobNotFound)
from shared.domain.jobs import Job
from shared.domain.scheduled_jobs import ScheduledJob
from shared.domain.schedules import Schedule
from jobs_api.jobs import list_jobs, require_batches_for_threshold
from jobs_api.models import ScheduledJobDefinition, ScheduledJobView, scheduled_job_as_definition
from jobs_api.targets import TargetRefused, local_corruption_of

_RUN_NUMBER = re.compile(r"-run-([0-9]+)$")


def put_scheduled_job(job_id: str, definition: ScheduledJobDefinition, if_match: str | None,
                      ctx: Collaborators) -> ScheduledJob:
    """Create or replace. Sent again with the same body, the same scheduled job (its state kept)."""
    limits.validate_job_id(job_id, "scheduledJobId")
    return _save(job_id, definition, if_match or definition.etag, _existing(job_id, ctx), ctx)


def patch_scheduled_job(job_id: str, patch: object, if_match: str | None, ctx: Collaborators) -> ScheduledJob:
    """A JSON merge patch (RFC 7396) of the stored definition, checked as a whole definition is."""
    if not isinstance(patch, dict):
        raise InvalidField("body", "must be a JSON object (a merge patch).")
    stored = ctx.scheduled_jobs.get(job_id)
    definition = ScheduledJobDefinition.model_validate(merge_patch(scheduled_job_as_definition(stored), patch))
    return _save(job_id, definition, if_match or definition.etag, stored, ctx)


def delete_scheduled_job(job_id: str, if_match: str | None, ctx: Collaborators) -> None:
    """Its future runs never start; its past runs stay, as jobs."""
    ctx.scheduled_jobs.delete(job_id, etag=None if if_match in (None, "*") else if_match)


def read_scheduled_job(job_id: str, ctx: Collaborators) -> ScheduledJobView:
    return ScheduledJobView.of(ctx.scheduled_jobs.get(job_id), ctx.clock())


def LIST_ORDER(job: ScheduledJob) -> tuple[str]:
    return (job.id,)


def list_scheduled_jobs(ctx: Collaborators) -> list[ScheduledJob]:
    return sorted(ctx.scheduled_jobs.list(), key=LIST_ORDER)


def list_runs(job_id: str, ctx: Collaborators) -> list[Job]:
    """The scheduled job's runs in the history window, newest first (jobs' LIST_ORDER)."""
    ctx.scheduled_jobs.get(job_id)  # 404 for an unknown one rather than an empty list
    return [job for job in list_jobs(ctx) if job.scheduled_job_id == job_id]


def view(job: ScheduledJob, ctx: Collaborators) -> ScheduledJobView:
    return ScheduledJobView.of(job, ctx.clock())


def merge_patch(target: object, patch: object) -> object:
    """RFC 7396: objects merge member by member, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged


def _save(job_id: str, definition: ScheduledJobDefinition, expected: str | None, existing: ScheduledJob | None,
          ctx: Collaborators) -> ScheduledJob:
    now = ctx.clock()
    if expected and (existing is None or expected not in ("*", existing.etag)):
        raise ConcurrencyConflict("Scheduled job", job_id)  # If-Match needs the current version
    requested = definition.to_scheduled_job(job_id, now)
    if existing is None or requested.schedule != existing.schedule:
        _require_future_if_once(requested.schedule, now)
    _require_runnable(requested, ctx)
    if existing is None:
        try:
            return ctx.scheduled_jobs.add(_numbered_after_earlier_runs(requested, ctx, by=ctx.caller))
        except AlreadyExists:  # made at once by another request: replace it, as a PUT does
            pass
    return ctx.scheduled_jobs.change(job_id, lambda stored: stored.redefined(requested, ctx.clock()),
                                     if_match=expected)


def _numbered_after_earlier_runs(job: ScheduledJob, ctx: Collaborators, by) -> ScheduledJob:
    """A scheduled job made again under an id whose earlier runs are still kept numbers its own
    runs after theirs, so none of them takes an earlier run's id."""
    numbers = [int(match.group(1)) for run in list_jobs(ctx) if run.scheduled_job_id == job.id
               and (match := _RUN_NUMBER.search(run.id))]
    job.run_base, job.created_by = max(numbers, default=0), by.actor
    return job


def _require_future_if_once(schedule: Schedule, now: datetime) -> None:
    if schedule.recurrence is None and schedule.start < now:
        raise InvalidField("schedule.start", "must not be in the past for a job that runs once.")


def _require_runnable(job: ScheduledJob, ctx: Collaborators) -> None:
    require_batches_for_threshold(job.batch, job.cancellation_threshold)
    try:
        group = ctx.groups.get(job.group_id)
    except DeviceGroupNotFound:
        raise TargetRefused("group", f"Device group '{job.group_id}' was not found.", "DeviceGroupNotFound") from None
    reason = local_corruption_of(group)
    if reason:
        raise TargetRefused("group", f"Device group '{group.id}' is corrupted: {reason}", "DeviceGroupCorrupted")


def _existing(job_id: str, ctx: Collaborators) -> ScheduledJob | None:
    try:
        return ctx.scheduled_jobs.get(job_id)
    except ScheduledJobNotFound:
        return None
