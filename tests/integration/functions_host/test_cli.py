"""`python -m local.functions_host` as a user runs it, app import errors, and --enforce-keys."""
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from local.functions_host import start_host

from .conftest import create_queues, http, unique_queues, wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[3]


class Output:
    """Lines a process prints, collected on a background thread."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(process.stdout), daemon=True).start()

    def wait_for(self, text: str, timeout: float = 20) -> str:
        return wait_until(lambda: next((line for line in list(self.lines) if text in line), None), timeout,
                          message=f"a line with {text!r}; got {self.lines}")


def launch(app_dir: Path, environ: dict) -> tuple[subprocess.Popen, Output]:
    process = subprocess.Popen(
        [sys.executable, "-m", "local.functions_host", "--app-dir", str(app_dir), "--port", "0"],
        cwd=PROJECT_ROOT, env={**os.environ, **environ}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, bufsize=1)
    return process, Output(process)


def test_cli_lists_functions_serves_logs_and_stops_on_sigint(storage_connection_string, app_dir):
    queues = unique_queues()
    create_queues(storage_connection_string, queues.values())
    process, output = launch(app_dir, {"AzureWebJobsStorage": storage_connection_string,
                                       "TICK_SCHEDULE": "0 0 0 1 1 *", **queues})
    try:
        base_url = output.wait_for("Host started: ").split(": ", 1)[1].strip()
        assert f"        items: [GET,POST] {base_url}/testapi/items/{{id:int?}}\n" in output.lines
        assert "        tick: timerTrigger\n" in output.lines
        assert http("GET", base_url + "/testapi/boom").status == 500
        assert http("GET", base_url + "/testapi/plain").status == 200
        output.wait_for("Executed 'Functions.plain' (Succeeded, Trigger=http GET /testapi/plain")
        output.wait_for("Executed 'Functions.boom' (Failed")
        output.wait_for("RuntimeError: boom on purpose")
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    output.wait_for("Host stopped.")


def test_an_app_that_fails_to_import_exits_non_zero_with_the_traceback(tmp_path):
    (tmp_path / "function_app.py").write_text("import azure.functions as func\nraise ImportError('no such thing')\n")
    process, output = launch(tmp_path, {})
    assert process.wait(timeout=30) == 1
    output.wait_for("Traceback")
    output.wait_for("Error: importing")
    output.wait_for("ImportError: no such thing")


def test_enforced_keys(storage_connection_string, app_dir):
    queues = unique_queues()
    environ = {"AzureWebJobsStorage": storage_connection_string, "TICK_SCHEDULE": "0 0 0 1 1 *",
               "FUNCTIONS_MASTER_KEY": "master-secret", "FUNCTIONS_HOST_KEYS": "host-secret",
               "FUNCTIONS_KEYS_secure": "function-secret", **queues}
    host = start_host(app_dir, environ=environ, enforce_keys=True)
    try:
        secure = host.base_url + "/testapi/secure"
        assert http("GET", secure).status == 401
        assert http("GET", secure, headers={"x-functions-key": "wrong"}).status == 401
        assert http("GET", secure, headers={"x-functions-key": "host-secret"}).status == 200
        assert http("GET", secure + "?code=function-secret").status == 200
        assert http("GET", secure + "?code=master-secret").status == 200
        assert http("GET", host.base_url + "/testapi/plain").status == 200  # anonymous
        admin = host.base_url + "/admin/functions/tick"
        assert http("POST", admin, body=b"{}", headers={"x-functions-key": "host-secret"}).status == 401
        assert http("POST", admin, body=b"{}", headers={"x-functions-key": "master-secret"}).status == 202
    finally:
        host.stop()
