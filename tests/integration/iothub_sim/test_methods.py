"""Direct methods through `invoke_device_method`: results, device statuses, timeouts, offline devices."""
from __future__ import annotations

import json
import time

from azure.iot.hub.models import CloudToDeviceMethod

from .support import hub_error, wait_until


def method(name: str, payload=None, response_timeout: int | None = None, connect_timeout: int | None = None):
    return CloudToDeviceMethod(method_name=name, payload=payload, response_timeout_in_seconds=response_timeout,
                               connect_timeout_in_seconds=connect_timeout)


def connection_state(registry, device_id: str) -> str:
    return registry.get_twin(device_id).connection_state


def test_echo_returns_the_devices_status_and_payload(registry):
    result = registry.invoke_device_method("vending-0002", method("echo", {"hello": [1, 2]}))
    assert (result.status, result.payload) == (200, {"hello": [1, 2]})


def test_set_fan_speed_accepts_0_to_5_and_the_device_rejects_more(registry):
    assert registry.invoke_device_method("vending-0002", method("setFanSpeed", {"speed": 5})).payload == {"fanSpeed": 5}
    rejected = registry.invoke_device_method("vending-0002", method("setFanSpeed", {"speed": 9}))
    assert rejected.status == 400  # a device-reported non-2xx status travels inside HTTP 200


def test_unknown_command_is_answered_501_by_the_device(registry):
    assert registry.invoke_device_method("vending-0002", method("selfDestruct")).status == 501


def test_component_command_uses_the_component_star_command_name(registry):
    result = registry.invoke_device_method("thermostat-001", method("thermostat1*getMaxMinReport", "2026-01-01"))
    assert result.status == 200 and "maxTemp" in result.payload


def test_failure_probability_makes_the_device_answer_500(registry, hub, device_id):
    hub.control.set_behaviour(device_id, failure_probability=1.0)
    assert registry.invoke_device_method(device_id, method("echo", 1)).status == 500


def test_offline_device_is_404103_after_the_connect_timeout(registry, hub, device_id):
    hub.control.set_online(device_id, False)
    started = time.monotonic()
    with hub_error(404, 404103) as error:
        registry.invoke_device_method(device_id, method("echo", connect_timeout=1))
    assert time.monotonic() - started >= 1.0
    inner = json.loads(error.body["Message"])
    assert inner["message"] == "Timed out waiting for device to connect." and inner["info"]["timeout"] == "00:00:01"
    assert error.code_name == "DeviceNotOnline"


def test_offline_device_without_connect_timeout_fails_at_once(registry, hub, device_id):
    hub.control.set_online(device_id, False)
    with hub_error(404, 404103):
        registry.invoke_device_method(device_id, method("echo"))


def test_device_that_connects_within_the_connect_timeout_answers(registry, hub, device_id):
    import threading

    hub.control.set_online(device_id, False)
    timer = threading.Timer(0.3, hub.control.set_online, args=(device_id, True))
    timer.start()
    result = registry.invoke_device_method(device_id, method("echo", "late", connect_timeout=10))
    timer.join()
    assert (result.status, result.payload) == (200, "late")


def test_slow_device_is_504101_after_the_response_timeout(registry, hub, device_id):
    hub.control.set_behaviour(device_id, latency="fixed:60000")
    started = time.monotonic()
    with hub_error(504, 504101) as error:
        registry.invoke_device_method(device_id, method("echo", response_timeout=5))
    assert 5.0 <= time.monotonic() - started < 30  # the hub gives up at the timeout, not the device's 60 s
    assert json.loads(error.body["Message"])["message"] == "Timed out waiting for the response from device."


def test_response_timeout_outside_5_to_300_is_rejected(registry):
    with hub_error(400, 400004):
        registry.invoke_device_method("vending-0002", method("echo", response_timeout=1))


def test_reboot_takes_the_device_offline_for_a_while(registry, hub):
    hub.control.set_behaviour("vending-0003", reboot_seconds=1.5)
    assert registry.invoke_device_method("vending-0003", method("reboot")).status == 200
    wait_until(lambda: connection_state(registry, "vending-0003") == "Disconnected", message="device offline")
    wait_until(lambda: connection_state(registry, "vending-0003") == "Connected", message="device back online")


def test_iot_edge_device_does_not_take_device_level_methods(registry):
    with hub_error(404, 404103):
        registry.invoke_device_method("edge-gateway-01", method("echo"))


def test_unknown_device_is_404001(registry):
    with hub_error(404, 404001):
        registry.invoke_device_method("no-such-device", method("echo"))
