"""The demo fleet: deterministic from the seed, 1,000 vending machines, other types, offline share, edge."""
from __future__ import annotations

from azure.iot.hub.models import QuerySpecification


def count(registry, where: str) -> int:
    raw = registry.protocol.query.get_twins(
        QuerySpecification(query=f"SELECT COUNT() AS n FROM devices WHERE {where}"), None, None, None, True)
    return raw.response.json()[0]["n"]


def test_demo_fleet_shape(registry):
    assert count(registry, "tags.type = 'vending' AND IS_DEFINED(tags.region) AND IS_DEFINED(tags.site)") == 1000
    assert registry.get_twin("vending-0001").tags["type"] == "vending"
    assert registry.get_twin("vending-1000").properties.reported["targetTemperature"]["ac"] == 203
    assert count(registry, "tags.type = 'thermostat'") == 24
    assert count(registry, "tags.type = 'kiosk'") == 30
    assert count(registry, "capabilities.iotEdge = true") == 2
    offline = count(registry, "connectionState = 'Disconnected'")
    assert 15 <= offline <= 50  # about 3 % of 1,056


def test_same_seed_gives_the_same_fleet(registry, hub):
    before = {twin.device_id: twin.tags for twin in registry.query_iot_hub(QuerySpecification(query="SELECT * FROM devices"), None, 100).items}
    hub.control.reset()
    after = {twin.device_id: twin.tags for twin in registry.query_iot_hub(QuerySpecification(query="SELECT * FROM devices"), None, 100).items}
    assert before == after
