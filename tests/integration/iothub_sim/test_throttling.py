"""Throttling by count: a bucket of size X lets X immediate calls through and answers the next with 429."""
from __future__ import annotations

from azure.iot.hub.models import CloudToDeviceMethod, QuerySpecification, Twin

from .support import hub_error

ALL = QuerySpecification(query="SELECT * FROM devices WHERE deviceId = 'vending-0001'")


def test_s1_allows_20_queries_then_429_without_retry_after(registry, hub):
    hub.control.set_sku("S1", units=1)
    for _ in range(20):
        registry.query_iot_hub(ALL)
    with hub_error(429, 429001) as error:
        registry.query_iot_hub(ALL)
    assert error.code_name == "ThrottlingException" and "Retry-After" not in error.headers


def test_units_scale_the_bucket(registry, hub):
    hub.control.set_sku("S1", units=2)
    for _ in range(40):
        registry.query_iot_hub(ALL)
    with hub_error(429, 429001):
        registry.query_iot_hub(ALL)


def test_twin_updates_and_reads_are_metered_separately(registry, hub, device_id):
    hub.control.set_bucket("twinUpdate", capacity=3)
    for n in range(3):
        registry.update_twin(device_id, Twin(tags={"n": n}))
    with hub_error(429, 429001):
        registry.update_twin(device_id, Twin(tags={"n": 9}))
    registry.get_twin(device_id)


def test_direct_methods_are_metered_in_4kb_units(registry, hub, device_id):
    hub.control.set_bucket("method", capacity=4)
    big = CloudToDeviceMethod(method_name="echo", payload="x" * 9000)  # 3 units
    assert registry.invoke_device_method(device_id, big).status == 200
    assert registry.invoke_device_method(device_id, CloudToDeviceMethod(method_name="echo", payload=1)).status == 200
    with hub_error(429, 429001):
        registry.invoke_device_method(device_id, CloudToDeviceMethod(method_name="echo", payload=1))


def test_registry_operations_have_their_own_bucket(registry, hub):
    hub.control.set_bucket("registry", capacity=2)
    registry.get_device("vending-0001")
    registry.get_device("vending-0002")
    with hub_error(429, 429001):
        registry.get_device("vending-0003")
    registry.get_twin("vending-0003")


def test_sku_none_does_not_throttle(registry, hub):
    hub.control.set_sku("none")
    for _ in range(60):
        registry.query_iot_hub(ALL)
