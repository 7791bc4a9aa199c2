"""`python -m local up` brings the whole stack up, answers health, and stops cleanly on Ctrl-C."""
from __future__ import annotations

import json
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


def test_the_stack_answers_health_and_stops_on_ctrl_c(stack):
    process, output, base_url, ports = stack
    wait_for(lambda: any("Press Ctrl-C" in line for line in output), 90, what="the stack's ready banner")
    assert any(f"curl -s {base_url}/health" in line for line in output)
    status, body = get_json(f"{base_url}/health")
    assert status == 200
    assert body == {"status": "healthy", "checks": {"tables": {"status": "up"}, "queues": {"status": "up"},
                                                    "iotHub": {"status": "up"}}}

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
