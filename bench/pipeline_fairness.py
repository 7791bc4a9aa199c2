"""Fairness between concurrent jobs on one throttled hub: J jobs of N devices each, every one over
its own device group (distinct tags), all run at the same moment through the API against a
simulator throttled like one IoT Hub S1 unit, the app paced for S1.

    python -m bench.pipeline_fairness [--jobs 10] [--devices 1000]

The groups are made first (one after another; a 429 or 503 from the API is waited out by its
Retry-After), then every job's run call (its PUT) at once, one thread each. Prints:

- per job: devices/s from its run call to its end, its status, and any refusal of its run call;
- Jain's fairness index over the per-job devices/s, (Σx)² / (n·Σx²) (target >= 0.9);
- the sum of the per-job rates and all devices ÷ the span from the first run call to the last
  end, against S1's 50 twin updates/s;
- time from the run calls to the first device reached, of any job (the simulator's first
  answered twin update, its counters polled every 50 ms);
- 429s the hub answered (absorbed by the app), per SDK operation (the simulator's counters);
- devices failed by throttling: rows of the jobs failed with error code Throttled, read through
  `GET /api/jobs/{id}/devices?status=failed` (target 0), and the other failures by code;
- whether any job's run call was refused.
Prints figures only; never asserts on time.
"""
from __future__ import annotations

import argparse
from collections import Counter

from bench._sku import pacing, quotas, throttled_429s
from local.harness import FirstCall, Stack, add_devices, job_devices, run_jobs

THROTTLED = "Throttled"  # shared.domain.devices.DeviceErrorCode.THROTTLED


def jain(values: list[float]) -> float:
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values)) if values and any(values) else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--devices", type=int, default=1000, help="devices per job")
    args = parser.parse_args()
    stack = Stack()  # unthrottled while the devices are created
    try:
        print(f"creating {args.jobs} groups of {args.devices} devices in the simulator ...", flush=True)
        groups = [add_devices(stack.hub, args.devices, f"fair{index:02d}") for index in range(args.jobs)]
        stack.hub.control.set_fleet_behaviour(failure_probability=0)
        settings = pacing("S1")
        print(f"dev host paced for S1: {settings}; simulator throttled as S1", flush=True)
        stack.host.restart(**settings)
        stack.hub.control.set_sku("S1")
        before = stack.hub.control.counters()
        print(f"{args.jobs} property jobs of {args.devices} devices, run at once:", flush=True)
        data = [{"type": "property", "path": "fanSpeed", "value": 4}]
        first = FirstCall(stack.hub, "update_twin").start()
        try:
            results = run_jobs(stack.host.base_url, stack.admin_token, [(group, data) for group in groups],
                               on_run=first.mark)
        finally:
            first.stop()
        after = stack.hub.control.counters()
        rates, failures, refused = [], Counter(), []
        for index, result in enumerate(results):
            job = result["job"]
            if result["refusals"]:
                refused.append(result["id"])
            if job is None:
                print(f"  job {index + 1:>2} {result['id']}: never ran; refusals {result['refusals']}")
                continue
            total = job["progress"]["total"]
            rate = total / result["seconds"]
            rates.append(rate)
            print(f"  job {index + 1:>2} {result['id']}: {job['status']}, {total} devices in {result['seconds']:.1f} s "
                  f"from its run call = {rate:.1f} devices/s; {job['progress']}"
                  + (f"; refusals {result['refusals']}" if result["refusals"] else ""), flush=True)
            if job["progress"]["failed"]:
                failures.update(row.get("errorCode") for row in
                                job_devices(stack.host.base_url, stack.admin_token, result["id"], "failed"))
        ran = [r for r in results if r["job"] is not None]
        span = max(r["first_call"] + r["seconds"] for r in ran) - min(r["first_call"] for r in ran) if ran else 0
        devices = sum(r["job"]["progress"]["total"] for r in ran)
        throttled = throttled_429s(before, after)
        limit = quotas("S1")["twin_updates"]
        print()
        print(f"Jain's fairness index over {len(rates)} jobs' devices/s: {jain(rates):.3f} (target >= 0.9); "
              f"slowest {min(rates, default=0):.1f}, fastest {max(rates, default=0):.1f} devices/s")
        print(f"all jobs: {devices} devices in {span:.1f} s from the first run call to the last end = "
              f"{devices / max(span, 0.001):.1f} devices/s ÷ {limit:g}/s = {devices / max(span, 0.001) / limit:.2f}; "
              f"sum of per-job rates {sum(rates):.1f} devices/s")
        print("first device reached (of any job): " + ("none seen" if first.seconds is None else
                                                       f"{first.seconds:.2f} s") + " after the run calls")
        print(f"429s absorbed: {sum(throttled.values())} {throttled or ''}")
        print(f"devices failed by throttling (errorCode {THROTTLED}): {failures.get(THROTTLED, 0)} (target 0)"
              + (f"; all failures by code {dict(failures)}" if failures else ""))
        print(f"jobs refused at their run call: {len(refused)}" + (f" {refused}" if refused else ""))
    finally:
        stack.close()


if __name__ == "__main__":
    main()
