"""A small client for the simulator's `/_sim/` control API (used by tests, the demo and benchmarks)."""
from __future__ import annotations

from urllib.parse import quote

import requests

BEHAVIOUR_FIELDS = {"latency": "latency", "failure_probability": "failureProbability",
                    "reboot_seconds": "rebootSeconds", "ack_delay": "ackDelay", "profile": "profile"}


class ControlError(RuntimeError):
    pass


class ControlClient:
    def __init__(self, base_url: str, ca_bundle: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False  # never through a proxy, never another CA bundle
        self.session.verify = ca_bundle
        self.timeout = timeout

    def _call(self, method: str, path: str, body=None):
        response = self.session.request(method, f"{self.base_url}/_sim/{path}", json=body, timeout=self.timeout)
        if response.status_code >= 400:
            raise ControlError(f"{method} /_sim/{path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def health(self) -> dict:
        return self._call("GET", "health")

    def stats(self) -> dict:
        """`{"pid", "cpuSeconds", "wallTime"}` of the simulator process."""
        return self._call("GET", "stats")

    def reset(self) -> None:
        """Fleet, behaviour and throttling back to how the simulator started; logs, counters, faults and jobs cleared."""
        self._call("POST", "reset")

    def set_online(self, device_id: str, online: bool = True) -> dict:
        return self._call("PUT", f"devices/{_segment(device_id)}/connection", {"online": online})

    def device(self, device_id: str) -> dict:
        return self._call("GET", f"devices/{_segment(device_id)}")

    def set_behaviour(self, device_id: str, **changes) -> dict:
        """latency="uniform:5,20", failure_probability=0.1, reboot_seconds=2, ack_delay="fixed:10", profile="vending"."""
        return self._call("PATCH", f"devices/{_segment(device_id)}/behaviour", _behaviour_body(changes))

    def set_fleet_behaviour(self, **changes) -> dict:
        """Same knobs as `set_behaviour`, for every device and for devices created later."""
        return self._call("PATCH", "behaviour", _behaviour_body(changes))

    def device_log(self, device_id: str) -> list[dict]:
        """What the device received: `{time, operation, methodName?, payload?, desired?, tags?, result?}`."""
        return self._call("GET", f"devices/{_segment(device_id)}/log")

    def counters(self) -> dict:
        """`{operation: {"calls": n, "byStatus": {"200": n, ...}}}` per SDK operation name."""
        return self._call("GET", "counters")

    def inject_fault(self, operation_class: str = "*", count: int = 1, status: int | None = None,
                     latency_ms: float = 0) -> dict:
        """The next `count` calls of the class (registry, query, twinRead, twinUpdate, method, jobs, or *)
        answer `status` (429, 500, 503) and/or wait `latency_ms` first."""
        body = {"operationClass": operation_class, "count": count, "status": status, "latencyMs": latency_ms}
        return self._call("POST", "faults", body)

    def faults(self) -> list[dict]:
        return self._call("GET", "faults")

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def set_sku(self, sku: str, units: int = 1) -> dict:
        return self._call("PUT", "throttle", {"sku": sku, "units": units})

    def set_bucket(self, operation_class: str, capacity: float | None, refill_per_second: float = 0) -> dict:
        """Replace one class's token bucket (capacity None removes the limit)."""
        body = {"operationClass": operation_class, "capacity": capacity, "refillPerSecond": refill_per_second}
        return self._call("PUT", "throttle", body)

    def throttle(self) -> dict:
        return self._call("GET", "throttle")

    def import_export_jobs(self) -> dict:
        """`{"created": n, "byStatus": {"completed": n, ...}, "queueSeconds": s}` since the last reset."""
        return self._call("GET", "jobs")

    def set_job_queue_seconds(self, seconds: float) -> dict:
        """New import/export jobs stay `enqueued` this long before they run (0 after a reset)."""
        return self._call("PUT", "jobs", {"queueSeconds": seconds})

    def close(self) -> None:
        self.session.close()


def _segment(device_id: str) -> str:
    return quote(device_id, safe="")


def _behaviour_body(changes: dict) -> dict:
    unknown = set(changes) - set(BEHAVIOUR_FIELDS)
    if unknown:
        raise TypeError(f"unknown behaviour settings: {sorted(unknown)}")
    return {BEHAVIOUR_FIELDS[name]: value for name, value in changes.items()}
