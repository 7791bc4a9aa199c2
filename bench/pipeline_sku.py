"""The pipeline end to end against a simulator throttled like an IoT Hub S1 or S3, with the app
paced for that SKU.

    python -m bench.pipeline_sku [--sku S1 S3] [--devices 10000] [--s3-units 1] [--concurrency 32]

N devices are created once (the simulator unthrottled meanwhile); then for each SKU the dev host
is restarted with pacing for it (HUB_TWIN_READS_PER_SECOND, HUB_TWIN_UPDATES_PER_SECOND,
HUB_METHOD_UNITS_PER_SECOND, HUB_QUERIES_PER_MINUTE from the SKU table, bench/_sku.py), and a
property job then a command job (`echo`; devices answer in the demo fleet's lognormal ~60 ms
and never fail) each run on all N, the simulator's buckets full at the run call. Per SKU and
operation:

- devices/s from the run call to the job's end (planning included) ÷ the binding quota: twin
  updates 50/s on S1, 250/s/unit on S3; direct methods in 4 KB units of the request body, 40/s/unit
  on S1 and 24 MB/s/unit on S3, divided by the units one call costs (target >= 0.9; a command job
  on S3 is bound by DISPATCH_CONCURRENCY ÷ device latency long before the hub, also shown);
- time from the run call to the first device reached (the simulator's first answered call,
  its counters polled every 50 ms);
- 429s the hub answered during the job, per SDK operation (the simulator's counters byStatus);
- time to 10,000 devices: measured when the job has that many, otherwise extrapolated from the
  job's rate (labelled so).
Prints figures only; never asserts on time.
"""
from __future__ import annotations

import argparse
import math

from bench._sku import answered, binding_quota, pacing, throttled_429s
from local.harness import FirstCall, Stack, add_devices, run_job

OPERATIONS = {"property": {"type": "property", "path": "fanSpeed", "value": 2},
              "command": {"type": "command", "path": "echo", "value": 1}}
SDK_OPERATION = {"property": "update_twin", "command": "invoke_device_method"}
TEN_THOUSAND = 10_000


def concurrency_bound(stack, group: str, concurrency: int) -> str:
    """What DISPATCH_CONCURRENCY allows when each call waits for the device (a lognormal latency's mean)."""
    latency = stack.hub.control.device(f"bench-sku-{0:06d}")["latency"]
    kind, _, numbers = latency.partition(":")
    text = f"concurrency bound: DISPATCH_CONCURRENCY {concurrency} ÷ the devices' latency {latency}"
    if kind == "lognormal":
        median, sigma = (float(n) for n in numbers.split(",")[:2])
        mean = median * math.exp(sigma * sigma / 2) / 1000
        text += f" (mean {mean * 1000:.0f} ms) ≈ {concurrency / mean:.0f} devices/s"
    return text


def one_job(stack, sku: str, units: int, name: str, group: str, concurrency: int) -> dict:
    operation = OPERATIONS[name]
    quota, quota_text = binding_quota(sku, units, operation)
    stack.hub.control.set_sku(sku, units)  # full buckets at the run call
    print(f"{sku}: {name} job, binding quota {quota_text} = {quota:g} devices/s:", flush=True)
    reached = {}

    def on_poll(elapsed: float, job: dict) -> None:
        progress = job["progress"]
        if "10k" not in reached and progress["completed"] + progress["failed"] >= TEN_THOUSAND:
            reached["10k"] = elapsed

    before = stack.hub.control.counters()
    first = FirstCall(stack.hub, SDK_OPERATION[name]).start()
    try:
        job, seconds, planning = run_job(stack.host.base_url, stack.admin_token, group, [operation],
                                         on_run=first.mark, on_poll=on_poll)
    finally:
        first.stop()
    after = stack.hub.control.counters()
    stack.hub.control.set_sku("none")
    total = job["progress"]["total"]
    rate = total / seconds
    print(f"  job {job['status']}: {job['progress']}; hub answered {answered(before, after, SDK_OPERATION[name])} "
          f"{SDK_OPERATION[name]} calls with 2xx")
    throttled = throttled_429s(before, after)
    if "10k" in reached:
        ten_k = f"{reached['10k']:.1f} s (measured)"
    else:
        ten_k = f"{TEN_THOUSAND / rate:.0f} s (extrapolated from {total} devices at {rate:.1f}/s)"
    first_text = "none seen" if first.seconds is None else f"{first.seconds:.2f} s"
    print(f"  {rate:.1f} devices/s ({total} in {seconds:.1f} s from the run call, planning {planning:.1f} s) "
          f"÷ {quota:g}/s = {rate / quota:.2f} (target >= 0.9); sending alone "
          f"{total / max(seconds - planning, 0.001) / quota:.2f}")
    if name == "command":
        print(f"  ({concurrency_bound(stack, group, concurrency)})")
    print(f"  first device reached {first_text} after the run call; 429s the hub answered: "
          f"{sum(throttled.values())} {throttled or ''}")
    print(f"  time to 10,000 devices: {ten_k}", flush=True)
    return {"sku": sku, "operation": name, "rate": rate, "quota": quota, "first": first_text,
            "throttled": sum(throttled.values()), "ten_k": ten_k, "status": job["status"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sku", nargs="+", default=["S1", "S3"], choices=["S1", "S3"])
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--s3-units", type=int, default=1, help="IoT Hub units of the S3 hub")
    parser.add_argument("--concurrency", type=int, default=32, help="DISPATCH_CONCURRENCY (the product's default)")
    args = parser.parse_args()
    stack = Stack()  # unthrottled until each job's run call
    results = []
    try:
        print(f"creating {args.devices} devices in the simulator ...", flush=True)
        group = add_devices(stack.hub, args.devices, "sku", show=print)
        stack.hub.control.set_fleet_behaviour(failure_probability=0)
        for sku in args.sku:
            units = args.s3_units if sku == "S3" else 1
            settings = {**pacing(sku, units), "DISPATCH_CONCURRENCY": str(args.concurrency)}
            print(f"\n{sku} ({units} unit(s)): dev host paced with {settings}", flush=True)
            stack.host.restart(**settings)
            for name in OPERATIONS:
                results.append(one_job(stack, sku, units, name, group, args.concurrency))
        print(f"\nsummary, {args.devices} devices (devices/s from the run call ÷ binding quota, target >= 0.9):")
        for r in results:
            print(f"  {r['sku']} {r['operation']:<8} {r['status']:<9} {r['rate']:7.1f}/s ÷ {r['quota']:g} = "
                  f"{r['rate'] / r['quota']:.2f}; first device {r['first']}; 429s {r['throttled']}; "
                  f"10,000 devices in {r['ten_k']}")
    finally:
        stack.close()


if __name__ == "__main__":
    main()
