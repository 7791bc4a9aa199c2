"""The pipeline at scale: a 200,000-device property job on the unthrottled simulator, and the dev
host's peak memory for it against a 1,000-device job.

    python -m bench.pipeline_scale [--devices 200000] [--small 1000]

The devices of both jobs are created first (progress every 10,000). Then the small job and the
big one each run in a fresh dev host process (as pipeline_memory.py), default fast settings.
Prints:

- whether the big job completed, its counters (completed + failed) against its total and the
  simulator's answered twin updates during it against the total, and whether both are exact;
- planning devices/s: devices ÷ the time until the job was planned: first seen out of pending
  (run_job looks twice a second) with a row for every device (a job that starts sending while it
  plans is planned when its total reaches N) (target >= 2,000 devices/s);
- time from the run call to the first device reached (the simulator's first answered twin
  update, its counters polled every 50 ms);
- the host's peak memory (VmHWM) for the small and the big job and their ratio (target <= 1.3).
Prints figures only; never asserts on time.
"""
from __future__ import annotations

import argparse

from bench._sku import answered
from local.harness import FirstCall, Stack, add_devices, run_job


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=1000)
    args = parser.parse_args()
    stack = Stack()
    peaks, big = {}, None
    try:
        groups = {}
        for name, count in (("small", args.small), ("big", args.devices)):
            print(f"creating {count} devices for the {name} job ...", flush=True)
            groups[name] = add_devices(stack.hub, count, f"scale{name}", show=print)
        for name, count in (("small", args.small), ("big", args.devices)):
            stack.host.restart()
            idle = stack.host.peak_memory_kb()
            print(f"{name} property job on {count} devices, fresh dev host (idle peak {idle / 1024:.0f} MiB):", flush=True)
            before = stack.hub.control.counters()
            first, planned = FirstCall(stack.hub, "update_twin").start(), {}

            def on_poll(elapsed: float, job: dict, count=count) -> None:
                # Planned: every device has its row and the job left pending (a job may start
                # sending while it plans; then the rows are the end of planning).
                if "at" not in planned and job["status"] != "pending" and job["progress"]["total"] >= count:
                    planned["at"] = elapsed

            try:
                job, seconds, pending = run_job(stack.host.base_url, stack.admin_token, groups[name],
                                                [{"type": "property", "path": "fanSpeed", "value": 5}],
                                                timeout=7200, on_run=first.mark, on_poll=on_poll)
            finally:
                first.stop()
            planning = max(pending, min(planned.get("at", seconds), seconds))
            peaks[name] = stack.host.peak_memory_kb()
            updates = answered(before, stack.hub.control.counters(), "update_twin")
            print(f"  job {job['status']} in {seconds:.1f} s (pending {pending:.1f} s, planned after {planning:.1f} s): "
                  f"{job['progress']}; "
                  f"host peak {peaks[name] / 1024:.0f} MiB", flush=True)
            if name == "big":
                big = (job, seconds, planning, updates, first.seconds)
        job, seconds, planning, updates, first_seconds = big
        progress = job["progress"]
        total, done = progress["total"], progress["completed"] + progress["failed"]
        print()
        print(f"big job: {job['status']}; counters completed {progress['completed']} + failed {progress['failed']} = "
              f"{done} of total {total} ({'exact' if done == total == args.devices else 'NOT exact'}); "
              f"hub answered {updates} twin updates for {total} devices ({'exact' if updates == total else 'NOT exact'})")
        print(f"planning: {total} devices in {planning:.1f} s = {total / max(planning, 0.001):.0f} devices/s "
              f"(target >= 2,000); whole job {total / seconds:.1f} devices/s in {seconds:.1f} s")
        print("first device reached: " + ("none seen" if first_seconds is None else f"{first_seconds:.2f} s")
              + " after the run call")
        ratio = peaks["big"] / peaks["small"]
        print(f"dev host peak memory: {peaks['small'] / 1024:.0f} MiB for {args.small} devices, "
              f"{peaks['big'] / 1024:.0f} MiB for {args.devices}; ratio {ratio:.2f} (target <= 1.3)")
    finally:
        stack.close()


if __name__ == "__main__":
    main()
