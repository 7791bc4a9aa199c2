"""The gateway against the simulator: retries, pacing and the error vocabulary, with faults injected."""
from __future__ import annotations

import pytest

from local.iothub_sim import start_simulator
from shared.domain.devices import DeviceErrorCode
from shared.hub_gateway import INVALID_QUERY, CallerThrottled, HubFailure, HubGateway, HubLimits, RetryPolicy

UNPACED = HubLimits(0, 0, 0, 0)


@pytest.fixture(scope="module")
def hub():
    with start_simulator(fleet="demo", seed=1, sku="none") as simulator:
        yield simulator


@pytest.fixture
def gateway(hub):
    hub.control.reset()
    hub.control.set_fleet_behaviour(failure_probability=0)
    return HubGateway(hub.registry_manager(), UNPACED, RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=0.1))


def failure_of(call) -> HubFailure:
    with pytest.raises(HubFailure) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("fields", ["*", "deviceId, modelId, capabilities"])
def test_the_query_gives_each_device_s_model_and_edge_capability(gateway, fields):
    page = gateway.query_devices(f"SELECT {fields} FROM devices WHERE tags.type = 'thermostat' OR tags.type = 'gateway'")
    by_id = {device.device_id: device for device in page.devices}
    assert by_id["thermostat-001"].model_id == "dtmi:com:example:TemperatureController;2"
    assert by_id["edge-gateway-01"].is_edge and not by_id["thermostat-001"].is_edge


def test_a_refused_query_is_invalid_query(gateway):
    assert failure_of(lambda: gateway.query_devices("SELECT * FROM devices WHERE (")).code == INVALID_QUERY


def test_a_burst_of_429_is_retried(gateway, hub):
    hub.control.inject_fault("twinUpdate", count=5, status=429)
    gateway.patch_desired("vending-0001", {"fanSpeed": 2})
    statuses = hub.control.counters()["update_twin"]["byStatus"]
    assert (statuses["429"], statuses["200"]) == (5, 1)


def test_a_burst_of_503_is_retried_for_patches_and_commands(gateway, hub):
    hub.control.set_online("vending-0002", True)
    hub.control.inject_fault("twinUpdate", count=3, status=503)
    hub.control.inject_fault("method", count=3, status=503)
    gateway.patch_tags("vending-0002", {"note": "x"})
    assert gateway.invoke_method("vending-0002", "echo", {"a": 1}).status == 200
    assert len([e for e in hub.control.device_log("vending-0002") if e["operation"] == "invoke_device_method"]) == 1


def test_throttling_is_waited_out_whatever_the_number_of_attempts(hub):
    hub.control.reset()
    gateway = HubGateway(hub.registry_manager(), UNPACED,
                         RetryPolicy(max_attempts=2, base_delay=0.01, throttled_max_delay=0.05))
    hub.control.inject_fault("twinUpdate", count=20, status=429)
    gateway.patch_desired("vending-0001", {"fanSpeed": 1})
    statuses = hub.control.counters()["update_twin"]["byStatus"]
    assert (statuses["429"], statuses["200"]) == (20, 1)


def test_throttling_that_outlasts_the_wait_is_throttled(hub):
    hub.control.reset()
    gateway = HubGateway(hub.registry_manager(), UNPACED,
                         RetryPolicy(base_delay=0.01, throttled_max_delay=0.05, throttled_wait=0.5))
    hub.control.inject_fault("twinUpdate", count=10_000, status=429)
    assert failure_of(lambda: gateway.patch_desired("vending-0001", {"fanSpeed": 1})).code is DeviceErrorCode.THROTTLED


def test_the_hub_is_reachable_while_it_throttles_and_not_while_it_fails(hub):
    hub.control.reset()
    gateway = HubGateway(hub.registry_manager(), UNPACED,
                         interactive_retry=RetryPolicy(max_attempts=2, base_delay=0.01, deadline=5))
    gateway.check_reachable()  # the probe device is unknown: 404 is an answer
    hub.control.inject_fault("twinRead", count=1, status=429)
    gateway.check_reachable()
    hub.control.inject_fault("twinRead", count=10, status=500)
    failure = failure_of(gateway.check_reachable)
    assert failure.status == 500 and hub.control.counters()["get_twin"]["calls"] == 4


def test_reads_over_their_share_of_the_query_budget_are_not_sent(hub):
    hub.control.reset()
    at_s1 = HubLimits(0, 0, 0, queries_per_second=20 / 60, interactive_query_share=0.25)
    gateway = HubGateway(hub.registry_manager(), at_s1)
    for _ in range(5):
        gateway.for_reads.query_devices("SELECT * FROM devices WHERE tags.site = 'site-01'", page_size=1)
    with pytest.raises(CallerThrottled) as caught:
        gateway.for_reads.query_devices("SELECT * FROM devices WHERE tags.site = 'site-01'", page_size=1)
    assert caught.value.retry_after > 0 and hub.control.counters()["query_iot_hub"]["calls"] == 5
    gateway.query_devices("SELECT * FROM devices WHERE tags.site = 'site-01'", page_size=1)  # the pipeline's go on
    assert hub.control.counters()["query_iot_hub"]["calls"] == 6


def test_an_offline_device_is_not_online_and_not_retried(gateway, hub):
    hub.control.set_online("vending-0003", False)
    failure = failure_of(lambda: gateway.invoke_method("vending-0003", "echo", None))
    assert failure.code is DeviceErrorCode.DEVICE_NOT_ONLINE
    assert hub.control.counters()["invoke_device_method"]["calls"] == 1


def test_a_device_that_does_not_answer_in_time_is_a_timeout(gateway, hub):
    hub.control.set_online("vending-0004", True)
    hub.control.set_behaviour("vending-0004", latency="fixed:6000")
    failure = failure_of(lambda: gateway.invoke_method("vending-0004", "echo", None, response_timeout=5))
    assert failure.code is DeviceErrorCode.TIMEOUT
    assert hub.control.counters()["invoke_device_method"]["calls"] == 1  # never repeated


def test_a_device_answering_500_rejected_the_command(gateway, hub):
    hub.control.set_online("vending-0005", True)
    hub.control.set_behaviour("vending-0005", failure_probability=1.0)
    failure = failure_of(lambda: gateway.invoke_method("vending-0005", "echo", None))
    assert (failure.code, failure.status) == (DeviceErrorCode.DEVICE_REJECTED, 500)


def test_an_unknown_device_is_not_found_for_patches_and_commands(gateway):
    assert failure_of(lambda: gateway.patch_desired("no-such-device", {"a": 1})).code is DeviceErrorCode.DEVICE_NOT_FOUND
    assert failure_of(lambda: gateway.invoke_method("no-such-device", "echo")).code is DeviceErrorCode.DEVICE_NOT_FOUND


def test_a_value_the_hub_refuses_is_invalid_value(gateway):
    failure = failure_of(lambda: gateway.patch_desired("vending-0006", {"bad key": 1}))
    assert failure.code is DeviceErrorCode.INVALID_VALUE


def test_an_unreachable_hub_is_a_hub_error_and_a_command_is_retried_only_if_unsent(hub):
    manager = hub.registry_manager()
    manager.protocol.config.base_url = "https://127.0.0.1:9"  # nothing listens there
    sleeps = []
    gateway = HubGateway(manager, UNPACED, RetryPolicy(max_attempts=3, base_delay=0.01), sleep=sleeps.append)
    failure = failure_of(lambda: gateway.invoke_method("vending-0001", "echo"))
    assert failure.code is DeviceErrorCode.HUB_ERROR and len(sleeps) == 2  # refused connections were never sent
