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


def add_devices(hub, count: int, tag: str, prefix: str = "bench", show=None) -> str:
    """Create `count` simulated devices tagged `bench = tag`; returns the group filter for them.
    With `show` (e.g. print), a progress line every 10,000 devices and at the end."""
    from azure.iot.hub.models import ExportImportDevice
    manager = hub.registry_manager()
    began = time.monotonic()
    for start in range(0, count, 100):
        if show is not None and start and start % 10000 == 0:
            show(f"\r  created {start:>7}/{count} devices ({start / (time.monotonic() - began):.0f}/s)",
                 end="", flush=True)
        entries = [ExportImportDevice(id=f"{prefix}-{tag}-{n:06d}", import_mode="create", status="enabled",
                                      tags={"bench": tag}) for n in range(start, min(count, start + 100))]
        result = manager.bulk_create_or_update_devices(entries)
        if not result.is_successful:
            raise RuntimeError(f"creating devices failed: {result.errors[:3]}")
    if show is not None:
        show(f"\r  created {count:>7}/{count} devices in {time.monotonic() - began:.1f} s")
    return f"SELECT * FROM devices WHERE tags.bench = '{tag}'"


def run_job(base_url: str, token: str, group_filter: str, data: list[dict], timeout: float = 1800,
            show=print, on_run=None, on_poll=None) -> tuple[dict, float, float]:
    """Make a group and a job over HTTP (as the caller whose API token is `token`), show its
    progress twice a second until it ends. `on_run()` is called just before the run call (the
    job's PUT), `on_poll(elapsed, job)` after each look at the job.
    Returns (the ended job, seconds from its creation to its end by its own timestamps, seconds
    until it was first seen running: its planning)."""
    import uuid
    session, suffix = requests.Session(), uuid.uuid4().hex[:8]
    session.headers["Authorization"] = token
    api = f"{base_url}/api"
    session.put(f"{api}/deviceGroups/g-{suffix}", json={"displayName": "bench", "filter": group_filter},
                timeout=60).raise_for_status()
    if on_run is not None:
        on_run()
    started = time.monotonic()
    session.put(f"{api}/jobs/j-{suffix}", json={"displayName": "bench", "group": f"g-{suffix}", "data": data},
                timeout=60).raise_for_status()
    planned_at = None
    while True:
        job = session.get(f"{api}/jobs/j-{suffix}", timeout=60).json()
        elapsed, progress = time.monotonic() - started, job["progress"]
        if planned_at is None and job["status"] != "pending":
            planned_at = elapsed
        if on_poll is not None:
            on_poll(elapsed, job)
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


def _instant(text: str) -> float:
    """A job timestamp (ISO 8601) as seconds since the epoch; naive means UTC."""
    from datetime import timezone
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


class FirstCall:
    """When the simulator first answered an SDK `operation` (`update_twin`, `invoke_device_method`)
    with a 2xx beyond those it had counted at `start()`: the first device a job reached. A
    background thread polls the control API's counters every `interval` s until it sees one (then
    stops, so it costs the simulator nothing more). `mark()` (e.g. run_job's `on_run`) sets the
    moment `seconds` counts from; `start()` sets it too."""

    def __init__(self, hub, operation: str, interval: float = 0.05):
        from local.iothub_sim.control_client import ControlClient
        # Its own client: the control session of `hub` stays the caller's, on its own thread.
        self.control = ControlClient(hub.control.base_url, hub.control.session.verify)
        self.operation, self.interval = operation, interval
        self.started = self.first = None
        self._stop = None

    def _answered(self) -> int:
        statuses = self.control.counters().get(self.operation, {}).get("byStatus", {})
        return sum(count for status, count in statuses.items() if str(status).startswith("2"))

    def start(self) -> "FirstCall":
        import threading
        baseline, self._stop = self._answered(), threading.Event()
        self.started, self.first = time.monotonic(), None

        def poll():
            while not self._stop.wait(self.interval):
                if self._answered() > baseline:
                    self.first = time.monotonic()
                    return

        threading.Thread(target=poll, name="first-call", daemon=True).start()
        return self

    def mark(self) -> None:
        self.started = time.monotonic()

    @property
    def seconds(self) -> float | None:
        """From the mark to the first call seen; None if none was seen (yet)."""
        return None if self.first is None else self.first - self.started

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        self.control.close()


