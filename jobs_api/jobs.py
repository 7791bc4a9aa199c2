"""Job use cases: plain functions over the collaborators; they raise domain errors, never HTTP ones.

A refused request changes nothing: every check runs before the first write. Running a job writes
it as `pending` and then asks for planning (a `PlanRequest` on `jobs-plan`); if that message
cannot be sent, the write is undone (the new job removed, the draft or stopped job restored), so
no job waits in `pending` for a plan that never comes, and the caller may simply retry.
"""
from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from shared.collaborators import Collaborators
from shared.domain import access, limits
from shared.domain.devices import DevicePage, DeviceStatus, JobDevice
from shared.domain.errors import (AlreadyExists, ConcurrencyConflict, IllegalTransition, InvalidField, JobNotFound,
                                  LimitReached)
from shared.domain.jobs import Job, JobAction, JobStatus
from shared.domain.progress import Progress
from shared.domain.rollout import RolloutBatch
from shared.messages import PlanRequest
from shared.repositories.jobs import require_version
from shared.repositories.tables import CHANGE_ATTEMPTS
from jobs_api.models import DraftRequest, JobDefinition, JobPatch, JobView
from jobs_api.targets import group_of, require_subset_in_group, require_usable_group

logger = logging.getLogger(__name__)


class PlanningUnavailable(Exception):
    """The plan request could not be queued; the job was put back as it was."""


def create_job(job_id: str, definition: JobDefinition, ctx: Collaborators) -> Job:
    """IoT Central's `PUT /jobs/{id}`: create the job and start it (see start_job)."""
    limits.validate_job_id(job_id, "jobId")
    return start_job(replace(definition.to_job(job_id, ctx.clock()), created_by=ctx.caller.actor), ctx)


def start_job(job: Job, ctx: Collaborators) -> Job:
    """The one way a new job starts, for callers of the API and the scheduler alike: every check,
    then the job written `pending` and its planning asked for.

    Safe to retry: asked again (a caller whose request timed out, a scheduler that crashed
    before it recorded the run, two schedulers at once) it answers the job it created, started
    once; a different job under that id is AlreadyExists."""
    existing = _existing(job.id, ctx)  # before any hub call
    if existing is not None:
        return _same_job_or_refuse(existing, job)
    try:
        return _run_new(job, ctx)
    except AlreadyExists:  # the same create, sent twice at once: the other one won
        return _same_job_or_refuse(ctx.jobs.get(job.id), job)


def _same_job_or_refuse(existing: Job, requested: Job) -> Job:
    if (existing.status is not JobStatus.DRAFT and existing.rerun_of is None and existing.is_defined_as(requested)
            and existing.scheduled_job_id == requested.scheduled_job_id):
        return existing
    raise AlreadyExists("Job", existing.id)


def save_draft(request: DraftRequest, ctx: Collaborators) -> Job:
    """`POST /jobs`: a draft with a server-made id; with `run`, it is run at once."""
    job = replace(request.to_job(str(uuid.uuid4()), ctx.clock()), created_by=ctx.caller.actor)
    if request.run:
        access.require(ctx.caller, access.Action.RUN_JOB)  # admitted for saving a draft; this also runs it
        return _run_new(job, ctx)
    _require_room(ctx, (JobStatus.DRAFT,), ctx.settings.max_draft_jobs, "drafts", "MAX_DRAFT_JOBS")
    return ctx.jobs.add(job)


def run_draft(job_id: str, if_match: str | None, ctx: Collaborators) -> Job:
    """`POST /jobs/{id}/run`: the group and subset are checked now, not when the draft was saved.

    The run applies to the draft as checked. Without If-Match, a draft edited meanwhile is read
    and checked again; with it, an edited draft is the caller's 412."""
    if_match = None if if_match == "*" else if_match
    for _ in range(1 if if_match else CHANGE_ATTEMPTS):
        draft = load(job_id, if_match, ctx)
        draft.require(JobAction.RUN)
        _require_room_to_run(ctx)
        require_runnable(draft, ctx)  # asks the hub: before the change, which must not wait on it
        try:
            change = ctx.jobs.change(job_id, lambda job: job.run(ctx.clock()), if_match=draft.etag)
        except ConcurrencyConflict:
            if if_match:
                raise
            continue
        _request_planning(change.after, PlanRequest.plan(change.after), ctx,
                          undo=lambda: _restore(change.before, change.after, ctx))
        return change.after
    raise IllegalTransition(f"job {job_id}", "being edited", "run (it changed on every attempt; try again)")


