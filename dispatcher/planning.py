"""Plan a job (queue `jobs-plan`): resolve its targets page by page, write one `pending` row per
device, then enqueue one dispatch message per batch of the pending devices.

- A group's devices come from an export of the hub's registry where they can (see
  export_planning.py: one jobs operation, and sending starts with the first page); otherwise,
  and for reruns and explicit subsets, from twin queries as below.
- Memory stays flat: one hub page (100 devices) at a time; batches are cut afterwards from the
  stored rows (`pending_batches`), so a batch never overlaps another, whatever order the hub
  pages came in. A group that takes longer than PLAN_SECONDS_PER_INVOCATION to page through
  continues in a new `jobs-plan` message carrying the query's continuation.
- Per-device facts the sender would otherwise need (IoT Edge, modelId) are in the query's
  twins, so devices the job cannot apply to fail here (`EdgeNotSupported`, `ModelMismatch`)
  and the sender needs no twin read or query of its own.
- An empty group ends the job at once as `completed` (nothing failed: the end rule of the
  design) with the reason saying no device matched. A group that no longer exists or whose
  filter IoT Hub refuses fails the job with the reason.
- Resume (a `resume` message): a job running again has its `running` rows claimed longer ago
  than any live sender holds one resolved by the dead-sender rule (dead_sender_rule.py), then
  its still-pending devices batched anew; a job stopped before its planning finished is
  pending again and planned anew.
- A stall watchdog (`watch` messages, see `watch_job`) follows every running job.
- Rollout batches (a job's `batch`, see shared.domain.rollout): cut once planning finished, before
  anything is sent; only the active batch's pending devices are dispatched. When the collector
  sees the active batch done it asks for the next (`nextBatch`), which is made active and sent
  to, or, with `pauseAfterEach`, left for a resume.
- Rollout rate (a job's `rolloutRate`, see shared.domain.rollout_rate): the planner paces the
  job itself, a step at a time: each step sends the dispatch messages of the next STEP_SECONDS
  (batches of about a second's worth of devices, each with a visibility delay a batch's worth
  of the rate after the one before), then a delayed `dispatchMore` to itself carrying the last
  id sent and the run (`since`: the job's lastModified; a stop or resume ends the chain). The
  ramp's rate is computed at each step from the job's counters. See dispatcher/README.md.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from itertools import islice

from shared.collaborators import Collaborators
from shared.domain.batching import DeviceBatch
from shared.domain.devices import DeviceErrorCode, DeviceOutcome, DeviceStatus
from shared.domain.errors import DeviceGroupNotFound, InvalidGroupFilter, JobNotFound
from shared.domain.groups import SUBSET_CHUNK, selecting, subset_query
from shared.domain.hub_quotas import HubQuotas, fair_share_delay
from shared.domain.jobs import Job, JobAction, JobStatus
from shared.domain.limits import MAX_BATCH_SIZE
from shared.domain.progress import Progress
from shared.domain.registry_export import export_condition
from shared.domain.rollout import Rollout, batch_size, cut_batches
from shared.domain.rollout_rate import STEP_SECONDS, PacedStep, RolloutRate
from shared.hub_gateway import INVALID_QUERY, DeviceSummary, HubFailure
from shared.messages import DispatchRequest, OutcomesReport, PlanKind, PlanRequest
from shared.repositories.jobs import JobChange

from dispatcher.dead_sender_rule import resolve_leftovers, sender_lease
from dispatcher.export_planning import (dispatch_page, end_planning, export_possible,
                                        export_written, matching_targets, pages_of, planning_turns,
                                        start_export, start_while_planning)
from dispatcher.sending import MAX_WAIT_SECONDS

logger = logging.getLogger(__name__)

EMPTY_GROUP_REASON = "The device group matched no devices, so there was nothing to do."
PAGE_SIZE = MAX_BATCH_SIZE  # <= IoT Hub's largest page (100); one page is one add_pending transaction
# What planning reads of a twin (see `refusal`): a page of whole twins costs the planner four
# times the CPU to read, and IoT Hub more bytes to send.
TWIN_FIELDS = "deviceId, modelId, capabilities"


def plan_job(request: PlanRequest, c: Collaborators) -> None:
    try:
        job = c.jobs.get(request.job_id)
    except JobNotFound:
        logger.info("job %s is gone; nothing to plan", request.job_id)
        return
    if not request.is_for(job):
        logger.info("job %s: a %s message of an earlier job with this id; dropped", job.id, request.kind.value)
        return
    _BY_KIND[request.kind](job, request, c)


def _plan(job: Job, request: PlanRequest, c: Collaborators) -> None:
    if job.status is JobStatus.PENDING:
        if cleared := c.job_devices.clear_other_incarnation(job.id, job.incarnation):
            logger.warning("job %s: %d rows of an earlier job with this id deleted before planning", job.id, cleared)
        plan_targets(job, None, c, export_asked_at=request.asked_at)
    elif job.status is JobStatus.RUNNING and job.planning:
        plan_targets(job, None, c, export_asked_at=request.asked_at)  # asked again by the watchdog
    elif job.status is JobStatus.RUNNING:
        dispatch_pending(job, c, watch=False)  # a redelivered plan message: batch what is still pending


def _continue(job: Job, request: PlanRequest, c: Collaborators) -> None:
    if _planning_now(job):
        plan_targets(job, request.continuation, c)


def _exported(job: Job, request: PlanRequest, c: Collaborators) -> None:
    if not _planning_now(job):
        return  # stopped or deleted meanwhile: a resume plans it anew
    written = export_written(request, job, c)
    if written:
        plan_from_export(job, request, c)
    elif written is False:
        plan_targets(job, None, c, by_queries=True)


def _dispatch_more(job: Job, request: PlanRequest, c: Collaborators) -> None:
    if job.status is not JobStatus.RUNNING:
        return  # stopped or ended: a resume paces it anew
    if request.since is not None and not _same_time(job.last_modified, request.since):
        logger.info("job %s: a pacing step of a run before a stop or resume; dropped", job.id)
        return
    dispatch_pending(job, c, watch=False, after=request.after)


def _next_batch(job: Job, request: PlanRequest, c: Collaborators) -> None:
    """Rollout batch `finished` has every outcome: keep its counts, make the next batch active,
    then send to it, pause the job (`pauseAfterEach`), or cancel it when the next batch's
    refused devices alone cross a per-batch threshold. A stopped job goes on at its resume:
    its dispatch finds the batch done and asks again."""
    if job.status is not JobStatus.RUNNING:
        return
    progress = c.job_devices.get_progress(job.id)
    rollout = progress.rollout
    if rollout is None or rollout.active != request.finished or rollout.is_last or not rollout.active_done(progress):
        return  # moved on already (a message delivered twice), or not done after all
    batches = c.job_devices.rollout_batches(job.id)
    finished = rollout.active_progress(progress)
    c.job_devices.save_rollout_batches(job.id, [batches[rollout.active].finished_with(finished)])
    following = rollout.following(finished, batches[rollout.active + 1])
    if not c.job_devices.set_rollout(job.id, following, rollout.active, job.incarnation):
        return  # another delivery moved it first
    logger.info("job %s: batch %d of %d done %s; batch %d next", job.id, rollout.active + 1, rollout.count,
                finished.as_dict(), following.active + 1)
    if reason := job.threshold_crossed(Progress(**progress.as_dict(), rollout=following)):
        _change(job, c, JobAction.CANCEL, lambda j, now: j.cancel(reason, now))
    elif job.batch_pauses:
        _change(job, c, JobAction.STOP, lambda j, now: j.pause_after_batch(rollout.active, rollout.count, now))
    else:
        dispatch_pending(job, c, watch=False)


def plan_targets(job: Job, continuation: str | None, c: Collaborators, by_queries: bool = False,
                 export_asked_at: datetime | None = None) -> None:
    if continuation is None and not by_queries and _plan_by_export(job, c, export_asked_at):
        return
    pages = _target_pages(job, continuation, c)
    if pages is None:
        return
    deadline = c.monotonic() + c.settings.plan_seconds_per_invocation
    for device_ids, found, following in pages:
        if not _still_planned(job, c):
            return  # stopped or being deleted meanwhile: a resume plans it anew
        _add_targets(job, device_ids, found, c)
        if following is None:
            _finish_planning(job, c)
            return
        if c.monotonic() >= deadline:
            c.plan_queue.send(PlanRequest.continuing(job, following).to_text())
            return


def _plan_by_export(job: Job, c: Collaborators, asked_at: datetime | None) -> bool:
    """Whether planning goes by a registry export (see export_planning), or is over (the job failed)."""
    if not export_possible(job, c):
        return False
    query = _group_query(job, c)
    if query is None:
        return True  # the group is gone or corrupted: the job failed
    return export_condition(query) is not None and start_export(job, c, asked_at)


def plan_from_export(job: Job, request: PlanRequest, c: Collaborators) -> None:
    """The group's devices from the written export, a page at a time in id order. A job without
    rollout batches or rate starts with its first page and sends each page as it is written."""
    query = _group_query(job, c)
    if query is None:
        return
    condition = export_condition(query)
    if condition is None:  # the group's filter changed since the export was asked for
        plan_targets(job, None, c, by_queries=True)
        return
    ids, refused, earlier = matching_targets(c.registry_exports.lines(request.export_blob), condition, job,
                                             request.after, refusal)
    paced_from, quotas = request.since or c.clock(), HubQuotas.of(c.settings)  # since: the first page's sending
    sends_while_planning = not job.batch and job.rollout_rate is None
    replanned = request.replanned if request.after is not None else c.job_devices.get_progress(job.id).total > 0
    deadline = c.monotonic() + c.settings.plan_seconds_per_invocation
    logger.info("job %s: %d devices of the registry export match the group", job.id, len(ids))
    written = 0  # pages
    for turn in planning_turns(pages_of(ids, PAGE_SIZE)):
        stored = _planning_job(job, c)
        if stored is None:
            return  # stopped or being deleted meanwhile: a resume plans it anew
        _add_pages(job, turn, refused, c)
        if sends_while_planning:
            if stored.status is JobStatus.PENDING and (started := start_while_planning(job, c)).changed:
                _send_watch(started.after, None, c)
            for index, page in enumerate(turn, start=written):
                due = fair_share_delay(earlier + index * PAGE_SIZE, job.operations, quotas)
                dispatch_page(job, page, max(0.0, due - (c.clock() - paced_from).total_seconds()), c)
        written += len(turn)
        last = turn[-1][-1]
        if c.monotonic() >= deadline and last != ids[-1]:
            carry_on = {"after": last, "replanned": replanned, "since": paced_from}
            c.plan_queue.send(request.model_copy(update=carry_on).to_text())
            return
    stored = _planning_job(job, c)
    if stored is None:
        return
    c.registry_exports.delete(request.export_blob)
    if stored.planning:
        end_planning(job, replanned, c, dispatch_pending)
    else:
        _finish_planning(job, c)


def _add_pages(job: Job, pages: list[list[str]], refused: dict[str, DeviceOutcome], c: Collaborators) -> None:
    """One turn's pages, in one call: the job's partition is this planner's for the turn (one
    transaction a page, see planning_turns)."""
    now, device_ids = c.clock(), [device_id for page in pages for device_id in page]
    c.job_devices.add_pending(job.id, device_ids, now, job.incarnation)
    outcomes = [refused[device_id] for device_id in device_ids if device_id in refused]
    if outcomes:  # a replayed page changes nothing: the rows are final
        c.job_devices.record_outcomes(job.id, outcomes, now, job.incarnation)


def replan_resumed(job: Job, request: PlanRequest, c: Collaborators) -> None:
    if job.status is JobStatus.PENDING:
        plan_targets(job, None, c)  # stopped before its planning finished: plan it anew (rows kept)
        return
    if job.status is not JobStatus.RUNNING:
        return  # stopped again (or ended) before this message ran; the next resume plans
    lease = sender_lease(c.host)
    if lease is not None:
        resolve_all_leftovers(job, c, claimed_before=c.clock() - lease)
    dispatch_pending(job, c, watch=False)  # the resume itself started the job's watchdog


def watch_job(job: Job, request: PlanRequest, c: Collaborators) -> None:
    """Every DISPATCH_STALL_SECONDS while the job runs: if its counters have not moved since the last
    look, recover it (leftover `running` rows by the dead-sender rule, pending rows re-batched,
    or the job ended if nothing is left). Covers dispatch and outcomes messages stuck with a
    dead instance until their visibility expires. A stop, resume or end ends this chain.
    A job with maintenance windows is stalled only if a window was open for the whole period:
    batches waiting for a window send nothing, and the chain goes on meanwhile.
    A pending job is watched too, from its run on (see watch_planning)."""
    if not _same_time(job.last_modified, request.since):
        return
    if job.status is JobStatus.PENDING:
        watch_planning(job, request, c)
        return
    if job.status is not JobStatus.RUNNING:
        return
    progress = c.job_devices.get_progress(job.id).as_dict()
    if request.progress == progress and _windows_open_since_last_look(job, c):
        logger.warning("job %s made no progress for %s s; recovering it", job.id, c.settings.dispatch_stall_seconds)
        resolve_all_leftovers(job, c)
        dispatch_pending(job, c, watch=False)
        if job.planning:  # started while it planned, and its planning stopped moving too
            c.plan_queue.send(PlanRequest.plan(job).to_text())
    _send_watch(job, progress, c)


def _windows_open_since_last_look(job: Job, c: Collaborators) -> bool:
    """Counters that did not move are a stall only if devices could be sent to all along: a job
    waiting for its maintenance window (or whose window opened since the last look) is not
    stalled. Always true for a job without windows."""
    now = c.clock()
    return job.window_open_throughout(now - timedelta(seconds=c.settings.dispatch_stall_seconds), now)


PLANNING_STALLED_REASON = ("Planning could not run: its messages failed repeatedly (storage or IoT Hub out of "
                           "reach). No device was sent to; copy the job to try again.")


def watch_planning(job: Job, request: PlanRequest, c: Collaborators) -> None:
    """A pending job whose planning added no row for a whole stall period: its plan messages
    failed until the host gave up on them, or were lost. Ask for planning once more (planning
    is idempotent); if that does not move it either, the job fails with a reason."""
    progress = c.job_devices.planning_state(job.id)
    if request.progress != progress:
        _send_watch(job, progress, c)  # planning is moving (walking devices planned before counts)
    elif not request.replanned:
        logger.warning("job %s: planning made no progress for %s s; planning it again", job.id,
                       c.settings.dispatch_stall_seconds)
        c.plan_queue.send(PlanRequest.plan(job).to_text())
        _send_watch(job, progress, c, replanned=True)
    else:
        _fail(job, PLANNING_STALLED_REASON, c)


def dispatch_pending(job: Job, c: Collaborators, watch: bool = True, after: str | None = None) -> int:
    """Dispatch messages for the job's pending devices (after the id `after`); returns how many.
    A job with a rollout rate gets one paced step of them (`_dispatch_paced`); any other one
    message per batch, and past PLAN_SECONDS_PER_INVOCATION the rest is left to a new `jobs-plan`
    message carrying the last id batched, so a huge group never holds one invocation for long."""
    rate = RolloutRate.of(job.rollout_rate)
    sent = _dispatch_all(job, c, after) if rate is None else _dispatch_paced(job, rate, c, after)
    # Nothing to send: the collector ends the job if nothing is running either (or starts the next batch).
    if sent == 0 and after is None:
        c.outcomes_queue.send(OutcomesReport.nothing_left(job).to_text())
    if watch:
        _send_watch(job, None, c)
    return sent


def _dispatch_all(job: Job, c: Collaborators, after: str | None) -> int:
    """Each batch visible at the job's fair share of the hub (fair_share_delay)."""
    sent, devices, deadline = 0, 0, c.monotonic() + c.settings.plan_seconds_per_invocation
    rollout = c.job_devices.get_progress(job.id).rollout if job.batch else None
    through = rollout.last_device_id if rollout else None  # only the active rollout batch
    quotas = HubQuotas.of(c.settings)
    for batch in c.job_devices.pending_batches(job.id, after=after, through=through):
        delay = fair_share_delay(devices, job.operations, quotas)
        c.dispatch_queue.send(DispatchRequest.of(job, batch).to_text(), delay_seconds=delay)
        sent, devices = sent + 1, devices + batch.size
        if c.monotonic() >= deadline:
            c.plan_queue.send(PlanRequest.dispatch_more(job, batch.last_device_id).to_text())
            break
    return sent


