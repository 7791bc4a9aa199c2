"""IoT Hub throttling: one token bucket per operation class, sized from the published SKU table.

Limits quoted per minute (registry, queries, jobs operations) get a bucket of one minute's calls;
limits quoted per second (twin reads/updates, methods) get a bucket of one second's calls. A full bucket of size X
lets X immediate calls through and rejects call X+1 with 429 (no Retry-After), which keeps tests
count-based rather than timing-based.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from .errors import ArgumentInvalid, ThrottlingException

REGISTRY, QUERY, TWIN_READ, TWIN_UPDATE, METHOD = "registry", "query", "twinRead", "twinUpdate", "method"
JOBS = "jobs"
OPERATION_CLASSES = (REGISTRY, QUERY, TWIN_READ, TWIN_UPDATE, METHOD, JOBS)
METHOD_METER_BYTES = 4096


@dataclass
class TokenBucket:
    capacity: float
    refill_per_second: float
    tokens: float = -1.0
    updated: float = 0.0

    def __post_init__(self) -> None:
        self.refill()

    def refill(self) -> None:
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def try_take(self, cost: float) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_second)
        self.updated = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def to_dict(self) -> dict:
        return {"capacity": self.capacity, "refillPerSecond": self.refill_per_second, "tokens": self.tokens}


def sku_buckets(sku: str, units: int) -> dict[str, TokenBucket]:
    """Buckets for IoT Hub's published per-SKU, per-unit limits (see iothub-wire.md, throttling)."""
    if sku == "none":
        return {}
    per_minute = {"S1": (100, 20, 100), "S2": (100, 20, 100), "S3": (5000, 1000, 5000)}
    per_second = {
        "S1": (100, 50, 40 * units),
        "S2": (max(100, 10 * units), max(50, 5 * units), 120 * units),
        "S3": (500 * units, 250 * units, 6144 * units),
    }
    if sku not in per_minute:
        raise ValueError(f"unknown SKU {sku!r} (S1, S2, S3 or none)")
    registry, query, jobs = (n * units for n in per_minute[sku])
    twin_read, twin_update, method = per_second[sku]
    return {
        REGISTRY: TokenBucket(registry, registry / 60),
        QUERY: TokenBucket(query, query / 60),
        TWIN_READ: TokenBucket(twin_read, twin_read),
        TWIN_UPDATE: TokenBucket(twin_update, twin_update),
        METHOD: TokenBucket(method, method),
        JOBS: TokenBucket(jobs, jobs / 60),
    }


def method_cost(body_size: int) -> int:
    """Direct methods are metered in 4 KB units of request payload."""
    return max(1, math.ceil(body_size / METHOD_METER_BYTES))


class Throttle:
    def __init__(self, sku: str = "none", units: int = 1) -> None:
        self.initial = (sku, units)
        self.configure(sku, units)

    def reset(self) -> None:
        """Back to the SKU the simulator started with, buckets full."""
        self.configure(*self.initial)

    def configure(self, sku: str, units: int) -> None:
        self.sku, self.units = sku, units
        self.buckets = sku_buckets(sku, units)

    def set_bucket(self, operation_class: str, capacity: float | None, refill_per_second: float) -> None:
        if operation_class not in OPERATION_CLASSES:
            raise ArgumentInvalid(f"unknown operation class {operation_class!r}")
        if capacity is None:
            self.buckets.pop(operation_class, None)
        else:
            self.buckets[operation_class] = TokenBucket(capacity, refill_per_second)

    def check(self, operation_class: str, cost: float = 1) -> None:
        bucket = self.buckets.get(operation_class)
        if bucket is not None and not bucket.try_take(cost):
            raise ThrottlingException(f"Throttling limit for '{operation_class}' exceeded ({self.sku}, {self.units} unit(s))")

    def to_dict(self) -> dict:
        return {"sku": self.sku, "units": self.units, "buckets": {k: b.to_dict() for k, b in self.buckets.items()}}