def run_jobs(base_url: str, token: str, jobs: list[tuple[str, list[dict]]], timeout: float = 1800,
             show=print, retry_for: float = 600, on_run=None) -> list[dict]:
    """Run several jobs at once over HTTP: make each (group filter, data)'s group first, one after
    another (IoT Hub checks each filter: a 429 or 503 is waited out by its Retry-After), then
    every job's run call (its PUT) at the same moment, one thread each, then show their combined
    progress every second until all ended. A run call answered with an error is a refusal: noted,
    and, if it was a 429 or 503, made again after its Retry-After (for at most `retry_for` s).
    Returns, per job in order: {"id", "job" (as it ended; None if it never ran), "seconds" (from
    its first run call to its end, by the job's end time), "refusals" [(status, body)]}.
    `on_run()` is called once, at the moment the run calls are made."""
    import threading
    import uuid
    session = requests.Session()
    session.headers["Authorization"] = token
    api, suffix = f"{base_url}/api", uuid.uuid4().hex[:6]
    results = [{"id": f"j-{suffix}-{index:02d}", "job": None, "seconds": None, "refusals": [], "first_call": None}
               for index in range(len(jobs))]
    making = time.monotonic()
    for index, (group_filter, _) in enumerate(jobs):
        show(f"\r  making device group {index + 1}/{len(jobs)} ...", end="", flush=True)
        _retrying(lambda: session.put(f"{api}/deviceGroups/g-{suffix}-{index:02d}", timeout=60,
                                      json={"displayName": "bench", "filter": group_filter}), retry_for).raise_for_status()
    show(f"\r  made {len(jobs)} device groups in {time.monotonic() - making:.1f} s")
    gate = threading.Barrier(len(jobs))

    def start(index: int, data: list[dict]) -> None:
        caller = requests.Session()
        caller.headers["Authorization"] = token
        result, body = results[index], {"displayName": "bench", "group": f"g-{suffix}-{index:02d}", "data": data}
        gate.wait()
        if index == 0 and on_run is not None:
            on_run()
        result["first_call"], deadline = time.time(), time.monotonic() + retry_for
        while True:
            response = caller.put(f"{api}/jobs/{result['id']}", json=body, timeout=60)
            if response.ok:
                result["ran"] = True
                return
            result["refusals"].append((response.status_code, response.text[:300]))
            if response.status_code not in (429, 503) or time.monotonic() > deadline:
                return
            time.sleep(float(response.headers.get("Retry-After", "5")))

    threads = [threading.Thread(target=start, args=(index, data)) for index, (_, data) in enumerate(jobs)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    while True:
        time.sleep(1)
        for result in results:
            if result.get("ran") and (result["job"] is None or result["job"]["status"] not in ENDED):
                result["job"] = session.get(f"{api}/jobs/{result['id']}", timeout=60).json()
                if result["job"]["status"] in ENDED:
                    result["seconds"] = _instant(result["job"]["end"]) - result["first_call"]
        looked = [result["job"] for result in results if result["job"] is not None]
        done = sum(job["progress"]["completed"] + job["progress"]["failed"] for job in looked)
        total = sum(job["progress"]["total"] for job in looked)
        ended = sum(job["status"] in ENDED for job in looked)
        elapsed = time.monotonic() - began
        show(f"\r  {elapsed:6.1f}s  jobs ended {ended}/{len(jobs)}  done {done:>6}/{total:<6} "
             f"{done / max(elapsed, 0.001):7.1f} devices/s", end="", flush=True)
        starting = any(thread.is_alive() for thread in threads)
        if not starting and all(result["job"] is None or result["job"]["status"] in ENDED for result in results):
            show("")
            return results
        if elapsed > timeout:
            raise TimeoutError(f"jobs still running after {timeout} s")


ENDED = ("completed", "failed", "cancelled")


def _retrying(request, retry_for: float):
    """`request()` again while it answers 429 or 503, after its Retry-After, for at most `retry_for` s."""
    deadline = time.monotonic() + retry_for
    while True:
        response = request()
        if response.status_code not in (429, 503) or time.monotonic() > deadline:
            return response
        time.sleep(float(response.headers.get("Retry-After", "5")))


def job_devices(base_url: str, token: str, job_id: str, status: str | None = None) -> list[dict]:
    """A job's device rows through the API (`GET /api/jobs/{id}/devices`, every page), optionally of one status."""
    session = requests.Session()
    session.headers["Authorization"] = token
    url, params, rows = f"{base_url}/api/jobs/{job_id}/devices", {"$top": "1000"}, []
    if status:
        params["status"] = status
    while url:
        response = session.get(url, params=params, timeout=60)
        response.raise_for_status()
        page = response.json()
        rows.extend(page["value"])
        url, params = page.get("nextLink"), None
    return rows