def _dispatch_paced(job: Job, rate: RolloutRate, c: Collaborators, after: str | None) -> int:
    """One step of a rate-limited job: the pending devices (after `after`, in the active rollout
    batch) it may start in the next STEP_SECONDS, in small batches whose visibility delays space
    them at the rate, then the next step, delayed until the last of them is due. The rate is the
    ramp's at the counters now: notified = devices no longer pending, succeeded = completed.
    In a closed maintenance window one small batch is sent (its sender holds it for the opening
    and says so in the job's reason) and the next step is due at the opening; a step never
    schedules past the end of an open window."""
    progress = c.job_devices.get_progress(job.id)
    rollout = progress.rollout if job.batch else None
    if rollout and after is not None and after < rollout.first_device_id:
        return 0  # a step of an earlier rollout batch's chain: the active batch has its own
    now = c.clock()
    window_end = job.window_end(now)
    seconds = STEP_SECONDS if window_end is None else min(STEP_SECONDS, (window_end - now).total_seconds())
    notified = progress.total - progress.pending
    step = PacedStep(rate, notified, progress.completed, seconds, follows_others=after is None and notified > 0)
    batches = c.job_devices.pending_batches(job.id, size=step.batch_size, after=after,
                                            through=rollout.last_device_id if rollout else None)
    sent, last = _send_step(job, step, islice(batches, 1) if window_end is None else batches, c)
    if step.full or (window_end is None and last is not None):
        _send_next_step(job, last, _next_step_delay(job, step, window_end, now), c)
    return sent


