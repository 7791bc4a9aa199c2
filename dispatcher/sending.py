"""Send a batch (queue `jobs-dispatch`): claim its devices, apply the job's operations to each
through IoT Hub, report every outcome in one `jobs-outcomes` message.

- A job that is not running is left alone: its devices stay `pending` (a stopped job's are
  batched again on resume).
- Claiming (`pending` → `running`, one conditional transaction) is what makes a duplicated
  dispatch message harmless: a device is sent to only by the sender that claimed it.
- A redelivered message (dequeue count > 1: the previous delivery died or failed) first
  resolves the `running` rows that delivery claimed (rows name the message id that claimed
  them) by the dead-sender rule (dead_sender_rule.py).
- Stop: before starting each device the sender checks the job is still running (a view at most
  DISPATCH_STATUS_CHECK_SECONDS old); devices started finish, the rest are released to `pending`. If
  the job was resumed meanwhile, the sender sends its dispatch message again for them (the
  resume may have batched the pending devices before they were released).
- Maintenance windows (a job's `maintenanceWindows`): the same look before each device also
  asks whether a window is open now (no read: the windows are the job's). Outside every window
  the sender starts no device, gives the rest of its batch back to `pending`, sends its
  dispatch message again to become visible when the next window opens (at most the queue's
  longest delay; it asks again then) and the job's `reason` says until when; devices started
  before the window closed finish. The first sender to start in an open window clears the reason.
- Devices run on a process-wide pool (`DISPATCH_CONCURRENCY`); the gateway paces each operation
  class, retries 429 and 5xx and classifies every failure.
- Each outcome names its attempt; a failure the job's `retry` tries again says after how long
  (shared/domain/retries.py), and the collector sends the dispatch message for that retry.
- A property the job wants acknowledged (`completion: acknowledged`): the device's outcome says
  which desired version was written and it stays running; the collector then sends a check
  message (`acknowledgements`) for the batch, which the sender answers from the devices'
  reported properties (twin reads, paced as reads; shared/domain/acknowledgements.py) and sends
  again, later, for those that have not answered yet, until the job's in-progress timeout. The
  dead-sender rule fails a waiting device past that timeout too, should its checks be lost.
"""
from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, replace
from datetime import datetime

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from shared.collaborators import Collaborators
from shared.domain.acknowledgements import next_look_seconds, timed_out, verdict
from shared.domain.batching import DeviceBatch, batches_of
from shared.domain.devices import DeviceErrorCode, DeviceOutcome, DeviceStatus, JobDevice
from shared.domain.errors import JobNotFound
from shared.domain.jobs import Job, JobStatus
from shared.domain.operations import (Operation, OperationType, acknowledged as acknowledged_operations, commands,
                                     desired_properties_patch, tags_patch)
from shared.domain.retries import NO_RETRIES
from shared.hub_gateway import HubFailure
from shared.messages import DispatchRequest, OutcomesReport

from dispatcher.dead_sender_rule import resolve_leftovers

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchResult:
    sent: int = 0  # devices whose outcome this call reported
    released: int = 0  # claimed but not started because the job stopped or its window closed
    resolved: int = 0  # leftover rows failed by the dead-sender rule
    waiting: bool = False  # outside the job's maintenance windows: the batch waits for the next one


# The longest a queue message may stay invisible is 7 days; a message also expires 7 days after
# it is sent, so a batch waiting longer is sent a little earlier and waits again then.
MAX_WAIT_SECONDS = 7 * 24 * 3600 - 3600


