"""Planning from an export of the hub's registry (PLAN_FROM_REGISTRY_EXPORT, on by default).

Twin queries bind planning to IoT Hub's query quota (20 a minute on S1, 100 twins each: about 33
devices a second, below the 50 twin updates a second the hub allows), and their pages come in
no order, so nothing can be sent before the last page is in. An export is one jobs operation,
whatever the fleet's size:

1. `start_export`: IoT Hub is asked to write its registry, twins included and keys left out, to
   a blob of the registry-exports container (shared.registry_exports); an `exported` message
   looks at the export a second later, and again until it is written.
2. `plan_from_export`: the planner reads the blob a line at a time, keeps the devices the
   group's condition matches (shared.domain.twin_filter, which evaluates it as IoT Hub does),
   sorts their ids and writes them a page at a time in id order. As pages come in id order, no
   later row ever falls inside a page's range: each page's dispatch message is sent at once,
   and the job starts with its first page (running, still planning: Job.planning). Past
   PLAN_SECONDS_PER_INVOCATION a new `exported` message carries on after the last id written.
3. Once every page is written the job may end (Job.finish_planning) and the collector looks.

Twin queries plan instead (dispatcher.planning) when the condition is one the evaluator does not
evaluate exactly (`compile_filter` answers None), for a rerun, an explicit subset of devices or an
operation with a model `target` (shared.domain.registry_export has the rule the preview shares),
when another import/export job keeps the hub busy for EXPORT_BUSY_WAIT (IoT Hub runs one at a
time), or when the export fails or is not written within EXPORT_WAIT. Jobs with rollout batches
or a rollout rate plan every device before sending, as with queries: their batches are cut from
the whole set and the pace comes from the counters.
"""
from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from itertools import islice

from shared.collaborators import Collaborators
from shared.domain.batching import DeviceBatch
from shared.domain.devices import DeviceOutcome
from shared.domain.jobs import Job, JobAction, JobStatus
from shared.domain.registry_export import export_condition, exportable
from shared.domain.twin_filter import TwinFilter
from shared.hub_gateway import EXPORT_BUSY, DeviceSummary, HubFailure
from shared.messages import DispatchRequest, OutcomesReport, PlanRequest

logger = logging.getLogger(__name__)

EXPORT_FIRST_LOOK_SECONDS = 1
EXPORT_LOOK_SECONDS = 2  # each look is a jobs operation (the gateway paces them at one a second)
EXPORT_BUSY_LOOK_SECONDS = 5
EXPORT_BUSY_WAIT = timedelta(minutes=2)
EXPORT_WAIT = timedelta(minutes=30)


def export_possible(job: Job, c: Collaborators) -> bool:
    """Whether this job's devices may be chosen from an export (before its group's filter is read)."""
    return c.exports_on and exportable(job)


def start_export(job: Job, c: Collaborators, asked_at: datetime | None = None) -> bool:
    """Ask IoT Hub for an export and look at it shortly; False when planning should use queries
    instead (the hub has been busy with another import/export job for too long)."""
    now = c.clock()
    asked_at = asked_at or now
    blob = f"{job.id}/{uuid.uuid4().hex}.txt"
    try:
        export_id = c.hub.export_devices(c.registry_exports.writable_url(now), blob)
    except HubFailure as failure:
        if failure.code != EXPORT_BUSY:
            raise  # the hub is unwell: the host delivers the message again
        if now - asked_at >= EXPORT_BUSY_WAIT:
            logger.info("job %s: IoT Hub is busy with another import/export job; planning by queries", job.id)
            return False
        retry = PlanRequest.plan(job).model_copy(update={"asked_at": asked_at})
        c.plan_queue.send(retry.to_text(), delay_seconds=EXPORT_BUSY_LOOK_SECONDS)
        return True
    logger.info("job %s: IoT Hub exports its registry (export job %s)", job.id, export_id)
    c.plan_queue.send(PlanRequest.exported(job, export_id, blob, asked_at).to_text(),
                      delay_seconds=EXPORT_FIRST_LOOK_SECONDS)
    return True