def _send_step(job: Job, step: PacedStep, batches: Iterator[DeviceBatch], c: Collaborators) -> tuple[int, str | None]:
    """A dispatch message per batch, delayed as the step says, until it is full; (how many, last id)."""
    sent, last = 0, None
    for batch in batches:
        delay = step.take(batch.size)
        if delay is None:
            break
        c.dispatch_queue.send(DispatchRequest.of(job, batch).to_text(), delay_seconds=delay)
        sent, last = sent + 1, batch.last_device_id
    return sent, last


def _next_step_delay(job: Job, step: PacedStep, window_end: datetime | None, now: datetime) -> float:
    if window_end is not None:
        return step.next_step_seconds
    opening = job.next_window_opening(now)
    return min(max((opening - now).total_seconds(), 1), MAX_WAIT_SECONDS) if opening else MAX_WAIT_SECONDS


def _send_next_step(job: Job, after: str, delay: float, c: Collaborators) -> None:
    step = PlanRequest.dispatch_more(job, after).model_copy(update={"since": job.last_modified})
    c.plan_queue.send(step.to_text(), delay_seconds=delay)


def resolve_all_leftovers(job: Job, c: Collaborators, claimed_before: datetime | None = None) -> None:
    """The dead-sender rule on the job's `running` rows (those claimed before `claimed_before`)."""
    running = (row for row in c.job_devices.iter_devices(job.id, DeviceStatus.RUNNING)
               if claimed_before is None or row.updated_at is None or row.updated_at < claimed_before)
    for report in OutcomesReport.split(job, resolve_leftovers(job, running, c.job_devices, c.clock())):
        c.outcomes_queue.send(report.to_text())


