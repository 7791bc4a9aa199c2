"""Client-side pacing under IoT Hub's per-second limits.

A token bucket shared by every thread of a process. Callers reserve tokens and sleep off
any debt outside the lock, so waiting callers are served in arrival order. A 429 from the
hub puts the bucket into debt (`hold_off`), slowing every caller of that class at once, and
lowers its pace, which climbs back while the hub stays quiet (so a hub whose real limit is
below the configured one is met at its own pace, in every process that meets it).

IoT Hub's limits are per hub, and every Function instance may send: each process paces at its
share of the limits, divided by the processes sending now (SenderCount, over a registry that
all instances write to).

Also the storage side's pacing: one writer per job partition per process (OneWriterPerJob).
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

logger = logging.getLogger(__name__)


# After a 429 the pace drops to this fraction of itself (never below MIN_PACE of the target),
# then climbs back linearly, reaching the target again RECOVERY_SECONDS after a full slowdown.
SLOWDOWN = 0.5
MIN_PACE = 0.25
RECOVERY_SECONDS = 30.0
# One slowdown per overshoot: the 429s of calls already in flight belong to the same one.
_SLOWDOWN_SPACING_SECONDS = 1.0


class RateLimiter:
    def __init__(self, rate_per_second: float, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.target = rate_per_second  # the pace asked for; `rate` is below it for a while after a 429
        self.rate = rate_per_second
        self.capacity = burst if burst is not None else max(1.0, rate_per_second)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._available = self.capacity
        self._updated = clock()
        self._slowed_until = float("-inf")

    def acquire(self, tokens: float = 1.0) -> float:
        """Take `tokens`, sleeping as long as needed; returns the time slept."""
        with self._lock:
            self._refill()
            self._available -= tokens
            wait = -self._available / self.rate if self._available < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait

    def try_acquire(self, tokens: float = 1.0, max_wait: float = 0.0) -> float:
        """Take `tokens` if they come within `max_wait` seconds (sleeping until then) and return 0;
        otherwise take nothing and return how long they would take. A cost above the burst is
        let through once the bucket is full, leaving the rest as debt."""
        with self._lock:
            self._refill()
            wait = max(0.0, (min(tokens, self.capacity) - self._available) / self.rate)
            if wait > max_wait:
                return wait
            self._available -= tokens
        if wait > 0:
            self._sleep(wait)
        return 0.0

    def charge(self, tokens: float = 1.0) -> None:
        """Count `tokens` spent without waiting for them (calls admitted by a limiter of their
        own): the next callers wait for them instead."""
        with self._lock:
            self._refill()
            self._available -= tokens

    def hold_off(self, seconds: float) -> None:
        """The hub said we went too fast (429): the next callers wait at least `seconds`, and the
        pace drops (once per overshoot), then climbs back while the hub stays quiet."""
        with self._lock:
            self._refill()
            now = self._clock()
            if now >= self._slowed_until:
                self.rate = max(self.target * MIN_PACE, self.rate * SLOWDOWN)
            self._slowed_until = max(self._slowed_until, now + max(seconds, _SLOWDOWN_SPACING_SECONDS))
            self._available = min(self._available, -seconds * self.rate)

    def paused_for(self) -> float:
        """Seconds until a hold-off's debt is paid (0 when none is pending)."""
        with self._lock:
            self._refill()
            held = self._clock() < self._slowed_until
            return max(0.0, -self._available / self.rate) if held else 0.0

    def set_rate(self, rate_per_second: float, burst: float | None = None) -> None:
        """Go on at another rate (and burst, as in the constructor); tokens in hand are kept up
        to the new burst, debt is kept as it is, and so is a slowdown, in proportion."""
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        with self._lock:
            self._refill()
            self.rate = rate_per_second * self.rate / self.target
            self.target = rate_per_second
            self.capacity = burst if burst is not None else max(1.0, rate_per_second)
            self._available = min(self._available, self.capacity)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        self._available = min(self.capacity, self._available + elapsed * self.rate)
        if self.rate < self.target and now >= self._slowed_until:
            self.rate = min(self.target, self.rate + self.target * elapsed / RECOVERY_SECONDS)
        self._updated = now


