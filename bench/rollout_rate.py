"""A job's rollout rate, measured where it matters: when the simulated devices receive their update.

    python -m bench.rollout_rate [--devices 1000] [--rate 600] [--no-ramp]

1. a property job on the demo fleet's vending machines with `rolloutRate: {maximumPerMinute: 600}`,
   through the dev host (its own process, the app's default hub pacing, the watchdog on), Azurite
   and the simulator throttled like one S1 unit: the devices per minute from the simulator's
   receipt times, overall, per minute and in the busiest 60 s, and the ratio to 600 (target
   within 10 %);
2. an exponential ramp (base 150/min, x2 every 150 devices notified, up to 600/min) on 600 of
   them: each stretch of the ramp's measured rate beside the rate it should have.
Prints figures only; never asserts on time.
"""
from __future__ import annotations

import argparse
import time
import uuid
from datetime import datetime

import requests

from local.harness import Stack
from shared.domain.rollout_rate import RolloutRate

VENDING = "SELECT * FROM devices WHERE tags.type = 'vending'"
DEFAULT_PACING = {"HUB_TWIN_READS_PER_SECOND": "100", "HUB_TWIN_UPDATES_PER_SECOND": "50",
                  "HUB_METHOD_UNITS_PER_SECOND": "40", "HUB_QUERIES_PER_MINUTE": "20",
                  "DISPATCH_STALL_SECONDS": "900"}
RAMP = {"maximumPerMinute": 600, "exponentialRate": {"baseRatePerMinute": 150, "incrementFactor": 2,
                                                     "rateIncreaseCriteria": {"numberOfNotifiedDevices": 150}}}


def run_job(stack: Stack, devices: list[str], rollout_rate: dict) -> dict:
    """Make a group and a rate-limited job on `devices` (the whole group when they are all of it:
    planning a subset takes a query per 50 ids); show its progress until it ends."""
    session, suffix = requests.Session(), uuid.uuid4().hex[:8]
    subset = {"devices": devices} if len(devices) < 1000 else {}
    session.headers["Authorization"] = stack.admin_token
    api = f"{stack.host.base_url}/api"
    session.put(f"{api}/deviceGroups/g-{suffix}", json={"displayName": "bench", "filter": VENDING},
                timeout=60).raise_for_status()
    session.put(f"{api}/jobs/j-{suffix}", timeout=60, json={
        "displayName": "bench", "group": f"g-{suffix}", "rolloutRate": rollout_rate, **subset,
        "data": [{"type": "property", "path": "fanSpeed", "value": 3}]}).raise_for_status()
    started, sending = time.monotonic(), None
    while True:
        job = session.get(f"{api}/jobs/j-{suffix}", timeout=60).json()
        elapsed, progress = time.monotonic() - started, job["progress"]
        done = progress["completed"] + progress["failed"]
        sending = sending if sending is not None or not done else elapsed
        rate = done * 60 / max(elapsed - sending, 1) if sending is not None else 0
        print(f"\r  {elapsed:6.1f}s  {job['status']:<9} done {done:>5}/{progress['total']:<5} "
              f"about {rate:4.0f} devices/min since the first", end="", flush=True)
        if job["status"] in ("completed", "failed", "cancelled"):
            print()
            return job
        time.sleep(1)


def receipts(stack: Stack, devices: list[str]) -> list[float]:
    """Each device's first twin update, in seconds after the job's first one, sorted."""
    times = []
    for index, device_id in enumerate(devices, start=1):
        log = [entry for entry in stack.hub.control.device_log(device_id) if entry["operation"] == "update_twin"]
        if log:
            times.append(datetime.fromisoformat(log[0]["time"].replace("Z", "+00:00")).timestamp())
        if index % 100 == 0 or index == len(devices):
            print(f"\r  reading the simulator's logs {index}/{len(devices)}", end="", flush=True)
    print()
    first = min(times)
    return sorted(at - first for at in times)


def per_minute(count: int, seconds: float) -> float:
    return count * 60 / seconds if seconds > 0 else float("nan")


def busiest_minute(times: list[float]) -> int:
    return max(sum(1 for later in times[i:] if later < start + 60) for i, start in enumerate(times))


def steady(stack: Stack, devices: list[str], rate: int) -> None:
    print(f"1. property job on {len(devices)} devices, rolloutRate maximumPerMinute {rate}:", flush=True)
    job = run_job(stack, devices, {"maximumPerMinute": rate})
    print(f"   job {job['status']}: {job['progress']}")
    times = receipts(stack, devices)
    overall = per_minute(len(times) - 1, times[-1])  # n receipts span n - 1 spacings
    print(f"   overall: {overall:.1f} devices/min ({len(times)} devices received over {times[-1]:.1f} s); "
          f"ratio to {rate}: {overall / rate:.3f} (target 0.90-1.10)")
    for minute in range(int(times[-1] // 60) + 1):
        start, end = minute * 60, min((minute + 1) * 60, times[-1])
        count = sum(1 for at in times if start <= at < end or (at == times[-1] and start <= at <= end))
        print(f"   minute {minute + 1}: {count} devices in {end - start:.1f} s = {per_minute(count, end - start):.1f}/min")
    print(f"   busiest 60 s: {busiest_minute(times)} devices (the rate {rate} plus at most a few 1-s batches)")


def ramp(stack: Stack, devices: list[str]) -> None:
    rate = RolloutRate.of(RAMP)
    print(f"2. property job on {len(devices)} devices, rolloutRate {RAMP}:", flush=True)
    job = run_job(stack, devices, RAMP)
    print(f"   job {job['status']}: {job['progress']}")
    times = receipts(stack, devices)
    step = rate.increase_every
    for first in range(0, len(times), step):
        last = min(first + step, len(times)) - 1
        if last <= first:
            continue
        measured = per_minute(last - first, times[last] - times[first])
        expected = rate.per_minute(first)
        print(f"   devices {first + 1}-{last + 1}: {measured:.1f}/min, the ramp's {expected:.0f}/min "
              f"(ratio {measured / expected:.3f})")
    ideal = sum(60 / rate.per_minute(n) for n in range(len(times) - 1))
    print(f"   whole ramp: {times[-1]:.1f} s; the ramp's own schedule {ideal:.1f} s (ratio {ideal / times[-1]:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000, help="at most 1000: the demo fleet's vending machines")
    parser.add_argument("--rate", type=int, default=600)
    parser.add_argument("--no-ramp", action="store_true")
    args = parser.parse_args()
    devices = [f"vending-{n:04d}" for n in range(1, min(args.devices, 1000) + 1)]
    stack = Stack(sku="S1")
    try:
        stack.host.start(**DEFAULT_PACING)
        steady(stack, devices, args.rate)
        if not args.no_ramp:
            stack.hub.control.reset()  # logs cleared, fleet as it started
            ramp(stack, devices[:600])
    finally:
        stack.close()


if __name__ == "__main__":
    main()