def refusal(device: DeviceSummary, job: Job) -> DeviceOutcome | None:
    """Why the job cannot apply to this device, known from its twin without calling it."""
    if device.is_edge:
        return DeviceOutcome.failure(device.device_id, DeviceErrorCode.EDGE_NOT_SUPPORTED,
                                     "IoT Edge devices are not supported by jobs.")
    for index, operation in enumerate(job.operations):
        if operation.target and device.model_id != operation.target:
            return DeviceOutcome.failure(
                device.device_id, DeviceErrorCode.MODEL_MISMATCH,
                f"The device's model is {device.model_id or 'not set'}, but data[{index}] ({operation.path}) "
                f"targets {operation.target}.")
    return None


def _group_query(job: Job, c: Collaborators) -> str | None:
    try:
        return selecting(c.groups.get(job.group_id).hub_query, TWIN_FIELDS)
    except DeviceGroupNotFound:
        _fail(job, f"The device group '{job.group_id}' no longer exists.", c)
    except InvalidGroupFilter as error:
        _fail(job, f"The device group '{job.group_id}' is corrupted: its filter {error.message}", c)
    return None


def _target_pages(job: Job, continuation: str | None, c: Collaborators) -> Iterator[tuple] | None:
    """Pages of (device ids, their twins, the continuation after them); None when the job failed."""
    if job.rerun_of:
        return _rerun_pages(job, continuation, c)  # the failed devices, whatever the group is now
    query = _group_query(job, c)
    if query is None:
        return None
    return _subset_pages(job, continuation, c) if job.devices else _group_pages(job, query, continuation, c)