def send_batch(request: DispatchRequest, c: Collaborators, redelivered: bool = False,
               delivery_id: str | None = None, invoked_at: float | None = None) -> BatchResult:
    """`delivery_id`: the queue message's id, the same on every delivery of it; rows are claimed
    in its name, so a redelivery resolves only the rows its own earlier delivery left.
    `invoked_at`: when the invocation began (c.monotonic), which bounds how long it may go on."""
    deadline = (c.monotonic() if invoked_at is None else invoked_at) + _report_budget(c)
    try:
        job = c.jobs.get(request.job_id)
    except JobNotFound:
        return BatchResult()
    if not request.is_for(job):
        return BatchResult()  # an earlier job's message
    if request.acknowledgements:
        return check_acknowledgements(job, request, c)  # whatever the job's status: devices in flight finish
    if job.status is not JobStatus.RUNNING:
        return BatchResult()  # a job not running: its devices stay as they are
    try:
        resolved = _resolve_dead_sender(job, request.batch, c, delivery_id) if redelivered else []
        if job.window_end(c.clock()) is None:
            outcomes, unsent, waiting = [], [], True  # nothing claimed: the batch stays pending
        else:
            if job.waiting_for_window:
                _note_window_open(job, c)
            claimed = c.job_devices.claim(job.id, request.batch, c.clock(), delivery_id, job.incarnation).claimed
            outcomes, unsent, waiting = _send_all(job, claimed, c)
    except JobNotFound:
        return BatchResult()  # deleted meanwhile: its rows are gone
    # Known outcomes first: whatever fails after this, they are not lost. Storage may be out of
    # reach for a while: keep trying (within the invocation's time) rather than let the
    # dead-sender rule later call outcomes unknown that this sender knew.
    for report in OutcomesReport.split(job, resolved + outcomes):
        _until_done(lambda: c.outcomes_queue.send(report.to_text()), deadline, c, f"reporting job {job.id}'s outcomes")
    if unsent:
        _until_done(lambda: _give_back(job, unsent, request, c, waiting), deadline, c,
                    f"giving back job {job.id}'s devices")
    elif waiting:
        _until_done(lambda: _wait_for_window(job, request, c), deadline, c, f"queuing job {job.id}'s batch again")
    return BatchResult(sent=len(outcomes), released=len(unsent), resolved=len(resolved), waiting=waiting)


# How long a sender keeps trying to report: up to shortly before the host would end the
# invocation (functionTimeout), so that a storage outage shorter than that loses nothing.
_REPORT_MARGIN_SECONDS = 30
_UNBOUNDED_REPORT_SECONDS = 600
_FIRST_PAUSE_SECONDS, _LONGEST_PAUSE_SECONDS = 0.5, 10.0


def _transient(error: Exception) -> bool:
    """Storage out of reach, or answering that it is busy or unwell."""
    if isinstance(error, (ServiceRequestError, ServiceResponseError)):
        return True
    status = getattr(error, "status_code", None)
    return isinstance(error, HttpResponseError) and (status in (408, 429) or (status or 0) >= 500)


def _report_budget(c: Collaborators) -> float:
    timeout = c.host.function_timeout
    if timeout is None:
        return _UNBOUNDED_REPORT_SECONDS
    return max(timeout.total_seconds() - _REPORT_MARGIN_SECONDS, 0)


def _until_done(action, deadline: float, c: Collaborators, what: str) -> None:
    """Run `action` until it succeeds, pausing longer each time; past `deadline`, raise."""
    pause = _FIRST_PAUSE_SECONDS
    while True:
        try:
            return action()
        except Exception as error:  # noqa: BLE001 - only what waiting may cure is tried again
            if not _transient(error) or c.monotonic() + pause > deadline:
                raise
            logger.warning("%s failed (%s: %s); trying again in %.1f s", what, type(error).__name__,
                           str(error)[:200], pause)
            c.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE_SECONDS)


def _give_back(job: Job, unsent: list[str], request: DispatchRequest, c: Collaborators,
               waiting: bool = False) -> None:
    """Release claimed, unstarted devices; if the job runs again already (resumed while this
    batch held them, perhaps after the resume batched what was pending), batch them again.
    `waiting`: they were not started because the maintenance window closed: the batch is sent
    again for the next window."""
    job_id = job.id
    try:
        c.job_devices.release(job_id, unsent, c.clock(), job.incarnation)
    except JobNotFound:
        return
    if waiting:
        _wait_for_window(job, request, c)
        return
    try:
        again = _running(c.jobs, job)
    except Exception:  # noqa: BLE001 - unsure: a duplicate dispatch message is harmless, a lost one is not
        logger.warning("job %s: could not read its status after giving devices back; batching them again", job_id)
        again = True
    if again:
        c.dispatch_queue.send(request.to_text())


def _wait_for_window(job: Job, request: DispatchRequest, c: Collaborators) -> None:
    """The dispatch message again, visible when the job's next window opens; the job's reason
    says when (the message first: a reason not written loses nothing)."""
    now = c.clock()
    opening = job.next_window_opening(now)
    delay = min(max(math.ceil((opening - now).total_seconds()), 1), MAX_WAIT_SECONDS)
    c.dispatch_queue.send(request.to_text(), delay_seconds=delay)
    logger.info("job %s: batch %s..%s waits %d s for the maintenance window at %s", job.id,
                request.batch.first_device_id, request.batch.last_device_id, delay, opening.isoformat())
    waiting = Job.waiting_reason(opening)
    if job.reason != waiting:
        _change_reason(job, c, lambda fresh: fresh.wait_for_window(opening))


def _note_window_open(job: Job, c: Collaborators) -> None:
    _change_reason(job, c, lambda fresh: fresh.window_opened())


