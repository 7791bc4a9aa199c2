"""Pipeline throughput, its own cost, and storage operations per device, at several fleet sizes.

    python -m bench.pipeline_throughput [--devices 5000 20000] [--concurrency 16]

For each size N given (default 5,000 then 20,000), one property job on N devices of the
unthrottled simulator, through the dev host (in this process), Azurite and the simulator (its
own process), then a bare SDK loop (one IoTHubRegistryManager, keep-alive, the same number of
threads) patching the same devices against the same simulator. Per size it prints:

1. pipeline devices/s (from the job's creation to its end, planning included), and sending alone;
2. pipeline ÷ bare loop devices/s: the pipeline's own cost in time (target >= 0.9);
   app CPU per device of the pipeline ÷ the bare loop's (target <= 1.2): "app" is this process
   (the dev host, the bench's progress polling, and the SDK clients), beside it Azurite's and
   the simulator's CPU ms per device for reference;
3. time from the run call (the job's PUT) to the first device reached: the simulator's first
   answered twin update, seen by polling its counters every 50 ms (target <= 10 s);
5. Table transactions and queue messages per device, counted at the SDK clients (targets
   <= 0.05 and <= 0.03).
Then a summary line per size. Prints figures only; never asserts on time.
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
from local.harness import PROJECT_ROOT, FirstCall, Stack, add_devices, run_job


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

    def per_device_ms(self, before: dict, devices: int) -> dict[str, float]:
        after = self.read()
        return {name: (after[name] - before[name]) * 1000 / devices for name in after}


def shown(per_device: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.2f}" for name, value in per_device.items())


def bare_sdk_loop(hub, device_ids: list[str], threads: int) -> float:
    from azure.iot.hub.models import Twin, TwinProperties
    manager = hub.registry_manager(keep_alive=True)
    twin = Twin(properties=TwinProperties(desired={"fanSpeed": 2}))
    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda device_id: manager.update_twin(device_id, twin, "*"), device_ids))
    return len(device_ids) / (time.monotonic() - started)


def measure(stack, count: int, concurrency: int, transactions: Counter, messages: Counter) -> dict:
    """One size: the pipeline's job, then the bare loop on the same devices; prints as it goes."""
    tag = f"t{count}"
    print(f"\n[{count} devices] creating them in the simulator ...", flush=True)
    group = add_devices(stack.hub, count, tag, show=print)
    environ = {**stack.host.environ, "DISPATCH_CONCURRENCY": str(concurrency)}
    host = start_host(str(PROJECT_ROOT), port=0, environ=environ)
    first = FirstCall(stack.hub, "update_twin")
    try:
        print(f"[{count} devices] property job, concurrency {concurrency}:", flush=True)
        before, cpu = (transactions.count, messages.count), CpuMeter(stack)
        cpu_before = cpu.read()
        first.start()
        job, seconds, planning = run_job(host.base_url, stack.admin_token, group,
                                         [{"type": "property", "path": "fanSpeed", "value": 3}], on_run=first.mark)
        used = (transactions.count - before[0], messages.count - before[1])
        pipeline_cpu = cpu.per_device_ms(cpu_before, count)
    finally:
        first.stop()
        host.stop()
    total = job["progress"]["total"]
    print(f"  job {job['status']}: {job['progress']}")
    device_ids = [f"bench-{tag}-{n:06d}" for n in range(count)]
    print(f"[{count} devices] bare SDK loop, {concurrency} threads, same devices ...", flush=True)
    cpu_before = cpu.read()
    bare_rate = bare_sdk_loop(stack.hub, device_ids, concurrency)
    bare_cpu = cpu.per_device_ms(cpu_before, count)
    figures = {"devices": total, "rate": total / seconds, "seconds": seconds, "planning": planning,
               "bare": bare_rate, "cpu": pipeline_cpu, "bare_cpu": bare_cpu, "first": first.seconds,
               "transactions": used[0], "messages": used[1]}
    report(figures)
    return figures


def report(f: dict) -> None:
    total, first = f["devices"], f["first"]
    cpu_ratio = f["cpu"]["app"] / max(f["bare_cpu"]["app"], 1e-9)
    print(f"1. pipeline: {f['rate']:.1f} devices/s ({total} devices in {f['seconds']:.1f} s, of which planning "
          f"{f['planning']:.1f} s; sending alone {total / max(f['seconds'] - f['planning'], 0.001):.1f} devices/s)")
    print(f"2. bare SDK loop: {f['bare']:.1f} devices/s; pipeline / bare = {f['rate'] / f['bare']:.2f} (target >= 0.9)")
    print(f"   app CPU ms per device: pipeline {f['cpu']['app']:.2f} / bare loop {f['bare_cpu']['app']:.2f} "
          f"= {cpu_ratio:.2f}x (target <= 1.2)")
    print(f"   CPU ms per device (all on this machine's cores): pipeline {shown(f['cpu'])}; bare loop {shown(f['bare_cpu'])}")
    print("3. run call to first device reached: " + ("none seen" if first is None else f"{first:.2f} s") + " (target <= 10 s)")
    print(f"5. Table transactions per device: {f['transactions'] / total:.4f} (target <= 0.05); "
          f"queue messages per device: {f['messages'] / total:.4f} (target <= 0.03)  "
          f"[{f['transactions']} transactions, {f['messages']} messages]", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, nargs="+", default=[5000, 20000], help="fleet sizes, one job each")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    os.environ["NO_PROXY"] = "localhost,127.0.0.1"
    stack = Stack()
    transactions = Counter(TableClient, "submit_transaction")
    messages = Counter(QueueClient, "send_message")
    try:
        results = [measure(stack, count, args.concurrency, transactions, messages) for count in args.devices]
        print("\nsummary (targets: pipeline/bare >= 0.9, app CPU <= 1.2x bare, first device <= 10 s, "
              "transactions <= 0.05/device, messages <= 0.03/device):")
        for f in results:
            first = "-" if f["first"] is None else f"{f['first']:.2f} s"
            print(f"  {f['devices']:>6} devices: {f['rate']:7.1f} devices/s, pipeline/bare {f['rate'] / f['bare']:.2f}, "
                  f"app CPU {f['cpu']['app'] / max(f['bare_cpu']['app'], 1e-9):.2f}x bare, first device {first}, "
                  f"{f['transactions'] / f['devices']:.4f} transactions and {f['messages'] / f['devices']:.4f} "
                  f"messages per device")
    finally:
        stack.close()


if __name__ == "__main__":
    main()
