"""The `/_sim/` control API: connection state, faults, per-device log, counters, reset."""
from __future__ import annotations

import socket
import time
import warnings

import pytest
import requests
from azure.iot.hub.models import CloudToDeviceMethod, Twin, TwinProperties
from msrest.exceptions import ClientRequestError

from local.iothub_sim import ControlError, start_simulator

from .support import hub_error


def test_device_log_records_methods_and_desired_patches(registry, hub, device_id):
    registry.update_twin(device_id, Twin(properties=TwinProperties(desired={"fanSpeed": 2})))
    registry.invoke_device_method(device_id, CloudToDeviceMethod(method_name="echo", payload={"p": 1}))
    first, second = hub.control.device_log(device_id)
    assert first["operation"] == "update_twin" and first["desired"] == {"fanSpeed": 2} and first["time"].endswith("Z")
    assert (second["methodName"], second["payload"], second["result"]) == ("echo", {"p": 1}, 200)


def test_counters_per_operation_and_status(registry, hub):
    registry.get_twin("vending-0001")
    with hub_error(404, 404001):
        registry.get_twin("missing")
    assert hub.control.counters()["get_twin"] == {"calls": 2, "byStatus": {"200": 1, "404": 1}}


@pytest.mark.parametrize("status, code", [(429, 429001), (500, 500001), (503, 503001)])
def test_injected_status_hits_the_next_calls_of_the_class(registry, hub, status, code):
    hub.control.inject_fault("twinUpdate", count=2, status=status)
    registry.get_twin("vending-0001")  # another class: untouched
    for _ in range(2):
        with hub_error(status, code):
            registry.update_twin("vending-0001", Twin(tags={"x": 1}))
    registry.update_twin("vending-0001", Twin(tags={"x": 2}))
    assert hub.control.faults() == []


def test_injected_5xx_on_get_is_retried_by_the_sdk_when_retries_are_on(hub):
    hub.control.inject_fault("twinRead", count=1, status=500)
    manager = hub.registry_manager(retries=1)
    manager.protocol.config.retry_policy.backoff_factor = 0
    assert manager.get_twin("vending-0001").device_id == "vending-0001"


def test_injected_latency_delays_the_call(registry, hub):
    hub.control.inject_fault("twinRead", count=1, latency_ms=300)
    started = time.monotonic()
    registry.get_twin("vending-0001")
    assert time.monotonic() - started >= 0.3


def test_reset_restores_the_seeded_fleet(registry, hub):
    registry.delete_device("vending-0001")
    hub.control.set_sku("S1")
    hub.control.reset()
    assert registry.get_device("vending-0001").device_id == "vending-0001"
    assert hub.control.counters() == {"get_device": {"calls": 1, "byStatus": {"200": 1}}}
    assert hub.control.throttle()["sku"] == "none"


def test_unknown_devices_and_bad_requests_are_reported(hub):
    with pytest.raises(ControlError):
        hub.control.set_online("missing", False)
    with pytest.raises(ControlError):
        hub.control.inject_fault("nonsense", status=500)


def test_timeout_shorter_than_injected_latency_fails_on_the_client(hub):
    hub.control.inject_fault("twinRead", count=1, latency_ms=1500)
    manager = hub.registry_manager(timeout=0.5)
    with pytest.raises(ClientRequestError):
        manager.get_twin("vending-0001")


def _non_loopback_address() -> str | None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent; this only picks the outgoing interface
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_control_api_answers_only_loopback_callers(sim_state_dir):
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with start_simulator(fleet="empty", host="0.0.0.0", state_dir=sim_state_dir) as hub:
        session = requests.Session()
        session.trust_env = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the certificate does not name this address
            remote = session.get(f"https://{address}:{hub.port}/_sim/health", verify=False, timeout=5)
        assert remote.status_code == 403 and remote.headers["iothub-errorcode"]
        assert hub.control.health()["ok"] is True