def _change_reason(job: Job, c: Collaborators, change) -> None:
    """The waiting reason is for people to read: a write that fails is logged, not retried."""
    def decide(fresh: Job) -> None:
        if fresh.incarnation == job.incarnation:
            change(fresh)

    try:
        c.jobs.change(job.id, decide)
    except JobNotFound:
        pass
    except Exception as error:  # noqa: BLE001 - the batch's messages are what must not be lost
        logger.warning("job %s: could not write its waiting reason (%s)", job.id, type(error).__name__)


def check_acknowledgements(job: Job, request: DispatchRequest, c: Collaborators) -> BatchResult:
    """The batch's devices that wait for an acknowledgement: their twins, read within the hub's
    twin-read quota, tell which answered (completed, or failed with the device's words), which
    waited too long (Timeout), and which to look at again later, in a message of their own."""
    rows = [row for row in c.job_devices.read_batch(job.id, request.batch)
            if row.status is DeviceStatus.RUNNING and row.awaiting_version is not None]
    if not rows:
        return BatchResult()
    answers = list(c.devices_pool.map(lambda row: _reported(c.hub, row.device_id), rows))
    now, limit = c.clock(), job.in_progress_limit
    # A rejection or a timeout may be tried again as the job's retries say, unless the job has
    # commands: every step of the attempt ran, and a retry would run them again.
    retries = NO_RETRIES if commands(job.operations) else job.retry_policy
    outcomes, waiting = [], []
    for row, (answered, reported) in zip(rows, answers):
        outcome = (verdict(job.operations, reported, row) if answered else None) or timed_out(row, limit, now)
        if outcome is None:
            waiting.append(row)
        else:
            outcomes.append(retries.judged(outcome, row.attempts - 1, job.operations))
    for report in OutcomesReport.split(job, outcomes):
        c.outcomes_queue.send(report.to_text())
    if waiting:
        delay = math.ceil(min(next_look_seconds(row, now, limit) for row in waiting))
        for batch in batches_of([row.device_id for row in waiting]):
            c.dispatch_queue.send(DispatchRequest.check_acknowledgements(job.id, job.incarnation, batch).to_text(),
                                  delay_seconds=delay)
    return BatchResult(sent=len(outcomes))


def _reported(hub, device_id: str) -> tuple[bool, dict | None]:
    """Whether the hub answered, and the device's reported properties (None: it no longer
    exists). A read that fails (throttled, hub unwell) is no answer: the device is looked at again."""
    try:
        return True, hub.reported_properties(device_id)
    except HubFailure as failure:
        logger.info("could not read %s's reported properties (%s); looking again later", device_id, failure.code)
        return False, None


@dataclass(frozen=True)
class PatchDesired:
    patch: dict

    def apply(self, hub, device_id: str) -> int | None:
        """The desired version the hub stored the patch at."""
        return hub.patch_desired(device_id, self.patch)


@dataclass(frozen=True)
class PatchTags:
    patch: dict

    def apply(self, hub, device_id: str) -> None:
        hub.patch_tags(device_id, self.patch)


@dataclass(frozen=True)
class InvokeCommand:
    operation: Operation

    def apply(self, hub, device_id: str) -> None:
        operation = self.operation
        hub.invoke_method(device_id, operation.method_name, operation.value,
                          operation.effective_response_timeout, operation.effective_connect_timeout)


def device_steps(operations: tuple[Operation, ...]) -> list:
    """The hub calls for one device, in the order of the operations: every property operation in
    one desired patch (where the first one is), every cloud property in one tags patch, and
    each command."""
    steps, kinds_done = [], set()
    for operation in operations:
        if operation.type is OperationType.COMMAND:
            steps.append(InvokeCommand(operation))
        elif operation.type not in kinds_done:
            kinds_done.add(operation.type)
            patch = PatchDesired(desired_properties_patch(operations)) if operation.type is OperationType.PROPERTY \
                else PatchTags(tags_patch(operations))
            steps.append(patch)
    return steps


