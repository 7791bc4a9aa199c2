"""One device inside one job, and its state machine.

pending → running (claimed by a sender) → completed | failed. A property the job wants
acknowledged keeps its device running once written, waiting for the acknowledgement
(`awaiting_version`); the acknowledgement, a rejection or the timeout ends it.
running → pending releases a claim (a stopped job's unsent devices, or a dead sender's
property writes, which may be re-sent), or records a failed attempt that the job's retries
try again (shared/domain/retries.py). pending → completed | failed lets an outcome that
arrives after such a release still count once. completed and failed are final.

Outcomes name their attempt (1 for the first): a row records an outcome only of an attempt
later than the last it recorded, so a report delivered twice changes nothing, even when the
first delivery sent the device back to `pending` for a retry.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Generic, TypeVar

from shared.domain.errors import IllegalTransition
from shared.domain.limits import MAX_ERROR_MESSAGE_LENGTH


class DeviceStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (DeviceStatus.COMPLETED, DeviceStatus.FAILED)


class DeviceErrorCode(str, Enum):
    DEVICE_NOT_FOUND = "DeviceNotFound"
    DEVICE_NOT_ONLINE = "DeviceNotOnline"
    TIMEOUT = "Timeout"
    THROTTLED = "Throttled"
    DEVICE_REJECTED = "DeviceRejected"
    EDGE_NOT_SUPPORTED = "EdgeNotSupported"
    INVALID_VALUE = "InvalidValue"
    OUTCOME_UNKNOWN = "OutcomeUnknown"
    HUB_ERROR = "HubError"
    MODEL_MISMATCH = "ModelMismatch"  # the device's modelId differs from an operation's target


_ALLOWED = {
    DeviceStatus.PENDING: {DeviceStatus.RUNNING, DeviceStatus.COMPLETED, DeviceStatus.FAILED},
    DeviceStatus.RUNNING: {DeviceStatus.PENDING, DeviceStatus.COMPLETED, DeviceStatus.FAILED},
    DeviceStatus.COMPLETED: set(),
    DeviceStatus.FAILED: set(),
}


def can_move(current: DeviceStatus, target: DeviceStatus) -> bool:
    return target in _ALLOWED[current]


@dataclass(frozen=True)
class DeviceOutcome:
    """What the sender learned about one device; the collector records it."""

    device_id: str
    succeeded: bool
    error_code: DeviceErrorCode | None = None
    error_message: str | None = None
    attempt: int | None = None  # 1 for the first; None: not from a sender's attempt (as before attempts)
    retry_in: float | None = None  # a failure to try again this many seconds from now; None: final
    # Written, and waiting for the device to acknowledge this desired version (the device stays running).
    awaiting_version: int | None = None
    # False when trying again would repeat a command the device ran (a later step failed): never
    # sent to the collector, it only tells the sender's retry policy.
    retryable: bool = field(default=True, compare=False)

    @classmethod
    def success(cls, device_id: str) -> "DeviceOutcome":
        return cls(device_id, True)

    @classmethod
    def failure(cls, device_id: str, code: DeviceErrorCode, message: str) -> "DeviceOutcome":
        return cls(device_id, False, DeviceErrorCode(code), message)

    @property
    def status(self) -> DeviceStatus:
        if self.retry_in is not None:
            return DeviceStatus.PENDING
        if self.awaiting_version is not None:
            return DeviceStatus.RUNNING
        return DeviceStatus.COMPLETED if self.succeeded else DeviceStatus.FAILED


@dataclass(frozen=True)
class JobDevice:
    job_id: str
    device_id: str
    status: DeviceStatus = DeviceStatus.PENDING
    error_code: DeviceErrorCode | None = None
    error_message: str | None = None
    updated_at: datetime | None = None
    etag: str | None = None
    claimed_by: str | None = None  # the delivery (queue message id) whose sender holds a running row
    attempts: int = 0  # attempts whose outcome the row recorded
    last_attempt_at: datetime | None = None  # when the last of them was recorded
    # Running, its value written: waiting since then for the device to acknowledge this desired version.
    awaiting_version: int | None = None
    awaiting_since: datetime | None = None

    @property
    def deleted(self) -> bool:
        """A device removed from the hub after the job was planned shows as deleted."""
        return self.error_code is DeviceErrorCode.DEVICE_NOT_FOUND

    def moved_to(self, status: DeviceStatus, now: datetime) -> "JobDevice":
        if not can_move(self.status, status):
            raise IllegalTransition(f"device {self.device_id}", self.status.value, f"move to {status.value}")
        return replace(self, status=status, error_code=None, error_message=None, updated_at=now, claimed_by=None,
                       awaiting_version=None, awaiting_since=None)

    def claimed(self, now: datetime, claimer: str | None) -> "JobDevice":
        return replace(self.moved_to(DeviceStatus.RUNNING, now), claimed_by=claimer)

    def records(self, outcome: DeviceOutcome) -> bool:
        """Whether `outcome` is news to this row: it is not final, and the outcome is of a later
        attempt than the last recorded (outcomes without an attempt: any)."""
        if self.status.is_final:
            return False
        if outcome.attempt is None or outcome.attempt > self.attempts:
            return True
        # The acknowledgement (or its timeout) ends the attempt that wrote the value.
        return outcome.attempt == self.attempts and self.awaiting_version is not None \
            and outcome.awaiting_version is None

    def with_outcome(self, outcome: DeviceOutcome, now: datetime) -> "JobDevice":
        """Final, or back to `pending` for a retry with the error it met kept for people to read."""
        # A retry of a row released meanwhile, or a sender's write now waiting for its acknowledgement.
        again = outcome.status is self.status and self.status in (DeviceStatus.PENDING, DeviceStatus.RUNNING)
        moved = self if again else self.moved_to(outcome.status, now)
        message = outcome.error_message[:MAX_ERROR_MESSAGE_LENGTH] if outcome.error_message else None
        attempts = self.attempts if outcome.attempt is None else outcome.attempt
        awaiting = outcome.awaiting_version
        return replace(moved, error_code=outcome.error_code, error_message=message, updated_at=now, claimed_by=None,
                       attempts=attempts, last_attempt_at=now if outcome.attempt is not None else self.last_attempt_at,
                       awaiting_version=awaiting, awaiting_since=now if awaiting is not None else None)


Device = TypeVar("Device")


@dataclass(frozen=True)
class DevicePage(Generic[Device]):
    """One page of devices (the hub's twins, or a job's device rows) and the opaque position of
    the next page (None on the last)."""
    devices: list[Device]
    continuation: str | None