class Unlimited:
    """Stands in for a RateLimiter where a limit is switched off (0 in settings): no pace, but a
    429 still makes every caller of the class wait the hold-off."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._clock, self._sleep = clock, sleep
        self._resume_at = float("-inf")

    def acquire(self, tokens: float = 1.0) -> float:
        wait = self.paused_for()
        if wait > 0:
            self._sleep(wait)
        return wait

    def try_acquire(self, tokens: float = 1.0, max_wait: float = 0.0) -> float:
        wait = self.paused_for()
        if wait > max_wait:
            return wait
        if wait > 0:
            self._sleep(wait)
        return 0.0

    def charge(self, tokens: float = 1.0) -> None:
        pass

    def hold_off(self, seconds: float) -> None:
        self._resume_at = max(self._resume_at, self._clock() + seconds)

    def paused_for(self) -> float:
        return max(0.0, self._resume_at - self._clock())

    def set_rate(self, rate_per_second: float, burst: float | None = None) -> None:
        pass


class SenderRegistry(Protocol):
    def announce_and_count(self, sender_id: str, window: timedelta) -> int: ...
    def withdraw(self, sender_id: str) -> None: ...


class SenderCount:
    """How many processes send to the hub now, this one included.

    A process announces itself at most every `refresh` seconds while it sends and counts the
    announcements of the last `expiry` seconds. A newcomer is seen by the others within one
    refresh; a process that stopped sending drops out after `expiry`, or at once when it exits
    cleanly (the others meanwhile keep a smaller share: slower, never above the limit). If the
    registry cannot be reached, the last count stands: pacing never fails a device.
    """

    def __init__(self, registry: SenderRegistry, refresh: float = 2.0, expiry: float = 10.0,
                 monotonic: Callable[[], float] = time.monotonic):
        self._registry, self._monotonic = registry, monotonic
        self._refresh, self._window = refresh, timedelta(seconds=expiry)
        self._id = uuid.uuid4().hex
        self._count, self._refreshed = 1, None
        self._lock = threading.Lock()

    def __call__(self) -> int:
        if self._due() and self._lock.acquire(False):  # one thread refreshes; the others use the last count
            try:
                if self._due():
                    self._refresh_count()
            finally:
                self._lock.release()
        return self._count

    def withdraw(self) -> None:
        try:
            self._registry.withdraw(self._id)
        except Exception:  # noqa: BLE001 - at exit, with storage gone: the row ages out instead
            pass

    def _due(self) -> bool:
        return self._refreshed is None or self._monotonic() - self._refreshed >= self._refresh

    def _refresh_count(self) -> None:
        if self._refreshed is None:
            atexit.register(self.withdraw)
        self._refreshed = self._monotonic()
        try:
            self._count = max(1, self._registry.announce_and_count(self._id, self._window))
        except Exception as error:  # noqa: BLE001 - any storage trouble: keep the last count
            logger.warning("could not count the processes sending to IoT Hub (%s); keeping %d",
                           type(error).__name__, self._count)


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

    Two kinds of write are not in the queue the senders wait in, and meet only the one writer at
    its head:
    - planning (`add_pending`), so a job that sends while it plans plans at half the partition's
      turns, not at one turn in as many as there are senders (bench.planning_writes), and a
      planner's turn writes many pages (dispatcher.export_planning.PAGES_PER_TURN);
    - the collector's records (`record_outcomes`), so an outcome a sender knows waits for one
      claim at most, not for every claim queued before it: more claims than records would
      otherwise grow the devices `running` with their outcome known, and a sender's next claim
      waits for the outcomes before it instead.
    """

    _WRITES = frozenset({"add_pending", "claim", "release", "record_outcomes"})
    _AHEAD_OF_THE_QUEUE = frozenset({"add_pending", "record_outcomes"})
    _locks: dict[str, tuple[threading.Lock, threading.Lock]] = {}
    _guard = threading.Lock()

    def __init__(self, repository):
        self._repository = repository

    def __getattr__(self, name: str):
        attribute = getattr(self._repository, name)
        if name not in self._WRITES:
            return attribute

        def ahead_of_the_queue(job_id, *args, **kwargs):
            _, write = self._locks_of(job_id)
            with write:
                return attribute(job_id, *args, **kwargs)

        def one_at_a_time(job_id, *args, **kwargs):
            queue, write = self._locks_of(job_id)
            with queue, write:
                return attribute(job_id, *args, **kwargs)

        return ahead_of_the_queue if name in self._AHEAD_OF_THE_QUEUE else one_at_a_time

    @classmethod
    def _locks_of(cls, job_id: str) -> tuple[threading.Lock, threading.Lock]:
        """The job's queue (senders' claims and releases wait there first) and its write lock."""
        with cls._guard:
            return cls._locks.setdefault(job_id, (threading.Lock(), threading.Lock()))
