"""`start_simulator(...)`: run the simulator on a background thread (its own event loop) or in a subprocess."""
from __future__ import annotations

import asyncio
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .control_client import ControlClient
from .server import Simulator, SimulatorConfig

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SimulatorHandle:
    connection_string: str
    ca_bundle: str
    port: int
    pid: int  # the process serving requests (this one when running in a thread)
    _stop: Callable[[], None] = field(repr=False)
    control: ControlClient = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.control = ControlClient(self.base_url, self.ca_bundle)

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.port}"

    def registry_manager(self, keep_alive: bool = True, retries: int = 0, timeout: float = 700):
        """A real `IoTHubRegistryManager` that trusts the simulator, with SDK retries off by default."""
        from azure.iot.hub import IoTHubRegistryManager

        return self._trusting(IoTHubRegistryManager.from_connection_string(self.connection_string),
                              keep_alive, retries, timeout)

    def job_manager(self, keep_alive: bool = True, retries: int = 0, timeout: float = 700):
        """A real `IoTHubJobManager` (import/export jobs), set up as `registry_manager`."""
        from azure.iot.hub import IoTHubJobManager

        return self._trusting(IoTHubJobManager.from_connection_string(self.connection_string),
                              keep_alive, retries, timeout)

    def _trusting(self, manager, keep_alive: bool, retries: int, timeout: float):
        manager.protocol.config.connection.verify = self.ca_bundle
        manager.protocol.config.connection.timeout = timeout
        manager.protocol.config.retry_policy.retries = retries
        manager.protocol.config.keep_alive = keep_alive
        return manager

    def stop(self) -> None:
        self.control.close()
        self._stop()

    def __enter__(self) -> "SimulatorHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_simulator(*, fleet: str = "demo", seed: int = 1, sku: str = "none", units: int = 1,
                    state_file: str | Path | None = None, state_dir: str | Path | None = None,
                    latency: str | None = None, failure_probability: float | None = None,
                    host: str = "127.0.0.1", port: int = 0, in_subprocess: bool = False,
                    startup_timeout: float = 30.0) -> SimulatorHandle:
    """Start a simulator and return once it serves. Unthrottled (`sku="none"`) unless asked otherwise."""
    config = SimulatorConfig(host=host, port=port, fleet=fleet, seed=seed, sku=sku, units=units,
                             state_file=Path(state_file) if state_file else None,
                             state_dir=Path(state_dir) if state_dir else None,
                             latency=latency, failure_probability=failure_probability)
    if in_subprocess:
        return _start_subprocess(config, startup_timeout)
    return _start_thread(config, startup_timeout)


def _start_thread(config: SimulatorConfig, startup_timeout: float) -> SimulatorHandle:
    runner = _ThreadRunner(config)
    runner.start(startup_timeout)
    simulator = runner.simulator
    return SimulatorHandle(simulator.connection_string, str(simulator.tls.ca_bundle), simulator.port,
                           os.getpid(), runner.stop)


class _ThreadRunner:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.simulator: Simulator | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="iothub-sim", daemon=True)

    def start(self, timeout: float) -> None:
        self.thread.start()
        if not self.ready.wait(timeout):
            raise TimeoutError("IoT Hub simulator did not start in time")
        if self.error is not None:
            raise RuntimeError("IoT Hub simulator failed to start") from self.error

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self._serve())
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        try:
            self.stopping = asyncio.Event()
            self.simulator = Simulator(self.config)
            await self.simulator.start()
        except BaseException as error:  # reported to the starting thread
            self.error = error
            self.ready.set()
            return
        self.ready.set()
        await self.stopping.wait()
        await self.simulator.stop()

    def stop(self) -> None:
        if self.loop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stopping.set)
            self.thread.join(timeout=10)


def _start_subprocess(config: SimulatorConfig, startup_timeout: float) -> SimulatorHandle:
    process = subprocess.Popen(_cli_args(config), cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        values = _read_ready_lines(process, startup_timeout)
    except BaseException:
        process.kill()
        process.wait()
        raise
    connection_string = values["IOTHUB_CONNECTION_STRING"]
    port = int(connection_string.split(";")[0].rsplit(":", 1)[1])
    return SimulatorHandle(connection_string, values["IOTHUB_CA_BUNDLE"], port, process.pid,
                           lambda: _terminate(process))


def _cli_args(config: SimulatorConfig) -> list[str]:
    args = [sys.executable, "-m", "local.iothub_sim", "--host", config.host, "--port", str(config.port),
            "--fleet", config.fleet, "--seed", str(config.seed), "--sku", config.sku, "--units", str(config.units),
            "--log-level", "warning"]
    optional = {"--state": config.state_file, "--state-dir": config.state_dir, "--latency": config.latency,
                "--failure-probability": config.failure_probability}
    for flag, value in optional.items():
        if value is not None:
            args += [flag, str(value)]
    return args


def _read_ready_lines(process: subprocess.Popen, timeout: float) -> dict[str, str]:
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump_lines, args=(process.stdout, lines), daemon=True).start()
    values: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(values) < 2:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError("IoT Hub simulator subprocess did not become ready in time") from None
        if line is None:
            raise RuntimeError(f"IoT Hub simulator subprocess exited (code {process.wait()})")
        name, _, value = line.strip().partition("=")
        if name in ("IOTHUB_CONNECTION_STRING", "IOTHUB_CA_BUNDLE"):
            values[name] = value
    return values


def _pump_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