def _group_pages(job: Job, query: str, continuation: str | None, c: Collaborators) -> Iterator[tuple]:
    """The group's pages; the next page is fetched while the caller stores this one (at most one
    page fetched in vain when an invocation hands over to the next)."""
    with ThreadPoolExecutor(1, thread_name_prefix="plan-prefetch") as prefetch:
        fetching = prefetch.submit(c.hub.query_devices, query, continuation, PAGE_SIZE)
        while True:
            try:
                page = fetching.result()
            except HubFailure as failure:
                if failure.code != INVALID_QUERY:
                    raise  # the hub is unwell: the host retries the message
                _fail(job, f"The device group '{job.group_id}' is corrupted: IoT Hub refused its query "
                           f"({failure.message}).", c)
                return
            if page.continuation is not None:
                fetching = prefetch.submit(c.hub.query_devices, query, page.continuation, PAGE_SIZE)
            yield [device.device_id for device in page.devices], page.devices, page.continuation
            if page.continuation is None:
                return


def _subset_pages(job: Job, continuation: str | None, c: Collaborators) -> Iterator[tuple]:
    """The explicit subset, SUBSET_CHUNK ids per query (the API checked they are in the group).
    An id the query does not return is still a target: the sender finds out what became of it."""
    start = int(continuation or 0)
    while start < len(job.devices):
        chunk = list(job.devices[start:start + SUBSET_CHUNK])
        start += SUBSET_CHUNK
        yield chunk, _twins_of(chunk, c), str(start) if start < len(job.devices) else None