def edit_draft(job_id: str, patch: JobPatch, if_match: str | None, ctx: Collaborators) -> Job:
    changes = patch.changes()
    return ctx.jobs.change(job_id, lambda job: job.edit(ctx.clock(), **changes), if_match).after


def stop_job(job_id: str, if_match: str | None, ctx: Collaborators) -> Job:
    return ctx.jobs.change(job_id, lambda job: job.stop(ctx.clock(), by=ctx.caller.actor), if_match).after


def resume_job(job_id: str, if_match: str | None, ctx: Collaborators) -> Job:
    change = ctx.jobs.change(job_id, lambda job: job.resume(ctx.clock(), by=ctx.caller.actor), if_match)
    if not change.changed:
        return change.after  # it runs already: its planning was asked for then
    _request_planning(change.after, PlanRequest.resume(change.after), ctx,
                      undo=lambda: _restore(change.before, change.after, ctx))
    return change.after


def copy_job(job_id: str, ctx: Collaborators) -> Job:
    """`POST /jobs/{id}/copy`: a new draft named "<name> Copy"; the source is not changed."""
    copied = ctx.jobs.get(job_id).copy(str(uuid.uuid4()), ctx.clock(), by=ctx.caller.actor)
    _require_room(ctx, (JobStatus.DRAFT,), ctx.settings.max_draft_jobs, "drafts", "MAX_DRAFT_JOBS")
    return ctx.jobs.add(copied)


def rerun_job(job_id: str, rerun_id: str, ctx: Collaborators) -> Job:
    """IoT Central's `PUT /jobs/{id}/rerun/{rerunId}`: a new job `rerunId` with the same
    operations, run at once on the devices that failed in the ended job `id` (whatever the
    group holds now; the planner reads them from the job's rows)."""
    limits.validate_job_id(rerun_id, "rerunId")
    source = ctx.jobs.get(job_id)
    source.require(JobAction.RERUN)
    if ctx.job_devices.get_progress(job_id).failed == 0:
        raise IllegalTransition(f"job {job_id}", source.status.value, "rerun (no device failed in)")
    if _existing(rerun_id, ctx) is not None:
        raise AlreadyExists("Job", rerun_id)
    _require_room_to_run(ctx)
    rerun = source.rerun(rerun_id, ctx.clock(), by=ctx.caller.actor)
    rerun.run(ctx.clock())
    ctx.jobs.add(rerun)
    _request_planning(rerun, PlanRequest.plan(rerun), ctx, undo=lambda: ctx.jobs.delete(rerun.id, rerun.etag))
    return rerun


def delete_job(job_id: str, if_match: str | None, ctx: Collaborators) -> None:
    """Drafts, pending, stopped and ended jobs. The job is marked as being deleted first (its
    planner stops, nothing else changes it), then its device rows go, then the job, so a failure
    leaves it listed, and a delete asked again finishes it."""
    def mark(job: Job) -> None:
        job.require(JobAction.DELETE)
        job.mark_deleting()

    marked = ctx.jobs.change(job_id, mark, if_match).after
    ctx.job_devices.delete_all(job_id)
    ctx.jobs.delete(job_id, etag=marked.etag)


def get_job(job_id: str, ctx: Collaborators) -> JobView:
    return view_of(ctx.jobs.get(job_id), ctx)


def view_of(job: Job, ctx: Collaborators) -> JobView:
    return JobView.of(job, _progress_of(job, ctx), rollout_batches_of(job, ctx))


def rollout_batches_of(job: Job, ctx: Collaborators) -> list[RolloutBatch]:
    """The job's rollout batches, once planning cut them; a read only for a job with `batch`."""
    if job.batch is None or job.status is JobStatus.DRAFT:
        return []
    return ctx.job_devices.rollout_batches(job.id)


def LIST_ORDER(job: Job) -> tuple[int, str]:
    """Newest first, then by id: a key that never changes while a job lives, so a walk through a
    list's pages is not thrown off by jobs that start or end meanwhile."""
    return -(job.created_at - _EPOCH) // timedelta(microseconds=1), job.id


def list_jobs(ctx: Collaborators) -> list[Job]:
    """The jobs created in the history window, or still active, in LIST_ORDER."""
    return sorted(ctx.jobs.list_recent(ctx.clock(), ctx.settings.job_history_retention_days), key=LIST_ORDER)


