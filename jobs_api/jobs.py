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

from shared.domain import limits
from shared.domain.devices import DeviceStatus
from shared.domain.errors import (AlreadyExists, ConcurrencyConflict, DeviceGroupNotFound, IllegalTransition,
                                  InvalidField, JobNotFound)
from shared.domain.groups import DeviceGroup
from shared.domain.jobs import Job, JobAction, JobStatus
from shared.domain.progress import Progress
from shared.messages import PlanRequest
from shared.repositories import DevicePage
from jobs_api.collaborators import Collaborators
from jobs_api.models import DraftRequest, JobDefinition, JobPatch, JobView
from jobs_api.targets import TargetRefused, require_subset_in_group, require_usable_group

logger = logging.getLogger(__name__)

_ATTEMPTS_WITHOUT_IF_MATCH = 5  # the planner and collector also write the job; re-read and retry


class PlanningUnavailable(Exception):
    """The plan request could not be queued; the job was put back as it was."""


def create_job(job_id: str, definition: JobDefinition, ctx: Collaborators) -> Job:
    """IoT Central's `PUT /jobs/{id}`: create the job and start it."""
    limits.validate_job_id(job_id, "jobId")
    job = definition.to_job(job_id, ctx.clock())
    if _exists(job_id, ctx):
        raise AlreadyExists("Job", job_id)  # before any hub call
    return _run_new(job, ctx)


def save_draft(request: DraftRequest, ctx: Collaborators) -> Job:
    """`POST /jobs`: a draft with a server-made id; with `run`, it is run at once."""
    job = request.to_job(str(uuid.uuid4()), ctx.clock())
    return _run_new(job, ctx) if request.run else ctx.jobs.add(job)


def run_draft(job_id: str, if_match: str | None, ctx: Collaborators) -> Job:
    """`POST /jobs/{id}/run`: the group and subset are checked now, not when the draft was saved."""
    job = load(job_id, if_match, ctx)
    job.require(JobAction.RUN)
    require_runnable(job, ctx)
    draft = copy.deepcopy(job)
    job.run(ctx.clock())
    ctx.jobs.update(job)
    _request_planning(job, PlanRequest(job_id=job.id), ctx, undo=lambda: _restore(draft, job.etag, ctx))
    return job


def edit_draft(job_id: str, patch: JobPatch, if_match: str | None, ctx: Collaborators) -> Job:
    changes = patch.changes()
    return change_job(job_id, if_match, ctx, lambda job: job.edit(ctx.clock(), **changes))


def stop_job(job_id: str, if_match: str | None, ctx: Collaborators) -> Job:
    return change_job(job_id, if_match, ctx, lambda job: job.stop(ctx.clock()))


def resume_job(job_id: str, if_match: str | None, ctx: Collaborators) -> Job:
    as_read: dict[str, Job] = {}

    def resume(job: Job) -> None:
        as_read["stopped"] = copy.deepcopy(job)
        job.resume(ctx.clock())

    job = change_job(job_id, if_match, ctx, resume)
    _request_planning(job, PlanRequest(job_id=job.id, resume=True), ctx,
                      undo=lambda: _restore(as_read["stopped"], job.etag, ctx))
    return job


def copy_job(job_id: str, ctx: Collaborators) -> Job:
    """`POST /jobs/{id}/copy`: a new draft named "<name> Copy"; the source is not changed."""
    return ctx.jobs.add(ctx.jobs.get(job_id).copy(str(uuid.uuid4()), ctx.clock()))


def rerun_job(job_id: str, rerun_id: str, ctx: Collaborators) -> Job:
    """IoT Central's `PUT /jobs/{id}/rerun/{rerunId}`: a new job `rerunId` with the same
    operations, run at once on the devices that failed in the ended job `id` (whatever the
    group holds now; the planner reads them from the job's rows)."""
    limits.validate_job_id(rerun_id, "rerunId")
    source = ctx.jobs.get(job_id)
    source.require(JobAction.RERUN)
    if ctx.job_devices.get_progress(job_id).failed == 0:
        raise IllegalTransition(f"job {job_id}", source.status.value, "rerun (no device failed in)")
    if _exists(rerun_id, ctx):
        raise AlreadyExists("Job", rerun_id)
    rerun = source.rerun(rerun_id, ctx.clock())
    rerun.run(ctx.clock())
    ctx.jobs.add(rerun)
    _request_planning(rerun, PlanRequest(job_id=rerun.id), ctx, undo=lambda: ctx.jobs.delete(rerun.id, rerun.etag))
    return rerun


