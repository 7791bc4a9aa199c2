"""Rollout batches (IoT Central's `batch`): a job's devices cut into consecutive id ranges, sent
to one range at a time; batch N+1 starts only when every device of batch N has an outcome.

Batches are cut once planning has written every target's row, from the rows in id order, so
they never overlap and a replayed cut gives the same ranges. Nothing is sent before the cut,
and nothing outside the active batch after it, so while batch N is active the batches before
it are final and the ones after it are as they were cut (pending, or failed at planning).
That is why the active batch's counters need no counting of their own: they are the job's
counters less a baseline (`Rollout`) kept in the job's progress row, which the device-row
transactions never touch.
"""
from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from shared.domain.devices import DeviceStatus
from shared.domain.progress import Progress


@dataclass(frozen=True)
class RolloutBatch:
    """Batch `index` (0-based) holds the device ids first..last, both included, as they sort;
    its counters are those it was cut with, and its final ones once it is done."""

    index: int
    first_device_id: str
    last_device_id: str
    total: int
    pending: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    done: bool = False

    def contains(self, device_id: str) -> bool:
        return self.first_device_id <= device_id <= self.last_device_id

    @property
    def progress(self) -> Progress:
        return Progress(self.total, self.pending, self.running, self.completed, self.failed)

    def finished_with(self, counts: Progress) -> "RolloutBatch":
        return replace(self, pending=counts.pending, running=counts.running, completed=counts.completed,
                       failed=counts.failed, done=True)


def batch_size(batch: dict[str, Any], total: int) -> int:
    """Devices per batch: IoT Central's `{"type": "number", "value": n}` is n devices,
    `{"type": "percentage", "value": p}` p % of the job's devices, rounded up (at least 1)."""
    value = batch["value"]
    if batch["type"] == "percentage":
        return max(1, math.ceil(total * value / 100))
    return max(1, int(value))


def cut_batches(rows: Iterable[tuple[str, DeviceStatus]], size: int) -> Iterator[RolloutBatch]:
    """Batches of `size` consecutive devices from (device id, status) in ascending id order,
    each with the counts of the statuses it holds; streams, holding one batch's counts."""
    index, first, last, counts = 0, None, None, {}
    for device_id, status in rows:
        if first is not None and sum(counts.values()) == size:
            yield _batch(index, first, last, counts)
            index, first, counts = index + 1, None, {}
        first = device_id if first is None else first
        last = device_id
        counts[status] = counts.get(status, 0) + 1
    if first is not None:
        yield _batch(index, first, last, counts)


def _batch(index: int, first: str, last: str, counts: dict[DeviceStatus, int]) -> RolloutBatch:
    return RolloutBatch(index, first, last, sum(counts.values()), counts.get(DeviceStatus.PENDING, 0),
                        counts.get(DeviceStatus.RUNNING, 0), counts.get(DeviceStatus.COMPLETED, 0),
                        counts.get(DeviceStatus.FAILED, 0))


@dataclass(frozen=True)
class Rollout:
    """Which batch is active, and the baseline that turns the job's counters into its own:
    the outcomes of the batches before it, and the later batches as they were cut."""

    active: int
    count: int
    first_device_id: str
    last_device_id: str
    total: int  # the active batch's devices
    before_completed: int = 0
    before_failed: int = 0
    beyond_pending: int = 0
    beyond_failed: int = 0

    @classmethod
    def starting(cls, batches: list[RolloutBatch]) -> "Rollout":
        first = batches[0]
        later = batches[1:]
        return cls(0, len(batches), first.first_device_id, first.last_device_id, first.total,
                   beyond_pending=sum(b.pending for b in later), beyond_failed=sum(b.failed for b in later))

    @property
    def is_last(self) -> bool:
        return self.active >= self.count - 1

    def active_progress(self, progress: Progress) -> Progress:
        """The active batch's counters, from the job's."""
        return Progress(total=self.total, pending=progress.pending - self.beyond_pending, running=progress.running,
                        completed=progress.completed - self.before_completed,
                        failed=progress.failed - self.before_failed - self.beyond_failed)

    def active_done(self, progress: Progress) -> bool:
        """Every device of the active batch has an outcome."""
        return self.active_progress(progress).is_done

    def following(self, finished: Progress, following: RolloutBatch) -> "Rollout":
        """The next batch active, once the active one finished with counts `finished`."""
        return replace(self, active=following.index, first_device_id=following.first_device_id,
                       last_device_id=following.last_device_id, total=following.total,
                       before_completed=self.before_completed + finished.completed,
                       before_failed=self.before_failed + finished.failed,
                       beyond_pending=self.beyond_pending - following.pending,
                       beyond_failed=self.beyond_failed - following.failed)

    def to_fields(self) -> dict[str, int | str]:
        return {"rolloutActive": self.active, "rolloutCount": self.count, "rolloutFirst": self.first_device_id,
                "rolloutLast": self.last_device_id, "rolloutTotal": self.total,
                "rolloutBeforeCompleted": self.before_completed, "rolloutBeforeFailed": self.before_failed,
                "rolloutBeyondPending": self.beyond_pending, "rolloutBeyondFailed": self.beyond_failed}

    @classmethod
    def from_fields(cls, fields: dict) -> "Rollout | None":
        if fields.get("rolloutActive") is None:
            return None
        return cls(active=fields["rolloutActive"], count=fields["rolloutCount"], first_device_id=fields["rolloutFirst"],
                   last_device_id=fields["rolloutLast"], total=fields["rolloutTotal"],
                   before_completed=fields.get("rolloutBeforeCompleted", 0),
                   before_failed=fields.get("rolloutBeforeFailed", 0),
                   beyond_pending=fields.get("rolloutBeyondPending", 0),
                   beyond_failed=fields.get("rolloutBeyondFailed", 0))


def batch_statuses(batches: list[RolloutBatch], rollout: Rollout | None, progress: Progress,
                   job_status: str) -> list[tuple[RolloutBatch, str]]:
    """Each batch with its counters now and its status: `completed` or `failed` once done (failed
    when a device failed), the active one's as the job's (`running`, `stopped`, or how the job
    ended; `pending` while the job is stopped before it sent to it, as after a pause), and the
    later ones `pending` (`cancelled` once the job ended without them)."""
    ended = job_status in ("completed", "failed", "cancelled")
    shown = []
    for batch in batches:
        if rollout is not None and batch.index == rollout.active and not batch.done:
            counts = rollout.active_progress(progress)
            untouched = counts.running == counts.completed == 0 and counts.failed == batch.failed
            batch = replace(batch, pending=counts.pending, running=counts.running, completed=counts.completed,
                            failed=counts.failed, done=counts.is_done)
            if not counts.is_done:
                shown.append((batch, "pending" if untouched and job_status == "stopped" else job_status))
                continue
        if batch.done:
            shown.append((batch, "failed" if batch.failed else "completed"))
        else:
            shown.append((batch, "cancelled" if ended else "pending"))
    return shown


def batch_index_of(batches: list[RolloutBatch], device_id: str) -> int | None:
    """The index of the batch holding `device_id` (batches in index order), else None."""
    at = bisect_left(batches, device_id, key=lambda batch: batch.last_device_id)
    return at if at < len(batches) and batches[at].contains(device_id) else None
