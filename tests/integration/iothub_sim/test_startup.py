"""Starting the simulator: the CLI's two lines, readiness time, clean exit, state file, trusting the cert."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from azure.iot.hub import IoTHubRegistryManager
from msrest.exceptions import ClientRequestError

from local.iothub_sim import start_simulator

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def start_cli(*args: str) -> tuple[subprocess.Popen, dict[str, str], float]:
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "local.iothub_sim", "--port", "0", *args], cwd=PROJECT_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = [process.stdout.readline().rstrip("\n") for _ in range(2)]
    elapsed = time.monotonic() - started
    return process, dict(line.split("=", 1) for line in lines), elapsed


def stop_cli(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=10)


def plain_manager(connection_string: str) -> IoTHubRegistryManager:
    manager = IoTHubRegistryManager.from_connection_string(connection_string)
    manager.protocol.config.retry_policy.retries = 0
    return manager


def test_cli_prints_both_lines_fast_and_exits_cleanly(tmp_path):
    process, values, elapsed = start_cli("--fleet", "demo", "--seed", "1", "--state-dir", str(tmp_path))
    try:
        assert elapsed < 5
        assert list(values) == ["IOTHUB_CONNECTION_STRING", "IOTHUB_CA_BUNDLE"]
        host, name, key = values["IOTHUB_CONNECTION_STRING"].split(";")
        assert host.startswith("HostName=localhost:") and name == "SharedAccessKeyName=iothubowner"
        assert key.startswith("SharedAccessKey=")
        bundle = Path(values["IOTHUB_CA_BUNDLE"]).read_text()
        assert bundle.count("BEGIN CERTIFICATE") > 10  # the simulator's cert plus the system CAs
    finally:
        assert stop_cli(process) == 0


def test_requests_ca_bundle_env_var_is_enough_to_trust_it(hub, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", hub.ca_bundle)
    assert plain_manager(hub.connection_string).get_twin("vending-0001").device_id == "vending-0001"


def test_without_the_bundle_tls_verification_fails(hub, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with pytest.raises(ClientRequestError):
        plain_manager(hub.connection_string).get_twin("vending-0001")


def test_state_file_keeps_the_registry_across_restarts(tmp_path):
    state = tmp_path / "hub.json"
    args = ("--fleet", "empty", "--sku", "none", "--state", str(state), "--state-dir", str(tmp_path))
    process, values, _ = start_cli(*args)
    try:
        manager = plain_manager(values["IOTHUB_CONNECTION_STRING"])
        manager.protocol.config.connection.verify = values["IOTHUB_CA_BUNDLE"]
        manager.create_device_with_sas("kept", None, None, "enabled")
    finally:
        assert stop_cli(process) == 0
    process, values, _ = start_cli(*args)
    try:
        manager = plain_manager(values["IOTHUB_CONNECTION_STRING"])
        manager.protocol.config.connection.verify = values["IOTHUB_CA_BUNDLE"]
        assert manager.get_device("kept").device_id == "kept"
    finally:
        stop_cli(process)


def test_python_api_can_run_it_in_a_subprocess(sim_state_dir):
    with start_simulator(fleet="empty", in_subprocess=True, state_dir=sim_state_dir) as hub:
        assert hub.pid != os.getpid()
        assert hub.control.health()["devices"] == 0
        assert hub.control.stats()["pid"] == hub.pid
        hub.registry_manager().create_device_with_sas("one", None, None, "enabled")
