"""Start the local stack, wait until each part answers, stop everything on Ctrl-C.

Order matters: storage and the hub first, because the dev host's functions reach both.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from local.azurite import AzuriteError, start_azurite

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_SECONDS = 60
# App settings the host itself needs (the timer's %setting%), as the deployment sets them.
LOCAL_APP_SETTINGS = {"JOB_HISTORY_PURGE_SCHEDULE": "0 0 3 * * *", "SCHEDULED_JOBS_TIMER_SCHEDULE": "0 * * * * *"}


class StackError(RuntimeError):
    """The stack could not start; the message says what to do."""


def run_stack(args) -> int:
    for port, owner in [(args.port, "the dev host (--port)"), (args.iothub_port, "the IoT Hub simulator (--iothub-port)"),
                        *[(p, "Azurite (--storage-ports)") for p in args.storage_ports]]:
        require_free_port(port, owner)
    with ExitStack() as running:
        step("Azurite (Storage emulator)")
        azurite = start_storage(args.storage_ports)
        running.callback(azurite.stop)
        done(f"blob {azurite.ports['blob']}, queue {azurite.ports['queue']}, table {azurite.ports['table']}")

        step("IoT Hub simulator with the demo fleet")
        simulator, hub = start_simulator(args)
        running.callback(stop_process, simulator)
        done(hub["IOTHUB_CONNECTION_STRING"].split(";")[0])

        step("Functions dev host")
        environment = {**os.environ, "AzureWebJobsStorage": azurite.connection_string,
                       "IOTHUB_CONNECTION_STRING": hub["IOTHUB_CONNECTION_STRING"],
                       "REQUESTS_CA_BUNDLE": hub["IOTHUB_CA_BUNDLE"], **LOCAL_APP_SETTINGS}
        host = start_child("host", [sys.executable, "-m", "local.functions_host", "--app-dir", str(PROJECT_ROOT),
                                    "--port", str(args.port)], environment)
        running.callback(stop_process, host)
        base_url = f"http://127.0.0.1:{args.port}/api"
        wait_for_health(base_url, host)
        done(base_url)
        step("a development administrator API token")
        token = development_token(environment)
        done("dev-admin, valid 30 days")
        print_banner(base_url, token)
        wait_for_interrupt([simulator, host])
    print("Stopped.")
    return 0


def require_free_port(port: int, owner: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers themselves do: a port left in TIME_WAIT by a stopped server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise StackError(f"port {port} for {owner} is taken; stop what uses it or choose another port.") from None


def start_storage(ports):
    try:
        return start_azurite(*ports)
    except AzuriteError as error:
        raise StackError(str(error)) from None


def start_simulator(args) -> tuple[subprocess.Popen, dict[str, str]]:
    command = [sys.executable, "-m", "local.iothub_sim", "--port", str(args.iothub_port), "--fleet", "demo",
               "--seed", str(args.seed), "--sku", args.sku]
    values: dict[str, str] = {}
    ready = threading.Event()

    def capture(line: str) -> None:
        key, _, value = line.partition("=")
        if key in ("IOTHUB_CONNECTION_STRING", "IOTHUB_CA_BUNDLE"):
            values[key] = value
            if len(values) == 2:
                ready.set()

    process = start_child("iothub", command, dict(os.environ), on_line=capture)
    wait_until(ready.is_set, process, "the IoT Hub simulator did not print its connection string")
    return process, values


def start_child(name: str, command: list[str], environment: dict[str, str], on_line=None) -> subprocess.Popen:
    """Run a part of the stack, echoing its output with a prefix so the terminal never goes silent."""
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True)

    def pump() -> None:
        for line in process.stdout:
            line = line.rstrip("\n")
            if on_line:
                on_line(line)
            print(f"  [{name}] {line}", flush=True)

    threading.Thread(target=pump, name=f"{name}-output", daemon=True).start()
    return process


def wait_for_health(base_url: str, host: subprocess.Popen) -> None:
    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    wait_until(answers, host, "the dev host did not answer GET /api/health with 200")


def wait_until(condition, process: subprocess.Popen, failure: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not condition():
        if process.poll() is not None:
            raise StackError(f"{failure}: it exited with code {process.returncode} (its output is above).")
        if time.monotonic() > deadline:
            raise StackError(f"{failure} within {STARTUP_TIMEOUT_SECONDS} s (its output is above).")
        time.sleep(0.2)


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for_interrupt(processes: list[subprocess.Popen]) -> None:
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        print("A part of the stack exited; stopping the rest.", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nStopping…")


def step(what: str) -> None:
    print(f"==> Starting {what}…", flush=True)


def done(detail: str) -> None:
    print(f"    ready: {detail}", flush=True)


def development_token(environment: dict[str, str]) -> str:
    """An Administrator API token for this stack, written to its storage as
    `python -m shared.access.admin_token` does in a deployment (Azurite keeps nothing, so each run
    makes its own)."""
    from azure.data.tables import TableServiceClient

    from shared.access.admin_token import create_token
    from shared.repositories import ensure_tables
    from shared.settings import Settings

    tables = TableServiceClient.from_connection_string(environment["AzureWebJobsStorage"])
    ensure_tables(tables)
    return create_token(tables, Settings.from_environ(environment), "dev-admin", "Administrator", days=30,
                        created_by="system:make-run")


def print_banner(base_url: str, token: str) -> None:
    print(f"""
The bulk jobs API is up: {base_url}
The operators' console: {base_url}/console/ (sign in with the token below)
A development administrator API token (for this local stack only; send it as Authorization):
  export TOKEN='{token}'
Try it:
  curl -s {base_url}/health
  curl -s -H "Authorization: $TOKEN" {base_url}/jobs
Press Ctrl-C to stop everything.
""", flush=True)
