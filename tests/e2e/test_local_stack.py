"""`python -m local up` brings the whole stack up, answers health, prints a development
administrator token that the API accepts (and without which it refuses), and stops cleanly on Ctrl-C."""
from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from local.waiting import wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports



def get_json(url: str) -> tuple[int, dict] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except OSError:
        return None


def get(url: str, **headers: str) -> tuple[int, dict, dict]:
    """Status, headers and JSON body of a GET, whatever the status."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


@pytest.fixture
def stack():
    host, hub, blob, queue, table = free_ports(5)
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "up", "--port", str(host), "--iothub-port", str(hub),
         "--storage-ports", str(blob), str(queue), str(table), "--sku", "none"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()
    yield process, output, f"http://127.0.0.1:{host}/api", [host, hub, blob, queue, table]
    if process.poll() is None:
        process.kill()
        process.wait()


def test_the_stack_answers_health_accepts_its_printed_token_and_stops_on_ctrl_c(stack):
    process, output, base_url, ports = stack
    wait_for(lambda: any("Press Ctrl-C" in line for line in output), 90, what="the stack's ready banner")
    assert any(f"curl -s {base_url}/health" in line for line in output)
    status, body = get_json(f"{base_url}/health")
    assert status == 200
    assert body == {"status": "healthy", "checks": {"tables": {"status": "up"}, "queues": {"status": "up"},
                                                    "iotHub": {"status": "up"}}}

    # The banner's token, as a developer copies it into their shell, and the curl line using it.
    [token] = [match.group(1) for line in output if (match := re.fullmatch(r"\s*export TOKEN='(.+)'\s*", line))]
    assert token.startswith("SharedAccessSignature sr=") and "&skn=dev-admin&" in token
    assert any(f'curl -s -H "Authorization: $TOKEN" {base_url}/jobs' in line for line in output)
    status, _, body = get(f"{base_url}/jobs", Authorization=token)
    assert (status, body) == (200, {"value": []})
    status, headers, body = get(f"{base_url}/jobs")
    assert status == 401 and body["error"]["code"] == "Unauthorized" == headers["x-ms-error-code"]
    assert "SharedAccessSignature" in headers["WWW-Authenticate"]

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    for port in ports:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT is fine
            probe.bind(("127.0.0.1", port))  # every part of the stack let go of its port


def test_a_taken_port_is_reported_clearly():
    (host,) = free_ports(1)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", host))
        taken.listen()
        result = subprocess.run([sys.executable, "-m", "local", "up", "--port", str(host)],
                                cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f"port {host} for the dev host (--port) is taken" in result.stderr
