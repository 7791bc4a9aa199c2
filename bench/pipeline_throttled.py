"""Pipeline under throttling: a property job against a simulator throttled like one
S1 unit (50 twin updates/s), with the app's default pacing (also one S1 unit).

    python -m bench.pipeline_throttled [--devices 1000]

Prints devices per second divided by the hub's limit (target >= 0.9), and how many calls the
hub throttled. Prints figures only; never asserts on time.
"""
from __future__ import annotations

import argparse

from local.harness import Stack, add_devices, run_job

S1_TWIN_UPDATES_PER_SECOND = 50
DEFAULT_PACING = {"HUB_TWIN_READS_PER_SECOND": "100", "HUB_TWIN_UPDATES_PER_SECOND": "50",
                  "HUB_METHOD_UNITS_PER_SECOND": "40", "HUB_QUERIES_PER_MINUTE": "20"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000, help="1000: the demo fleet's vending machines")
    args = parser.parse_args()
    stack = Stack(sku="S1")
    try:
        stack.host.start(**DEFAULT_PACING)
        group = "SELECT * FROM devices WHERE tags.type = 'vending'"
        if args.devices != 1000:
            group = add_devices(stack.hub, args.devices, "s")
        print(f"property job, simulator at S1 ({S1_TWIN_UPDATES_PER_SECOND} twin updates/s), default pacing:")
        job, seconds, planning = run_job(stack.host.base_url, stack.admin_token, group, [{"type": "property", "path": "fanSpeed", "value": 2}])
        total = job["progress"]["total"]
        statuses = stack.hub.control.counters()["update_twin"]["byStatus"]
        rate, sending = total / seconds, total / max(seconds - planning, 0.001)
        print(f"  job {job['status']}: {job['progress']}; hub answers {statuses}")
        print(f"3. {rate:.1f} devices/s ({total} in {seconds:.1f} s, planning {planning:.1f} s) "
              f"÷ {S1_TWIN_UPDATES_PER_SECOND}/s = {rate / S1_TWIN_UPDATES_PER_SECOND:.2f} (target >= 0.9); "
              f"sending alone {sending / S1_TWIN_UPDATES_PER_SECOND:.2f}")
    finally:
        stack.close()


if __name__ == "__main__":
    main()