def list_job_devices(job_id: str, status: str | None, page_size: int, token: str | None,
                     ctx: Collaborators) -> tuple[DevicePage[JobDevice], list[RolloutBatch]]:
    """A page of the job's devices, with its rollout batches to say which batch each is in."""
    wanted = _device_status(status)
    job = ctx.jobs.get(job_id)  # 404 for an unknown job rather than an empty page
    try:
        return ctx.job_devices.list_devices(job_id, wanted, page_size, token), rollout_batches_of(job, ctx)
    except InvalidField:  # the storage position in the token is not one this list gave
        raise InvalidField("$skiptoken", "is not valid; use the nextLink of the previous page.") from None


def require_runnable(job: Job, ctx: Collaborators) -> None:
    """Everything a run needs, checked before anything is written."""
    require_batches_for_threshold(job.batch, job.cancellation_threshold)
    group = group_of(job, ctx.groups)
    require_usable_group(group, ctx.hub)
    if job.devices:
        require_subset_in_group(group, job.devices, ctx.hub)


def require_batches_for_threshold(batch: dict | None, threshold: dict | None) -> None:
    """A threshold per batch needs batches to count in."""
    if (threshold or {}).get("batch") and batch is None:
        raise InvalidField("cancellationThreshold.batch", "is true but the job has no batch; add a batch, or set it "
                           "to false to apply the threshold to the whole job.")


def load(job_id: str, if_match: str | None, ctx: Collaborators) -> Job:
    return require_version(ctx.jobs.get(job_id), if_match)


def _run_new(job: Job, ctx: Collaborators) -> Job:
    _require_room_to_run(ctx)
    require_runnable(job, ctx)
    job.run(ctx.clock())
    ctx.jobs.add(job)
    _request_planning(job, PlanRequest.plan(job), ctx, undo=lambda: ctx.jobs.delete(job.id, job.etag))
    return job


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.STOPPED)


def _require_room_to_run(ctx: Collaborators) -> None:
    _require_room(ctx, _ACTIVE, ctx.settings.max_active_jobs, "active jobs (pending, running or stopped)",
                  "MAX_ACTIVE_JOBS")


def _require_room(ctx: Collaborators, statuses: tuple[JobStatus, ...], limit: int, kind: str, setting: str) -> None:
    """One client must not fill the app: a count per state, checked before anything is written
    (concurrent requests may pass it together by a few)."""
    if limit and ctx.jobs.count(statuses) >= limit:
        raise LimitReached(kind, limit, setting)


def _existing(job_id: str, ctx: Collaborators) -> Job | None:
    try:
        return ctx.jobs.get(job_id)
    except JobNotFound:
        return None


def _request_planning(job: Job, request: PlanRequest, ctx: Collaborators, undo: Callable[[], object]) -> None:
    """Queue the plan request, and the watchdog's first look at the job: if planning cannot run
    (its messages fail until the host gives up on them), the job is planned again or fails
    instead of staying pending."""
    try:
        stall_seconds = ctx.settings.dispatch_stall_seconds
        if stall_seconds > 0:
            watch = PlanRequest.watch(job, ctx.job_devices.planning_state(job.id))
            ctx.plan_queue.send(watch.to_text(), delay_seconds=stall_seconds)
        ctx.plan_queue.send(request.to_text())
    except Exception as error:  # any failure to queue: undo the write, whatever the cause
        logger.warning("queueing the plan request of job %s failed (%s); undoing the write", job.id, error)
        try:
            undo()
        except Exception:
            logger.exception("undoing job %s failed; it stays %s", job.id, job.status.value)
            raise PlanningUnavailable(f"Job '{job.id}' could not be queued for planning.") from error
        raise PlanningUnavailable(f"Job '{job.id}' could not be queued for planning; nothing was changed.") from error


def _restore(previous: Job, written: Job, ctx: Collaborators) -> None:
    """Put the job back as it was before `written`, unless something changed it since."""
    ctx.jobs.change(written.id, lambda job: copy.deepcopy(previous), if_match=written.etag)


def _progress_of(job: Job, ctx: Collaborators) -> Progress:
    if job.status is JobStatus.DRAFT:
        return Progress()  # nothing is planned; saves a read per listed draft
    return ctx.job_devices.get_progress(job.id)


def _device_status(status: str | None) -> DeviceStatus | None:
    if status is None:
        return None
    try:
        return DeviceStatus(status)
    except ValueError:
        raise InvalidField("status", "must be one of pending, running, completed, failed.") from None
