"""The job aggregate and its state machine.

draft → pending (planning) → running → completed | failed | cancelled; running ⇄ stopped.
pending may also end at once: an empty group completes, a corrupted group fails. A pending job
may be stopped (its planning stops) or deleted; resumed, a job whose planning never finished is
pending again and planned anew. A stopped job whose last in-flight devices finish ends like a
running one (nothing is left to resume).
Copy never changes the source, so every state allows it, but a job being deleted allows
nothing but the delete.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

from shared.domain import limits
from shared.domain.errors import IllegalTransition, InvalidField
from shared.domain.operations import Operation, validate_operations
from shared.domain.progress import Progress
from shared.domain.acknowledgements import validate_timeout
from shared.domain.retries import RetryPolicy, validate_retry
from shared.domain.schedules import (MAX_MAINTENANCE_WINDOWS, MaintenanceWindow, current_window_end, maintenance_time_zone_from_api,
                                     next_opening)

WAITING_FOR_WINDOW = "Waiting for the maintenance window at "
PAUSED_AFTER_BATCH = "Paused after batch "
_MAX_CHAINED_WINDOWS = 1000


class JobStatus(str, Enum):
    DRAFT = "draft"
    PENDING = "pending"
    RUNNING = "running"
    STOPPED = "stopped"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_ended(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobAction(str, Enum):
    EDIT = "edit"
    RUN = "run"
    COPY = "copy"
    DELETE = "delete"
    STOP = "stop"
    RESUME = "resume"
    RERUN = "rerun"
    FINISH = "finish"  # every device is done: completed or failed by the progress rule
    FAIL = "fail"  # the job itself cannot go on (corrupted group, unrecoverable error)
    CANCEL = "cancel"  # the cancellation threshold was crossed
    START = "start"  # planning has begun: pending → running


_ENDED_ACTIONS = frozenset({JobAction.COPY, JobAction.DELETE, JobAction.RERUN})
ALLOWED_ACTIONS: dict[JobStatus, frozenset[JobAction]] = {
    JobStatus.DRAFT: frozenset({JobAction.EDIT, JobAction.RUN, JobAction.COPY, JobAction.DELETE}),
    JobStatus.PENDING: frozenset({JobAction.COPY, JobAction.START, JobAction.FINISH, JobAction.FAIL, JobAction.STOP,
                                  JobAction.DELETE}),
    JobStatus.RUNNING: frozenset({JobAction.COPY, JobAction.STOP, JobAction.FINISH, JobAction.FAIL,
                                  JobAction.CANCEL}),
    JobStatus.STOPPED: frozenset({JobAction.COPY, JobAction.RESUME, JobAction.DELETE, JobAction.FINISH,
                                  JobAction.FAIL, JobAction.CANCEL}),
    JobStatus.COMPLETED: _ENDED_ACTIONS,
    JobStatus.FAILED: _ENDED_ACTIONS,
    JobStatus.CANCELLED: _ENDED_ACTIONS,
}


@dataclass(frozen=True)
class Actor:
    """Who made a change: a caller of the API (an API token, a person, a service principal)."""
    type: str
    id: str
    display_name: str


ROLLOUT_ACTOR = Actor("system", "rollout", "Rollout batches")  # who stops a job that pauses after each batch


@dataclass
class Job:
    id: str
    display_name: str
    group_id: str
    operations: tuple[Operation, ...]
    created_at: datetime
    last_modified: datetime
    description: str | None = None
    devices: tuple[str, ...] | None = None  # an explicit subset of the group's devices
    status: JobStatus = JobStatus.DRAFT
    started_at: datetime | None = None
    ended_at: datetime | None = None
    reason: str | None = None
    batch: dict[str, Any] | None = None  # IoT Central's JobBatch, stored as given
    cancellation_threshold: dict[str, Any] | None = None  # stored as given
    retry: dict[str, Any] | None = None  # ours: retries by failure class (shared/domain/retries.py), stored as given
    rollout_rate: dict[str, Any] | None = None  # ours: devices started per minute, stored as given
    timeout: dict[str, Any] | None = None  # ours: {"inProgressMinutes": n}, stored as given
    rerun_of: str | None = None  # a rerun targets the devices that failed in this job, not the group
    scheduled_job_id: str | None = None  # a run of this scheduled job (IoT Central's scheduledJobId)
    organizations: tuple[str, ...] | None = None  # IoT Central's field: at most one; recorded, not a filter
    # Ours (after AWS IoT Jobs): devices are sent to only while one of these is open; none: always.
    maintenance_windows: tuple[MaintenanceWindow, ...] = ()
    maintenance_time_zone: str = "UTC"  # the IANA zone the windows' cron times are read in
    created_by: Actor | None = None
    stopped_by: Actor | None = None  # who last stopped it
    resumed_by: Actor | None = None  # who last resumed it
    planned: bool = False  # planning finished: every target has its row
    deleting: bool = False  # being deleted (by a caller, or by retention after archiving it): frozen
    # Minted when the job is made: a job deleted and made again under the same id is another
    # incarnation, so messages and device rows of the first are never taken for the second's.
    incarnation: str = field(default_factory=lambda: new_incarnation())
    etag: str | None = field(default=None, compare=False)  # the stored version

    @classmethod
    def draft(cls, id: str, display_name: str, group_id: str, operations: list[Operation], now: datetime,
              **optional: Any) -> "Job":
        job = cls(id=id, display_name=display_name, group_id=group_id, operations=tuple(operations),
                  created_at=now, last_modified=now, **optional)
        return job.validated()

    def validated(self) -> "Job":
        limits.validate_job_id(self.id)
        limits.validate_text(self.display_name, "displayName", limits.MAX_DISPLAY_NAME_LENGTH, required=True)
        limits.validate_text(self.description, "description", limits.MAX_DESCRIPTION_LENGTH)
        limits.validate_group_id(self.group_id, "group")
        self.operations = validate_operations(list(self.operations))
        self.devices = _validated_devices(self.devices)
        self.organizations = limits.validate_organizations(self.organizations)
        self.maintenance_windows, self.maintenance_time_zone = validate_maintenance(self.maintenance_windows,
                                                                                    self.maintenance_time_zone)
        validate_retry(self.retry, self.operations)
        validate_timeout(self.timeout, self.operations)
        return self

    # What a caller asks for when it creates a job; the rest is the job's life.
    DEFINING_FIELDS = ("display_name", "description", "group_id", "operations", "devices", "batch",
                       "cancellation_threshold", "retry", "rollout_rate", "timeout", "organizations", "maintenance_windows",
                       "maintenance_time_zone")

    def is_defined_as(self, requested: "Job") -> bool:
        """Whether this job is what `requested` asks for (a create sent again is this job)."""
        return all(getattr(self, name) == getattr(requested, name) for name in self.DEFINING_FIELDS)

    def allows(self, action: JobAction) -> bool:
        if self.deleting:
            return action is JobAction.DELETE  # a delete that was cut short may be asked again
        return action in ALLOWED_ACTIONS[self.status]

    def require(self, action: JobAction) -> None:
        if not self.allows(action):
            raise IllegalTransition(f"job {self.id}", "being deleted" if self.deleting else self.status.value,
                                    action.value)

    def mark_deleting(self) -> None:
        """The job's rows and then the job are deleted next: from now on nothing changes it (its
        planner stops, a resume is refused), so nothing is deleted that another writer still
        counts on. Its last change stays as it was: retention counts from it."""
        self.deleting = True

    def edit(self, now: datetime, **changes: Any) -> None:
        self.require(JobAction.EDIT)
        unknown = set(changes) - set(self.DEFINING_FIELDS)  # a draft's definition is what may be edited
        if unknown:
            raise InvalidField(sorted(unknown)[0], "cannot be edited.")
        for name, value in changes.items():
            setattr(self, name, tuple(value) if name in ("operations", "devices", "organizations",
                                                         "maintenance_windows") and value is not None else value)
        self.validated()
        self.last_modified = now

    def run(self, now: datetime) -> None:
        self._move(JobAction.RUN, JobStatus.PENDING, now)
        self.started_at = now

    def start(self, now: datetime, planning: bool = False) -> None:
        """Sending begins: planning has finished, or (`planning`) goes on meanwhile."""
        self._move(JobAction.START, JobStatus.RUNNING, now)
        self.planned = not planning

    def finish_planning(self) -> None:
        """Every target of a job started while it planned has its row: it may end now."""
        if self.planning:
            self.planned = True

    @property
    def planning(self) -> bool:
        """Started while its planning goes on (planning from a registry export sends each page as
        it is planned): running, not yet planned. A job stopped meanwhile resumes pending."""
        return self.status is JobStatus.RUNNING and not self.planned

    @property
    def may_end(self) -> bool:
        """Not while planning may still add devices (a job started while it plans)."""
        return not self.planning

    def stop(self, now: datetime, by: Actor | None = None) -> None:
        if self.status is JobStatus.STOPPED and not self.deleting:
            return  # a stop asked again (a client's retry) is done already: unchanged, not refused
        self._move(JobAction.STOP, JobStatus.STOPPED, now)
        self.stopped_by = by or self.stopped_by
        self.window_opened()  # a stopped job waits for a resume, not for a window

    def resume(self, now: datetime, by: Actor | None = None) -> None:
        if self.status in (JobStatus.RUNNING, JobStatus.PENDING) and not self.deleting:
            return  # likewise for a resume of a job that runs
        self._move(JobAction.RESUME, JobStatus.RUNNING if self.planned else JobStatus.PENDING, now)
        self.resumed_by = by or self.resumed_by
        if self.reason and self.reason.startswith(PAUSED_AFTER_BATCH):
            self.reason = None

    # --- Maintenance windows ---

    def window_end(self, now: datetime) -> datetime | None:
        """Until when devices may be sent to from `now` (ask again then), or None while every
        window is closed. A job without windows is always open (datetime.max)."""
        if not self.maintenance_windows:
            return datetime.max.replace(tzinfo=now.tzinfo)
        return current_window_end(self.maintenance_windows, now, self.maintenance_time_zone)

    def next_window_opening(self, now: datetime) -> datetime | None:
        return next_opening(self.maintenance_windows, now, self.maintenance_time_zone)

    def wait_for_window(self, opening: datetime) -> None:
        """A running job whose senders wait for the next window, which opens at `opening` (UTC).
        Not a change of the job's state: its last change (which its watchdog keys on) stays."""
        if self.status is JobStatus.RUNNING:
            self.reason = self.waiting_reason(opening)

    @staticmethod
    def waiting_reason(opening: datetime) -> str:
        return f"{WAITING_FOR_WINDOW}{opening.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ}"

    def window_open_throughout(self, start: datetime, end: datetime) -> bool:
        """Whether a window was open at every instant from `start` to `end` (windows that
        follow on from each other count as one)."""
        at = start
        for _ in range(_MAX_CHAINED_WINDOWS):
            until = self.window_end(at)
            if until is None:
                return False
            if until >= end:
                return True
            at = until
        return True  # windows chained past counting: open

    def window_opened(self) -> None:
        """Sending goes on (or the job no longer waits for a window): the waiting reason goes."""
        if self.waiting_for_window:
            self.reason = None

    @property
    def waiting_for_window(self) -> bool:
        return bool(self.reason and self.reason.startswith(WAITING_FOR_WINDOW))

    def finish(self, progress: Progress, now: datetime) -> None:
        if not progress.is_done:
            raise IllegalTransition(f"job {self.id}", self.status.value, "finish with devices still to do")
        ended = JobStatus.COMPLETED if progress.succeeded else JobStatus.FAILED
        self._move(JobAction.FINISH, ended, now)
        self.ended_at = now
        self.window_opened()

    def fail(self, reason: str, now: datetime) -> None:
        self._move(JobAction.FAIL, JobStatus.FAILED, now)
        self.ended_at, self.reason = now, reason

    def threshold_crossed(self, progress: Progress) -> str | None:
        """The reason to cancel the job when more devices failed than its cancellation threshold
        allows (a number of devices, or a percentage of its devices), job-wide or, with `batch`
        true, in the active rollout batch; else None. With a minimum sample (ours, after AWS IoT
        Jobs' minNumberOfExecutedThings), not before that many of the job's devices have an
        outcome, so early failures of a large job do not end it."""
        threshold = self.cancellation_threshold
        if not threshold:
            return None
        scope, where = progress, "devices"
        if threshold.get("batch"):
            if progress.rollout is None:
                return None
            scope, where = progress.rollout.active_progress(progress), f"devices of batch {progress.rollout.active + 1}"
        if progress.completed + progress.failed < min(threshold.get("minNumberOfExecutedDevices") or 0, progress.total):
            return None
        value, failed = threshold["value"], scope.failed
        if threshold["type"] == "percentage":
            crossed, allowed = failed * 100 > value * scope.total, f"{value}% of its {scope.total} {where}"
        else:
            crossed, allowed = failed > value, f"{value} {where}"
        if not crossed:
            return None
        return (f"{failed} {where} failed, more than the cancellation threshold of {allowed}; the rest were not "
                "sent to.")

    @property
    def in_progress_limit(self) -> timedelta:
        """How long a device may be in progress (its timeout, else the default wait for an acknowledgement)."""
        minutes = (self.timeout or {}).get("inProgressMinutes") or limits.DEFAULT_ACKNOWLEDGEMENT_MINUTES
        return timedelta(minutes=minutes)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy.of(self.retry)

    @property
    def batch_pauses(self) -> bool:
        """Ours (after hawkBit's PAUSE): the job stops after each rollout batch until resumed."""
        return bool((self.batch or {}).get("pauseAfterEach"))

    def pause_after_batch(self, finished: int, count: int, now: datetime) -> None:
        """Stop after batch `finished` (0-based) of `count`; a resume starts the next one."""
        self._move(JobAction.STOP, JobStatus.STOPPED, now)
        self.stopped_by = ROLLOUT_ACTOR
        self.reason = f"{PAUSED_AFTER_BATCH}{finished + 1} of {count}; resume to send to batch {finished + 2}."

    def cancel(self, reason: str, now: datetime) -> None:
        self._move(JobAction.CANCEL, JobStatus.CANCELLED, now)
        self.ended_at, self.reason = now, reason

    def copy(self, new_id: str, now: datetime, by: Actor | None = None) -> "Job":
        self.require(JobAction.COPY)
        copied = replace(self, id=new_id, display_name=_copy_name(self.display_name), status=JobStatus.DRAFT,
                         created_at=now, last_modified=now, started_at=None, ended_at=None, reason=None,
                         etag=None, rerun_of=None, scheduled_job_id=None, planned=False, incarnation=new_incarnation(),
                         created_by=by, stopped_by=None, resumed_by=None)
        return copied.validated()

    def rerun(self, new_id: str, now: datetime, by: Actor | None = None) -> "Job":
        """A new draft with the same operations for the devices that failed in this ended job."""
        self.require(JobAction.RERUN)
        rerun = replace(self, id=new_id, status=JobStatus.DRAFT, devices=None, rerun_of=self.id,
                        scheduled_job_id=None, created_at=now, last_modified=now, started_at=None, ended_at=None, reason=None, etag=None,
                        planned=False, incarnation=new_incarnation(), created_by=by, stopped_by=None,
                        resumed_by=None)
        return rerun.validated()

    @property
    def retention_anchor(self) -> datetime | None:
        """The time retention counts from: the end of an ended job, the last change of a draft or
        a stopped job. None for pending and running jobs, which retention never touches."""
        if self.status.is_ended:
            return self.ended_at or self.last_modified
        if self.status in (JobStatus.DRAFT, JobStatus.STOPPED):
            return self.last_modified
        return None

    def _move(self, action: JobAction, status: JobStatus, now: datetime) -> None:
        self.require(action)
        self.status = status
        self.last_modified = now


