"""A whole stack in separate processes, for end-to-end tests and benchmarks: an Azurite, a
demo-fleet IoT Hub simulator and the dev host in a subprocess (so it can be killed with SIGKILL
and started again, and its settings chosen per run). Each Stack is its own, so the simulator's
per-device logs hold only what its user caused."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import requests
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient

from local.azurite import start_azurite
from local.iothub_sim import start_simulator
from local.stack import LOCAL_APP_SETTINGS
from local.waiting import wait_for
from shared.access.admin_token import create_token
from shared.repositories import JobDeviceRepository, ensure_tables
from shared.settings import Settings
from shared.storage_names import QUEUES

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Fast defaults for an unthrottled simulator: no client pacing, watchdog off; 16 devices at a
# time (a test relies on the 17th device of a batch waiting for the first ones).
FAST_SETTINGS = {"HUB_TWIN_READS_PER_SECOND": "0", "HUB_TWIN_UPDATES_PER_SECOND": "0",
                 "HUB_METHOD_UNITS_PER_SECOND": "0", "HUB_QUERIES_PER_MINUTE": "0",
                 "DISPATCH_STALL_SECONDS": "0", "DISPATCH_CONCURRENCY": "16",
                 # Tests and benchmarks are one caller making many requests: no per-caller limit to speak of.
                 "API_REQUESTS_PER_SECOND": "10000", "API_REQUEST_BURST": "100000"}



def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class HostProcess:
    """`python -m local.functions_host` on the project, in its own process."""
    environ: dict[str, str]
    process: subprocess.Popen | None = None
    port: int = 0
    log_path: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pipeline-host-")) / "host.log")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **overrides: str) -> "HostProcess":
        self.environ = {**self.environ, **overrides}
        self.port = free_port()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.functions_host", "--app-dir", str(PROJECT_ROOT), "--port", str(self.port)],
            cwd=PROJECT_ROOT, env={**os.environ, **self.environ}, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(self._ready, timeout=60, what=f"the dev host (log: {self.log_path})")
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the dev host exited: {self.log_path.read_text()[-3000:]}")
        try:
            return requests.get(f"{self.base_url}/admin/host/status", timeout=2).ok
        except requests.RequestException:
            return False

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when an instance dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self, **overrides: str) -> "HostProcess":
        self.stop()
        return self.start(**overrides)

    def peak_memory_kb(self) -> int:
        """VmHWM: the process's peak resident set size so far."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0


class Stack:
    """Azurite + simulator + a dev host; the job-device rows and the queues, for looking behind
    the API."""

    def __init__(self, sku: str = "none"):
        self.azurite = start_azurite()
        self.hub = start_simulator(fleet="demo", seed=1, sku=sku, in_subprocess=True)
        self.tables = TableServiceClient.from_connection_string(self.azurite.connection_string)
        ensure_tables(self.tables)
        for name in QUEUES:
            self.queue(name).create_queue()
        self.job_devices = JobDeviceRepository(self.tables)
        environ = {"AzureWebJobsStorage": self.azurite.connection_string,
                   "IOTHUB_CONNECTION_STRING": self.hub.connection_string,
                   "REQUESTS_CA_BUNDLE": self.hub.ca_bundle, "NO_PROXY": "localhost,127.0.0.1",
                   **LOCAL_APP_SETTINGS, **FAST_SETTINGS}
        self.host = HostProcess(environ)
        # An Administrator API token of this stack's app, for its callers (as `make run` prints one).
        self.admin_token = create_token(self.tables, Settings.from_environ(environ), "stack-admin", days=2,
                                        created_by="system:harness")

    @classmethod
    def started(cls, sku: str = "none", **settings: str) -> "Stack":
        """A stack whose dev host runs with these settings added; closed again if the host fails to start."""
        stack = cls(sku=sku)
        try:
            stack.host.start(**settings)
        except BaseException:
            stack.close()
            raise
        return stack

    def log_of(self, device_id: str, operation: str) -> list[dict]:
        """What the simulated device received of one SDK operation (`update_twin`, `invoke_device_method`, …)."""
        return [entry for entry in self.hub.control.device_log(device_id) if entry["operation"] == operation]

    def queue(self, name: str) -> QueueClient:
        from azure.storage.queue import TextBase64EncodePolicy
        return QueueClient.from_connection_string(self.azurite.connection_string, name,
                                                  message_encode_policy=TextBase64EncodePolicy())

    def close(self) -> None:
        self.host.stop()
        self.hub.stop()
        self.azurite.stop()


def add_devices(hub, count: int, tag: str, prefix: str = "bench") -> str:
    """Create `count` simulated devices tagged `bench = tag`; returns the group filter for them."""
    from azure.iot.hub.models import ExportImportDevice
    manager = hub.registry_manager()
    for start in range(0, count, 100):
        entries = [ExportImportDevice(id=f"{prefix}-{tag}-{n:06d}", import_mode="create", status="enabled",
                                      tags={"bench": tag}) for n in range(start, min(count, start + 100))]
        result = manager.bulk_create_or_update_devices(entries)
        if not result.is_successful:
            raise RuntimeError(f"creating devices failed: {result.errors[:3]}")
    return f"SELECT * FROM devices WHERE tags.bench = '{tag}'"


def run_job(base_url: str, token: str, group_filter: str, data: list[dict], timeout: float = 1800,
            show=print) -> tuple[dict, float, float]:
    """Make a group and a job over HTTP (as the caller whose API token is `token`), show its
    progress twice a second until it ends.
    Returns (the ended job, seconds from its creation to its end by its own timestamps, seconds
    until it was first seen running: its planning)."""
    import uuid
    session, suffix = requests.Session(), uuid.uuid4().hex[:8]
    session.headers["Authorization"] = token
    api = f"{base_url}/api"
    session.put(f"{api}/deviceGroups/g-{suffix}", json={"displayName": "bench", "filter": group_filter},
                timeout=60).raise_for_status()
    started = time.monotonic()
    session.put(f"{api}/jobs/j-{suffix}", json={"displayName": "bench", "group": f"g-{suffix}", "data": data},
                timeout=60).raise_for_status()
    planned_at = None
    while True:
        job = session.get(f"{api}/jobs/j-{suffix}", timeout=60).json()
        elapsed, progress = time.monotonic() - started, job["progress"]
        if planned_at is None and job["status"] != "pending":
            planned_at = elapsed
        done = progress["completed"] + progress["failed"]
        show(f"\r  {elapsed:6.1f}s  {job['status']:<9} done {done:>6}/{progress['total']:<6} "
             f"running {progress['running']:>4}  {done / max(elapsed, 0.001):7.1f} devices/s", end="", flush=True)
        if job["status"] in ("completed", "failed", "cancelled"):
            show("")
            seconds = (datetime.fromisoformat(job["end"]) - datetime.fromisoformat(job["created"])).total_seconds()
            return job, seconds, min(planned_at, seconds)
        if elapsed > timeout:
            raise TimeoutError(f"job still {job['status']} after {timeout} s")
        time.sleep(0.5)  # each look costs the dev host CPU that the job would use
