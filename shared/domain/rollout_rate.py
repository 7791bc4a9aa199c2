"""A job's rollout rate (ours, after AWS IoT Jobs' jobExecutionsRolloutConfig): how many devices
it starts a minute, on top of the hub-wide pacing.

`maximumPerMinute` alone is a steady rate. `exponentialRate` starts at `baseRatePerMinute` and
is multiplied by `incrementFactor` each time another `numberOfNotifiedDevices` devices were
started (or `numberOfSucceededDevices` devices succeeded), up to `maximumPerMinute` when given
(else MAX_ROLLOUT_RATE_PER_MINUTE).

The planner paces a job in steps (`PacedStep`): each step cuts the devices it may start in the
next STEP_SECONDS into small batches, each due a batch's worth of the rate after the one before,
and is followed by the next step once its batches are all due. Pure arithmetic: no I/O.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shared.domain.limits import MAX_BATCH_SIZE, MAX_ROLLOUT_RATE_PER_MINUTE

STEP_SECONDS = 30.0  # how far ahead one planner step schedules a paced job's devices


@dataclass(frozen=True)
class RolloutRate:
    maximum_per_minute: int | None = None
    base_per_minute: int | None = None  # set: an exponential ramp
    increment_factor: float = 1.0
    increase_every: int = 1  # devices (notified or succeeded) per increase of the ramp
    on_succeeded: bool = False  # the ramp counts succeeded devices, not notified ones

    @classmethod
    def of(cls, given: dict[str, Any] | None) -> "RolloutRate | None":
        """The job's `rolloutRate` as stored (the API's field names); None when it has none."""
        if not given:
            return None
        ramp = given.get("exponentialRate")
        if not ramp:
            return cls(maximum_per_minute=given["maximumPerMinute"])
        criteria = ramp["rateIncreaseCriteria"]
        succeeded = criteria.get("numberOfSucceededDevices")
        return cls(maximum_per_minute=given.get("maximumPerMinute"), base_per_minute=ramp["baseRatePerMinute"],
                   increment_factor=float(ramp["incrementFactor"]),
                   increase_every=succeeded or criteria["numberOfNotifiedDevices"], on_succeeded=succeeded is not None)

    @property
    def ceiling(self) -> int:
        return self.maximum_per_minute or MAX_ROLLOUT_RATE_PER_MINUTE

    def per_minute(self, notified: int, succeeded: int = 0) -> float:
        """The rate once `notified` devices were started and `succeeded` succeeded."""
        if self.base_per_minute is None:
            return float(self.ceiling)
        increases = (succeeded if self.on_succeeded else notified) // self.increase_every
        if increases * math.log(self.increment_factor) >= math.log(self.ceiling / self.base_per_minute):
            return float(self.ceiling)  # (and no float overflow for a long ramp)
        return self.base_per_minute * self.increment_factor ** increases


def batch_size(per_minute: float) -> int:
    """Devices per dispatch message at this rate: about a second's worth (at least 1, at most a
    full batch), so a minute's devices arrive spread over the minute, not in one burst."""
    return max(1, min(MAX_BATCH_SIZE, math.ceil(per_minute / 60)))


class PacedStep:
    """One planner step of a paced job: `take(size)` says after how many seconds (from the
    step's start) the next batch of `size` devices is due, or None once the step is full;
    `next_step_seconds` is when the next step is due (when its first batch may be).

    A step that starts a new chain of steps while the job has sent to devices already (a resume,
    the next rollout batch, a recovery) cannot know when the last batch before it went: it
    `follows_others`, and its first batch waits one batch's spacing, as if that one went just now."""

    def __init__(self, rate: RolloutRate, notified: int, succeeded: int, seconds: float = STEP_SECONDS,
                 follows_others: bool = False):
        self.rate, self.notified, self.succeeded, self.seconds = rate, notified, succeeded, seconds
        self.taken = 0
        self.elapsed = self._spacing(self.batch_size) if follows_others else 0.0

    @property
    def batch_size(self) -> int:
        return batch_size(self.per_minute)

    @property
    def per_minute(self) -> float:
        return self.rate.per_minute(self.notified + self.taken, self.succeeded)

    @property
    def full(self) -> bool:
        return self.taken > 0 and self.elapsed >= self.seconds

    def take(self, size: int) -> float | None:
        if self.full:
            return None
        due = self.elapsed
        self.elapsed += self._spacing(size)  # at the rate before these devices count
        self.taken += size
        return due

    def _spacing(self, size: int) -> float:
        return size * 60 / self.per_minute

    @property
    def next_step_seconds(self) -> float:
        return self.elapsed
