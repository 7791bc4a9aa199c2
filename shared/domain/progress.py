"""A job's progress counters and the rule that ends a job."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from shared.domain.devices import DeviceStatus

if TYPE_CHECKING:
    from shared.domain.rollout import Rollout

_COUNTER = {
    DeviceStatus.PENDING: "pending",
    DeviceStatus.RUNNING: "running",
    DeviceStatus.COMPLETED: "completed",
    DeviceStatus.FAILED: "failed",
}


@dataclass(frozen=True)
class Progress:
    total: int = 0
    pending: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    # A job with rollout batches: which batch is active, and its baseline (see shared.domain.rollout).
    rollout: "Rollout | None" = field(default=None, compare=False)

    @property
    def is_done(self) -> bool:
        """No device is waiting or being sent to. An empty job is done at once."""
        return self.pending == 0 and self.running == 0

    @property
    def succeeded(self) -> bool:
        """The end rule: `completed` when no device failed (an empty job included), else `failed`."""
        return self.failed == 0

    def with_planned(self, count: int) -> "Progress":
        return replace(self, total=self.total + count, pending=self.pending + count)

    def moved(self, source: DeviceStatus, target: DeviceStatus, count: int = 1) -> "Progress":
        if source == target:
            return self
        counts = {_COUNTER[source]: getattr(self, _COUNTER[source]) - count}
        counts[_COUNTER[target]] = getattr(self, _COUNTER[target]) + count
        return replace(self, **counts)

    def as_dict(self) -> dict[str, int]:
        return {"total": self.total, "pending": self.pending, "running": self.running,
                "completed": self.completed, "failed": self.failed}