def _rerun_pages(job: Job, continuation: str | None, c: Collaborators) -> Iterator[tuple]:
    """The devices that failed in the job rerun, in id order, SUBSET_CHUNK per hub query; the
    continuation is the last device id planned (streamed: flat memory for any number)."""
    failed = (row.device_id for row in c.job_devices.iter_devices(job.rerun_of, DeviceStatus.FAILED)
              if continuation is None or row.device_id > continuation)
    chunk = list(islice(failed, SUBSET_CHUNK))
    if not chunk:
        yield [], [], None  # nothing (left) to rerun: planning ends here
    while chunk:
        following = list(islice(failed, SUBSET_CHUNK))
        yield chunk, _twins_of(chunk, c), chunk[-1] if following else None
        chunk = following


def _twins_of(device_ids: list[str], c: Collaborators) -> list[DeviceSummary]:
    return c.hub.query_devices(subset_query(device_ids, TWIN_FIELDS), None, PAGE_SIZE).devices


def _add_targets(job: Job, device_ids: list[str], found: list[DeviceSummary], c: Collaborators) -> None:
    now = c.clock()
    c.job_devices.add_pending(job.id, device_ids, now, job.incarnation)
    refused = [outcome for device in found if (outcome := refusal(device, job))]
    if refused:  # a replayed page changes nothing: the rows are final
        c.job_devices.record_outcomes(job.id, refused, now, job.incarnation)