def new_incarnation() -> str:
    return uuid.uuid4().hex


def _copy_name(display_name: str) -> str:
    return f"{display_name} Copy"[: limits.MAX_DISPLAY_NAME_LENGTH]


def validate_maintenance(windows, zone: str | None) -> tuple[tuple[MaintenanceWindow, ...], str]:
    """The windows (each checked, named `maintenanceWindows[i]`) and their zone (UTC when not given)."""
    windows = tuple(windows or ())
    if len(windows) > MAX_MAINTENANCE_WINDOWS:
        raise InvalidField("maintenanceWindows", f"may hold at most {MAX_MAINTENANCE_WINDOWS} maintenance windows.")
    for index, window in enumerate(windows):
        if not isinstance(window, MaintenanceWindow):
            raise InvalidField(f"maintenanceWindows[{index}]", "must be an object with cron and durationMinutes.")
        window.validated(f"maintenanceWindows[{index}]")
    return windows, maintenance_time_zone_from_api(zone)


def _validated_devices(devices: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if devices is None:
        return None
    if not devices:
        raise InvalidField("devices", "must name at least one device, or be left out.")
    if len(devices) > limits.MAX_EXPLICIT_DEVICES:
        raise InvalidField("devices", f"must name at most {limits.MAX_EXPLICIT_DEVICES} devices.")
    for index, device_id in enumerate(devices):
        limits.validate_device_id(device_id, f"devices[{index}]")
    if len(set(devices)) != len(devices):
        raise InvalidField("devices", "must not name a device twice.")
    return tuple(devices)