def export_written(request: PlanRequest, job: Job, c: Collaborators) -> bool | None:
    """True once the export is written; None while IoT Hub is still writing it (looked at again
    later); False when it failed or took too long (planning falls back to queries)."""
    if request.after is not None:
        return True  # reading it began in an earlier invocation
    state = c.hub.export_state(request.export_id)
    if state.status == "completed":
        return True
    if not state.ended and c.clock() - request.asked_at < EXPORT_WAIT:
        c.plan_queue.send(request.to_text(), delay_seconds=EXPORT_LOOK_SECONDS)
        return None
    logger.warning("job %s: the registry export %s %s (%s); planning by queries", job.id, request.export_id,
                   state.status if state.ended else "took too long", state.failure_reason or "no reason given")
    c.registry_exports.delete(request.export_blob)
    return False


def matching_targets(lines, condition: TwinFilter, job: Job, after: str | None,
                     refusal) -> tuple[list[str], dict[str, DeviceOutcome], int]:
    """The ids the condition matches after `after`, sorted; the outcomes of those the job cannot
    apply to (IoT Edge, another model); how many it matches up to `after`. Memory holds ids, not twins."""
    ids, refused, earlier = [], {}, 0
    for line in lines:
        twin = twin_of(json.loads(line))
        device_id = twin["deviceId"]
        if not condition.matches(twin):
            continue
        if after is not None and device_id <= after:
            earlier += 1
            continue
        ids.append(device_id)
        summary = DeviceSummary(device_id, None, bool(twin["capabilities"].get("iotEdge")))
        if outcome := refusal(summary, job):
            refused[device_id] = outcome
    ids.sort()
    return ids, refused, earlier


def twin_of(exported: dict) -> dict:
    """A device as the export writes it (IoT Hub's ExportImportDevice), shaped like the twin a
    query answers, which the group's condition is written against."""
    return {"deviceId": exported["id"], "status": exported.get("status"), "tags": exported.get("tags") or {},
            "properties": exported.get("properties") or {"desired": {}, "reported": {}},
            "capabilities": exported.get("capabilities") or {}}


def pages_of(ids: list[str], size: int):
    it = iter(ids)
    while page := list(islice(it, size)):
        yield page


# Pages written per turn of the job's partition. The senders' claims and the collector's records
# take the partition in turns with planning (shared.pacing.OneWriterPerJob); a page a turn
# would plan at one page per sender's write, far below the hub's pace on a large group.
PAGES_PER_TURN = 20


def planning_turns(pages):
    """Pages grouped into turns: the first page alone (sending starts with it), then
    PAGES_PER_TURN at a time."""
    pages = iter(pages)
    if first := next(pages, None):
        yield [first]
    while turn := list(islice(pages, PAGES_PER_TURN)):
        yield turn


def dispatch_page(job: Job, page: list[str], delay: float, c: Collaborators) -> None:
    """A page written in id order: its range holds its own rows only, for good."""
    c.dispatch_queue.send(DispatchRequest.of(job, DeviceBatch(page[0], page[-1], len(page))).to_text(),
                          delay_seconds=delay)


def end_planning(job: Job, replanned: bool, c: Collaborators, dispatch_pending) -> None:
    """Every page of a job started while it planned is written: it may end now. A job planned
    again (its rows from an earlier planning) has its pending rows batched anew, since rows the
    new export no longer holds were never in a page of it."""
    def decide(fresh: Job) -> None:
        if fresh.incarnation == job.incarnation and not fresh.deleting:
            fresh.finish_planning()

    change = c.jobs.change(job.id, decide)
    logger.info("job %s: planning from the registry export done", job.id)
    if replanned and change.after.status is JobStatus.RUNNING:
        dispatch_pending(change.after, c, watch=False)
    else:
        c.outcomes_queue.send(OutcomesReport.nothing_left(job).to_text())  # the collector ends it if all is done


def start_while_planning(job: Job, c: Collaborators):
    """The job runs from its first page on; its planning goes on (None if it is no longer pending)."""
    def decide(fresh: Job) -> None:
        if fresh.incarnation == job.incarnation and fresh.allows(JobAction.START):
            fresh.start(c.clock(), planning=True)

    return c.jobs.change(job.id, decide)