def _still_planned(job: Job, c: Collaborators) -> bool:
    return _planning_job(job, c) is not None


def _planning_job(job: Job, c: Collaborators) -> Job | None:
    """This incarnation of the job as stored, if it is still being planned (read again before
    each page): pending, or running while it plans."""
    try:
        stored = c.jobs.get(job.id)
    except JobNotFound:
        return None
    return stored if stored.incarnation == job.incarnation and _planning_now(stored) else None


def _planning_now(job: Job) -> bool:
    return not job.deleting and (job.status is JobStatus.PENDING or (job.status is JobStatus.RUNNING and job.planning))


def _finish_planning(job: Job, c: Collaborators) -> None:
    progress = c.job_devices.get_progress(job.id)
    if progress.total == 0:
        _change(job, c, JobAction.FINISH, lambda j, now: _end_empty(j, progress, now))
        return
    stored = _planning_job(job, c)
    if stored is not None and stored.planning:  # running already (planned again by queries)
        end_planning(job, True, c, dispatch_pending)
        return
    if job.batch:
        _cut_rollout(job, progress, c)
    started = _change(job, c, JobAction.START, lambda j, now: j.start(now))
    if started is not None and started.changed:  # this call started it (a concurrent planner may have)
        dispatch_pending(started.after, c)


def _cut_rollout(job: Job, progress: Progress, c: Collaborators) -> None:
    """Cut the rollout batches from the rows planning wrote (none was sent to yet) and make the
    first one active. A replayed cut writes the same batches again."""
    batches = list(cut_batches(c.job_devices.device_statuses(job.id), batch_size(job.batch, progress.total)))
    c.job_devices.save_rollout_batches(job.id, batches)
    stored = progress.rollout.active if progress.rollout else None
    c.job_devices.set_rollout(job.id, Rollout.starting(batches), stored, job.incarnation)
    logger.info("job %s: %d devices in %d rollout batches", job.id, progress.total, len(batches))


def _end_empty(job: Job, progress, now: datetime) -> None:
    job.finish(progress, now)  # completed: no device failed
    job.reason = EMPTY_GROUP_REASON


def _fail(job: Job, reason: str, c: Collaborators) -> None:
    logger.warning("job %s failed: %s", job.id, reason)
    _change(job, c, JobAction.FAIL, lambda j, now: j.fail(reason, now))


def fail_planning(request: PlanRequest, error: Exception, c: Collaborators) -> None:
    """The last delivery of a plan message failed too: the job cannot be planned."""
    try:
        job = c.jobs.get(request.job_id)
    except JobNotFound:
        return
    if request.is_for(job) and job.status is JobStatus.PENDING:
        _fail(job, f"Planning failed repeatedly: {type(error).__name__}: {str(error)[:300]}", c)


def _change(job: Job, c: Collaborators, action: JobAction, change) -> JobChange | None:
    """Apply `change` to the stored job if it is still this incarnation and allows `action`
    (None when it was deleted meanwhile)."""
    def decide(fresh: Job) -> None:
        if fresh.incarnation == job.incarnation and fresh.allows(action):
            change(fresh, c.clock())

    try:
        return c.jobs.change(job.id, decide)
    except JobNotFound:
        return None


def _send_watch(job: Job, progress: dict | None, c: Collaborators, replanned: bool = False) -> None:
    stall_seconds = c.settings.dispatch_stall_seconds
    if stall_seconds > 0:
        request = PlanRequest.watch(job, progress, replanned)
        c.plan_queue.send(request.to_text(), delay_seconds=stall_seconds)


def _same_time(first: datetime | None, second: datetime | None) -> bool:
    if first is None or second is None:
        return first is second
    return abs((first - second).total_seconds()) < 0.001


_BY_KIND = {PlanKind.PLAN: _plan, PlanKind.CONTINUE: _continue, PlanKind.DISPATCH_MORE: _dispatch_more,
            PlanKind.RESUME: replan_resumed, PlanKind.WATCH: watch_job, PlanKind.NEXT_BATCH: _next_batch,
            PlanKind.EXPORTED: _exported}
