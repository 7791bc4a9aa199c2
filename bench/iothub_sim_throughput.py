"""Throughput and CPU cost of the IoT Hub simulator under the real SDK.

    python -m bench.iothub_sim_throughput [--calls 6000] [--processes 3] [--threads 4]

Starts the simulator in its own process (unthrottled, 1 ms device latency, no failures), then for
twin PATCHes and for direct methods drives it from several client processes, each running
`IoTHubRegistryManager` with `keep_alive=True` on a few threads. Reports calls per second and the
simulator's own CPU time per call, read from its process CPU time via `/_sim/stats`.
Prints figures only; never asserts on time.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
import time
from dataclasses import dataclass

from local.iothub_sim import start_simulator

NO_PROXY = "localhost,127.0.0.1"


@dataclass
class PhaseResult:
    name: str
    calls: int
    errors: int
    seconds: float
    simulator_cpu_seconds: float

    def report(self) -> str:
        per_call_ms = self.simulator_cpu_seconds * 1000 / max(1, self.calls)
        return (f"{self.name:<14} calls={self.calls:>6}  errors={self.errors:>4}  wall={self.seconds:6.2f}s  "
                f"calls/s={self.calls / self.seconds:8.1f}  simulator CPU={self.simulator_cpu_seconds:6.2f}s  "
                f"simulator CPU/call={per_call_ms:.3f} ms")


def _registry_manager(connection_string: str, ca_bundle: str):
    from azure.iot.hub import IoTHubRegistryManager

    manager = IoTHubRegistryManager.from_connection_string(connection_string)
    manager.protocol.config.connection.verify = ca_bundle
    manager.protocol.config.retry_policy.retries = 0
    manager.protocol.config.keep_alive = True
    return manager


def _call(manager, operation: str, device_id: str, n: int) -> None:
    from azure.iot.hub.models import CloudToDeviceMethod, Twin, TwinProperties

    if operation == "patch":
        twin = Twin(properties=TwinProperties(desired={"targetTemperature": 2 + n % 8}))
        manager.update_twin(device_id, twin, "*")
    else:
        method = CloudToDeviceMethod(method_name="echo", payload={"n": n}, response_timeout_in_seconds=30)
        result = manager.invoke_device_method(device_id, method)
        if result.status != 200:
            raise RuntimeError(f"device answered {result.status}")


def _worker(connection_string, ca_bundle, operation, device_ids, calls, threads, ready, go, done, errors) -> None:
    os.environ["NO_PROXY"] = NO_PROXY
    per_thread = [calls // threads + (1 if i < calls % threads else 0) for i in range(threads)]
    managers = [_registry_manager(connection_string, ca_bundle) for _ in range(threads)]
    with ready.get_lock():
        ready.value += 1
    go.wait()

    def run(index: int) -> None:
        for n in range(per_thread[index]):
            device_id = device_ids[(index * 7919 + n) % len(device_ids)]
            try:
                _call(managers[index], operation, device_id, n)
            except Exception:
                with errors.get_lock():
                    errors.value += 1
            with done.get_lock():
                done.value += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()


def run_phase(hub, name: str, operation: str, device_ids: list[str], calls: int, processes: int, threads: int) -> PhaseResult:
    context = multiprocessing.get_context("spawn")
    go, ready, done, errors = context.Event(), context.Value("i", 0), context.Value("i", 0), context.Value("i", 0)
    shares = [calls // processes + (1 if i < calls % processes else 0) for i in range(processes)]
    workers = [context.Process(target=_worker, args=(hub.connection_string, hub.ca_bundle, operation,
                                                      device_ids[i::processes], shares[i], threads, ready, go, done, errors))
               for i in range(processes)]
    for worker in workers:
        worker.start()
    while ready.value < processes:  # the clock starts once every client has imported the SDK
        if not all(worker.is_alive() for worker in workers):
            raise RuntimeError("a client process died while starting")
        time.sleep(0.1)
    cpu_before, started = hub.control.stats()["cpuSeconds"], time.perf_counter()
    go.set()
    while any(worker.is_alive() for worker in workers):
        print(f"\r  {name}: {done.value}/{calls} calls, {errors.value} errors", end="", file=sys.stderr, flush=True)
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    cpu_used = hub.control.stats()["cpuSeconds"] - cpu_before
    print(f"\r  {name}: {done.value}/{calls} calls, {errors.value} errors", file=sys.stderr, flush=True)
    return PhaseResult(name, done.value, errors.value, seconds, cpu_used)


def online_vending_devices(hub) -> list[str]:
    from azure.iot.hub.models import QuerySpecification

    manager = _registry_manager(hub.connection_string, hub.ca_bundle)
    spec = QuerySpecification(query="SELECT deviceId FROM devices WHERE tags.type = 'vending' AND connectionState = 'Connected'")
    ids, token = [], None
    while True:
        page = manager.query_iot_hub(spec, token, 100)
        ids += [row.device_id for row in page.items]
        token = page.continuation_token
        if not token:
            return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=6000, help="calls per phase (at least 5000 for the CPU figure)")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    os.environ["NO_PROXY"] = NO_PROXY
    print(f"Starting the simulator (subprocess, demo fleet, unthrottled); {args.processes} client processes x "
          f"{args.threads} threads, keep-alive on, {args.calls} calls per phase", file=sys.stderr, flush=True)
    hub = start_simulator(fleet="demo", seed=1, sku="none", latency="fixed:1", failure_probability=0, in_subprocess=True)
    try:
        device_ids = online_vending_devices(hub)
        results = [run_phase(hub, "twin PATCH", "patch", device_ids, args.calls, args.processes, args.threads),
                   run_phase(hub, "direct method", "method", device_ids, args.calls, args.processes, args.threads)]
    finally:
        hub.stop()
    print(f"IoT Hub simulator throughput (pid {hub.pid}, {os.cpu_count()} CPUs; target <= 0.5 ms simulator CPU per call)")
    for result in results:
        print(result.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
