"""Pipeline commands: a command job whose devices take 500 ms to answer.

    python -m bench.pipeline_commands [--concurrency 16 64]

Direct methods wait for the device, so the rate is about DISPATCH_CONCURRENCY / latency per
process. Runs the job once per concurrency given. Prints figures only; never asserts on time.
"""
from __future__ import annotations

import argparse

from local.harness import Stack, run_job

GROUP = "SELECT * FROM devices WHERE tags.type = 'vending' AND connectionState = 'Connected'"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    args = parser.parse_args()
    stack = Stack()
    try:
        for concurrency in args.concurrency:
            stack.hub.control.reset()
            stack.hub.control.set_fleet_behaviour(latency="fixed:500", failure_probability=0)
            stack.host.restart(DISPATCH_CONCURRENCY=str(concurrency))
            print(f"command job (echo), devices answer in 500 ms, DISPATCH_CONCURRENCY={concurrency}:")
            job, seconds, planning = run_job(stack.host.base_url, stack.admin_token, GROUP, [{"type": "command", "path": "echo", "value": 1}])
            total = job["progress"]["total"]
            print(f"  job {job['status']}: {job['progress']}")
            print(f"4. concurrency {concurrency}: {total / seconds:.1f} devices/s ({total} in {seconds:.1f} s; sending "
                  f"alone {total / max(seconds - planning, 0.001):.1f}/s; ideal {concurrency / 0.5:.0f}/s)")
    finally:
        stack.close()


if __name__ == "__main__":
    main()
