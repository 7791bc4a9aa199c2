"""IoT Hub's published per-SKU limits (../shared/reference/iothub-wire.md, "Throttling per SKU") as the
app's pacing settings and as the quotas a benchmark divides by. Not a benchmark itself (`python -m
bench` skips modules whose name starts with `_`)."""
from __future__ import annotations

import json
import math

METHOD_METER_BYTES = 4096  # direct methods are metered in 4 KB units of the request body
S3_METHOD_UNITS_PER_SECOND = 24 * 1024 * 1024 // METHOD_METER_BYTES  # 24 MB/s/unit: 6,144 units/s/unit


def quotas(sku: str, units: int = 1) -> dict[str, float]:
    """Per second (queries per minute) for the whole hub: twin reads, twin updates, 4 KB method units, queries."""
    # S1's twin limits do not grow with units; its method and query limits do.
    if sku == "S1":
        return {"twin_reads": 100, "twin_updates": 50, "method_units": 40 * units, "queries_per_minute": 20 * units}
    if sku == "S3":
        return {"twin_reads": 500 * units, "twin_updates": 250 * units,
                "method_units": S3_METHOD_UNITS_PER_SECOND * units, "queries_per_minute": 1000 * units}
    raise ValueError(f"no quotas for SKU {sku!r} here (S1 or S3)")


def pacing(sku: str, units: int = 1) -> dict[str, str]:
    """The app's HUB_* pacing settings for a hub of this SKU and units (README, settings table)."""
    q = quotas(sku, units)
    return {"HUB_TWIN_READS_PER_SECOND": f"{q['twin_reads']:g}", "HUB_TWIN_UPDATES_PER_SECOND": f"{q['twin_updates']:g}",
            "HUB_METHOD_UNITS_PER_SECOND": f"{q['method_units']:g}", "HUB_QUERIES_PER_MINUTE": f"{q['queries_per_minute']:g}"}


def method_request_bytes(method_name: str, payload, timeout_seconds: int = 30) -> int:
    """About the size of the direct-method request body the SDK sends (what the hub meters)."""
    return len(json.dumps({"methodName": method_name, "payload": payload,
                           "responseTimeoutInSeconds": timeout_seconds, "connectTimeoutInSeconds": timeout_seconds}))


def binding_quota(sku: str, units: int, operation: dict) -> tuple[float, str]:
    """The hub limit that binds a job of this one operation: (devices per second, how it was found)."""
    q = quotas(sku, units)
    if operation["type"] == "property":
        return q["twin_updates"], f"{q['twin_updates']:g} twin updates/s"
    size = method_request_bytes(operation["path"], operation.get("value"))
    meters = max(1, math.ceil(size / METHOD_METER_BYTES))
    return q["method_units"] / meters, (f"{q['method_units']:g} method units/s ÷ {meters} unit(s) per call "
                                        f"({size}-byte request)")


def throttled_429s(before: dict, after: dict) -> dict[str, int]:
    """429 answers per SDK operation between two simulator counter readings (only those with any)."""
    found = {}
    for operation, counts in after.items():
        was = before.get(operation, {}).get("byStatus", {}).get("429", 0)
        now = counts.get("byStatus", {}).get("429", 0)
        if now > was:
            found[operation] = now - was
    return found


def answered(before: dict, after: dict, operation: str) -> int:
    """2xx answers of one SDK operation between two simulator counter readings."""
    def ok(counters: dict) -> int:
        return sum(n for status, n in counters.get(operation, {}).get("byStatus", {}).items() if str(status).startswith("2"))
    return ok(after) - ok(before)