def send_to_device(hub, device_id: str, steps: list, acknowledged: bool = False) -> DeviceOutcome:
    """Apply every step; the first failure ends the device's work and is its outcome.
    `acknowledged`: the device completes only once it acknowledges the desired version written,
    so a success says which version that is (the device keeps running meanwhile)."""
    version, ran_command = None, False
    try:
        for step in steps:
            written = step.apply(hub, device_id)
            version = written if isinstance(step, PatchDesired) else version
            ran_command = ran_command or isinstance(step, InvokeCommand)
    except HubFailure as failure:
        code = failure.code if failure.code in DeviceErrorCode._value2member_map_ else DeviceErrorCode.HUB_ERROR
        return replace(DeviceOutcome.failure(device_id, DeviceErrorCode(code), failure.message),
                       retryable=not ran_command)
    except Exception as error:  # a bug or an SDK surprise must not lose the batch's other outcomes
        logger.exception("unexpected error sending to %s", device_id)
        return replace(DeviceOutcome.failure(device_id, DeviceErrorCode.HUB_ERROR,
                                             f"Unexpected error: {type(error).__name__}"), retryable=not ran_command)
    if acknowledged:
        if version is None:
            return DeviceOutcome.failure(device_id, DeviceErrorCode.HUB_ERROR,
                                         "The hub did not say which desired version it stored, so no acknowledgement "
                                         "of it can be recognised.")
        return DeviceOutcome(device_id, True, awaiting_version=version)
    return DeviceOutcome.success(device_id)


class JobStatusProbe:
    """Is the job still running? Re-read when the last look is older than `max_age` seconds,
    by one thread at a time (the others keep the last answer meanwhile). A status that cannot
    be read (storage out of reach) keeps the last answer: devices in flight must not lose
    their outcomes to a failed look.

    `may_start` also asks whether one of the job's maintenance windows is open at `clock()`:
    no read, the windows are the job's; the end of the open window is kept, so the cron rules
    are worked out again only once it passes. Once closed, it stays closed for this batch."""

    def __init__(self, jobs, job: Job, max_age: float, monotonic, clock=None):
        self._jobs, self._job, self._max_age, self._monotonic = jobs, job, max_age, monotonic
        self._running, self._checked_at = True, monotonic()
        self._lock = threading.Lock()
        self._clock = clock
        self._open_until: datetime | None = None
        self.window_closed = False

    def may_start(self) -> bool:
        """Whether to start the next device: the job runs, and a window is open (or it has none)."""
        return self.running() and self._window_open()

    def _window_open(self) -> bool:
        if self._clock is None or self.window_closed:
            return not self.window_closed
        now = self._clock()
        if self._open_until is None or now >= self._open_until:
            self._open_until = self._job.window_end(now)
            if self._open_until is None:
                self.window_closed = True
                return False
        return True

    def running(self) -> bool:
        if self._running and self._monotonic() - self._checked_at >= self._max_age and self._lock.acquire(False):
            try:
                self._running = _running(self._jobs, self._job)
                self._checked_at = self._monotonic()
            except Exception as error:  # noqa: BLE001 - see the class's note
                logger.warning("job %s: could not read its status (%s); going on as before", self._job.id,
                               type(error).__name__)
            finally:
                self._lock.release()
        return self._running


def _running(jobs, job: Job) -> bool:
    """Is this job (this incarnation of it) running now?"""
    try:
        stored = jobs.get(job.id)
    except JobNotFound:
        return False
    return stored.incarnation == job.incarnation and stored.status is JobStatus.RUNNING


def _send_all(job: Job, claimed: list[JobDevice],
              c: Collaborators) -> tuple[list[DeviceOutcome], list[str], bool]:
    """The outcomes of the devices started, the ids of those not started, and whether they
    were not started because the maintenance window closed (rather than a stop)."""
    steps, retries = device_steps(job.operations), job.retry_policy
    acknowledged = bool(acknowledged_operations(job.operations))
    status = JobStatusProbe(c.jobs, job, c.settings.dispatch_status_check_seconds, c.monotonic, c.clock)

    def send(row: JobDevice) -> DeviceOutcome | None:
        if not status.may_start():
            return None
        return retries.judged(send_to_device(c.hub, row.device_id, steps, acknowledged), row.attempts, job.operations)

    results = list(c.devices_pool.map(send, claimed))
    outcomes = [outcome for outcome in results if outcome is not None]
    unsent = [row.device_id for row, outcome in zip(claimed, results) if outcome is None]
    return outcomes, unsent, bool(unsent) and status.window_closed and status.running()


def _resolve_dead_sender(job: Job, batch: DeviceBatch, c: Collaborators,
                         delivery_id: str | None) -> list[DeviceOutcome]:
    """The rows this message's earlier delivery claimed and left `running` (ranges may overlap
    after a stop and resume: rows another live delivery claimed are not this one's to resolve)."""
    rows = c.job_devices.read_batch(job.id, batch)
    running = [row for row in rows if row.status is DeviceStatus.RUNNING
               and (delivery_id is None or row.claimed_by in (None, delivery_id))]
    failures = resolve_leftovers(job, running, c.job_devices, c.clock())
    if running:
        logger.warning("job %s: batch %s..%s redelivered with devices left running; resolved by the dead-sender rule",
                       job.id, batch.first_device_id, batch.last_device_id)
    return failures
