"""Pipeline memory: the dev host's peak memory for a 1,000-device and a
20,000-device property job (each in a fresh host process), and their ratio (target <= 1.3).

    python -m bench.pipeline_memory [--small 1000] [--large 20000]

Peak memory is the host process's VmHWM (peak resident set) read from /proc after the job
ended. Prints figures only; never asserts on time.
"""
from __future__ import annotations

import argparse

from local.harness import Stack, add_devices, run_job


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=20000)
    args = parser.parse_args()
    stack = Stack()
    peaks = {}
    try:
        for count in (args.small, args.large):
            print(f"creating {count} devices ...", flush=True)
            group = add_devices(stack.hub, count, f"m{count}")
            stack.host.restart()
            idle = stack.host.peak_memory_kb()
            print(f"property job on {count} devices (host idle peak {idle / 1024:.0f} MiB):")
            job, seconds, _ = run_job(stack.host.base_url, stack.admin_token, group, [{"type": "property", "path": "fanSpeed", "value": 1}])
            peaks[count] = stack.host.peak_memory_kb()
            print(f"  job {job['status']} in {seconds:.1f} s: {job['progress']}; host peak {peaks[count] / 1024:.0f} MiB")
        ratio = peaks[args.large] / peaks[args.small]
        print(f"6. dev host peak memory: {peaks[args.small] / 1024:.0f} MiB for {args.small} devices, "
              f"{peaks[args.large] / 1024:.0f} MiB for {args.large}; ratio {ratio:.2f} (target <= 1.3)")
    finally:
        stack.close()


if __name__ == "__main__":
    main()