def delete_job(job_id: str, if_match: str | None, ctx: Collaborators) -> None:
    """Drafts, stopped and ended jobs only. Device rows go first, so a failure leaves the job listed."""
    job = load(job_id, if_match, ctx)
    job.require(JobAction.DELETE)
    ctx.job_devices.delete_all(job_id)
    ctx.jobs.delete(job_id, etag=job.etag)


def get_job(job_id: str, ctx: Collaborators) -> JobView:
    return view_of(ctx.jobs.get(job_id), ctx)


def view_of(job: Job, ctx: Collaborators) -> JobView:
    return JobView.of(job, _progress_of(job, ctx))


def list_jobs(ctx: Collaborators) -> list[Job]:
    """Running jobs first, then newest first; created in the history window, or still active."""
    return ctx.jobs.list_recent(ctx.clock(), ctx.history_days)


def list_job_devices(job_id: str, status: str | None, page_size: int, token: str | None,
                     ctx: Collaborators) -> DevicePage:
    wanted = _device_status(status)
    ctx.jobs.get(job_id)  # 404 for an unknown job rather than an empty page
    return ctx.job_devices.list_devices(job_id, wanted, page_size, token)


def require_runnable(job: Job, ctx: Collaborators) -> None:
    """Everything a run needs, checked before anything is written."""
    if job.batch is not None:
        raise TargetRefused("batch", "batch is stored with a draft but not carried out yet; remove it to run the "
                            "job.", "NotSupported")
    if (job.cancellation_threshold or {}).get("batch"):
        raise TargetRefused("cancellationThreshold", "a cancellation threshold per batch needs batches, which are "
                            "not carried out yet; set its batch to false to apply it to the whole job.", "NotSupported")
    group = _group_of(job, ctx)
    require_usable_group(group, ctx.hub)
    if job.devices:
        require_subset_in_group(group, job.devices, ctx.hub)


def load(job_id: str, if_match: str | None, ctx: Collaborators) -> Job:
    job = ctx.jobs.get(job_id)
    if if_match and if_match != "*" and if_match != job.etag:
        raise ConcurrencyConflict("Job", job_id)
    return job


def change_job(job_id: str, if_match: str | None, ctx: Collaborators, change: Callable[[Job], object]) -> Job:
    """Read, change, write with the read's ETag. With If-Match a lost race is the caller's 412;
    without, it is the pipeline moving the job meanwhile, so read again and re-apply."""
    attempts = 1 if if_match else _ATTEMPTS_WITHOUT_IF_MATCH
    for attempt in range(attempts):
        job = load(job_id, if_match, ctx)
        change(job)
        try:
            return ctx.jobs.update(job)
        except ConcurrencyConflict:
            if attempt + 1 == attempts:
                raise
    raise AssertionError("unreachable")


def _run_new(job: Job, ctx: Collaborators) -> Job:
    require_runnable(job, ctx)
    job.run(ctx.clock())
    ctx.jobs.add(job)
    _request_planning(job, PlanRequest(job_id=job.id), ctx, undo=lambda: ctx.jobs.delete(job.id, job.etag))
    return job


def _exists(job_id: str, ctx: Collaborators) -> bool:
    try:
        ctx.jobs.get(job_id)
    except JobNotFound:
        return False
    return True


def _group_of(job: Job, ctx: Collaborators) -> DeviceGroup:
    try:
        return ctx.groups.get(job.group_id)
    except DeviceGroupNotFound:
        raise TargetRefused("group", f"Device group '{job.group_id}' was not found.", "DeviceGroupNotFound") from None


def _request_planning(job: Job, request: PlanRequest, ctx: Collaborators, undo: Callable[[], object]) -> None:
    try:
        ctx.plan_queue.send(request.to_text())
    except Exception as error:  # any failure to queue: undo the write, whatever the cause
        logger.warning("queueing the plan request of job %s failed (%s); undoing the write", job.id, error)
        try:
            undo()
        except Exception:
            logger.exception("undoing job %s failed; it stays %s", job.id, job.status.value)
            raise PlanningUnavailable(f"Job '{job.id}' could not be queued for planning.") from error
        raise PlanningUnavailable(f"Job '{job.id}' could not be queued for planning; nothing was changed.") from error


def _restore(previous: Job, current_etag: str | None, ctx: Collaborators) -> None:
    previous.etag = current_etag
    ctx.jobs.update(previous)


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
