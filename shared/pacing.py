"""Client-side pacing under IoT Hub's per-second limits.

A token bucket shared by every thread of a process. Callers reserve tokens and sleep off
any debt outside the lock, so waiting callers are served in arrival order. A 429 from the
hub puts the bucket into debt (`hold_off`), slowing every caller of that class at once.

Also the storage side's pacing: one writer per job partition per process (OneWriterPerJob).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, rate_per_second: float, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.rate = rate_per_second
        self.capacity = burst if burst is not None else max(1.0, rate_per_second)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._available = self.capacity
        self._updated = clock()

    def acquire(self, tokens: float = 1.0) -> float:
        """Take `tokens`, sleeping as long as needed; returns the time slept."""
        with self._lock:
            self._refill()
            self._available -= tokens
            wait = -self._available / self.rate if self._available < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait

    def hold_off(self, seconds: float) -> None:
        """Make the next callers wait at least `seconds` (the hub said we went too fast)."""
        with self._lock:
            self._refill()
            self._available = min(self._available, -seconds * self.rate)

    def _refill(self) -> None:
        now = self._clock()
        self._available = min(self.capacity, self._available + (now - self._updated) * self.rate)
        self._updated = now


class Unlimited:
    """Stands in for a RateLimiter where a limit is switched off (0 in settings)."""

    def acquire(self, tokens: float = 1.0) -> float:
        return 0.0

    def hold_off(self, seconds: float) -> None:
        pass


class OneWriterPerJob:
    """Wraps a job-device repository so this process writes to one job's partition one change at
    a time: its writing methods take the job's lock (shared process-wide, by every stage); reads
    pass through.

    Every change of a job's device rows is one transaction conditioned on the job's progress row,
    so concurrent writers to one job conflict: all but one fail and start over, and a failed
    transaction costs the storage service as much as a successful one. Measured with 5,000
    devices on Azurite: with claims and records racing, a claim took 0.67 s on average and the
    pipeline ran at 335 devices/s; queued behind one lock, 0.09 s and 473 devices/s. Conflicts
    remain only between processes.
    """

    _WRITES = frozenset({"add_pending", "claim", "release", "record_outcomes", "fail_unresolved"})
    _locks: dict[str, threading.Lock] = {}
    _guard = threading.Lock()

    def __init__(self, repository):
        self._repository = repository

    def __getattr__(self, name: str):
        attribute = getattr(self._repository, name)
        if name not in self._WRITES:
            return attribute

        def one_at_a_time(job_id, *args, **kwargs):
            with self._lock_of(job_id):
                return attribute(job_id, *args, **kwargs)

        return one_at_a_time

    @classmethod
    def _lock_of(cls, job_id: str) -> threading.Lock:
        with cls._guard:
            return cls._locks.setdefault(job_id, threading.Lock())
