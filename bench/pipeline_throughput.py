"""Pipeline throughput, its own cost, and storage operations per device.

    python -m bench.pipeline_throughput [--devices 5000] [--concurrency 16]

1. devices per second of a property job on N devices, unthrottled simulator, through the dev
   host (in this process), Azurite and the simulator (its own process);
2. the same divided by a bare SDK loop (one IoTHubRegistryManager, keep-alive, the same number
   of threads) patching the same devices against the same simulator: the pipeline's own cost;
5. Table transactions and queue messages per device, counted at the SDK clients.
Prints figures only; never asserts on time.
"""
from __future__ import annotations

import argparse
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from azure.data.tables import TableClient
from azure.storage.queue import QueueClient

from local.functions_host import start_host
from local.harness import PROJECT_ROOT, Stack, add_devices, run_job


class Counter:
    """Counts calls of one SDK method, process-wide."""

    def __init__(self, owner, name: str):
        self.count, self._lock = 0, threading.Lock()
        original = getattr(owner, name)

        def counted(*args, **kwargs):
            with self._lock:
                self.count += 1
            return original(*args, **kwargs)

        setattr(owner, name, counted)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its waited-for children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent by this process (the app and the bench), Azurite and the simulator."""

    def __init__(self, stack):
        self.stack = stack

    def read(self) -> dict[str, float]:
        return {"app": time.process_time(), "azurite": cpu_seconds(self.stack.azurite.process.pid),
                "simulator": self.stack.hub.control.stats()["cpuSeconds"]}

    def per_device_ms(self, before: dict, devices: int) -> str:
        after = self.read()
        return ", ".join(f"{name} {(after[name] - before[name]) * 1000 / devices:.2f}" for name in after)


def bare_sdk_loop(hub, device_ids: list[str], threads: int) -> float:
    from azure.iot.hub.models import Twin, TwinProperties
    manager = hub.registry_manager(keep_alive=True)
    twin = Twin(properties=TwinProperties(desired={"fanSpeed": 2}))
    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda device_id: manager.update_twin(device_id, twin, "*"), device_ids))
    return len(device_ids) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    os.environ["NO_PROXY"] = "localhost,127.0.0.1"
    stack = Stack()
    transactions = Counter(TableClient, "submit_transaction")
    messages = Counter(QueueClient, "send_message")
    try:
        print(f"creating {args.devices} devices in the simulator ...", flush=True)
        group = add_devices(stack.hub, args.devices, "t")
        environ = {**stack.host.environ, "DISPATCH_CONCURRENCY": str(args.concurrency)}
        host = start_host(str(PROJECT_ROOT), port=0, environ=environ)
        try:
            print(f"property job on {args.devices} devices, concurrency {args.concurrency}:", flush=True)
            before, cpu = (transactions.count, messages.count), CpuMeter(stack)
            cpu_before = cpu.read()
            job, seconds, planning = run_job(host.base_url, stack.admin_token, group,
                                             [{"type": "property", "path": "fanSpeed", "value": 3}])
            used = (transactions.count - before[0], messages.count - before[1])
            pipeline_cpu = cpu.per_device_ms(cpu_before, args.devices)
        finally:
            host.stop()
        total = job["progress"]["total"]
        pipeline_rate = total / seconds
        print(f"  job {job['status']}: {job['progress']}")
        device_ids = [f"bench-t-{n:06d}" for n in range(args.devices)]
        print(f"bare SDK loop, {args.concurrency} threads, same devices ...", flush=True)
        cpu_before = cpu.read()
        bare_rate = bare_sdk_loop(stack.hub, device_ids, args.concurrency)
        bare_cpu = cpu.per_device_ms(cpu_before, args.devices)
        print()
        print(f"1. pipeline: {pipeline_rate:.1f} devices/s ({total} devices in {seconds:.1f} s, "
              f"of which planning {planning:.1f} s; sending alone {total / max(seconds - planning, 0.001):.1f} devices/s)")
        print(f"2. bare SDK loop: {bare_rate:.1f} devices/s; pipeline / bare = {pipeline_rate / bare_rate:.2f} (target >= 0.5)")
        print(f"   CPU ms per device (all on this machine's cores): pipeline {pipeline_cpu}; bare loop {bare_cpu}")
        print(f"5. Table transactions per device: {used[0] / total:.4f} (target <= 0.05); "
              f"queue messages per device: {used[1] / total:.4f} (target <= 0.03)  [{used[0]} transactions, {used[1]} messages]")
    finally:
        stack.close()


if __name__ == "__main__":
    main()
