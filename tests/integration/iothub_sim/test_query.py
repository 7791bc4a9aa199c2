"""`query_iot_hub`: paging with continuation tokens, every operator, literals, paths, malformed queries, and
queries too complex to run."""
from __future__ import annotations

import time

import pytest
from azure.iot.hub.models import QuerySpecification, Twin, TwinProperties

from .support import hub_error


def ids(registry, where: str) -> set[str]:
    found, token = set(), None
    while True:
        page = registry.query_iot_hub(QuerySpecification(query=f"SELECT * FROM devices WHERE {where}"), token, 100)
        found |= {twin.device_id for twin in page.items}
        token = page.continuation_token
        if not token:
            return found


def test_pages_through_1000_devices_100_at_a_time(registry):
    spec = QuerySpecification(query="SELECT * FROM devices WHERE tags.type = 'vending'")
    seen, token, pages = [], None, 0
    while True:
        page = registry.query_iot_hub(spec, token, 100)
        pages += 1
        assert page.type == "twin" and len(page.items) == 100
        seen += [twin.device_id for twin in page.items]
        token = page.continuation_token
        if not token:
            break
    assert pages == 10 and len(seen) == len(set(seen)) == 1000


@pytest.fixture
def labelled(registry, hub):
    """Three fresh devices with known tags and properties; queries below are scoped to them."""
    values = {"q-a": (1, "red", True), "q-b": (2, "blue", False), "q-c": (3, None, None)}
    for device_id, (level, colour, flag) in values.items():
        registry.create_device_with_sas(device_id, None, None, "enabled")
        tags = {"suite": "q", "level": level, **({"colour": colour} if colour else {}), "flag": flag}
        registry.update_twin(device_id, Twin(tags=tags, properties=TwinProperties(desired={"limit": level * 10})))
    return "tags.suite = 'q'"


@pytest.mark.parametrize("condition, expected", [
    ("tags.level = 2", {"q-b"}),
    ("tags.level != 2", {"q-a", "q-c"}),
    ("tags.level <> 2", {"q-a", "q-c"}),
    ("tags.level < 2", {"q-a"}),
    ("tags.level > 2", {"q-c"}),
    ("tags.level <= 2", {"q-a", "q-b"}),
    ("tags.level >= 2", {"q-b", "q-c"}),
    ("tags.colour = 'red' OR tags.colour = \"blue\"", {"q-a", "q-b"}),
    ("tags.level > 1 AND tags.level < 3", {"q-b"}),
    ("NOT tags.level = 1", {"q-b", "q-c"}),
    ("(tags.level = 1 OR tags.level = 3) AND NOT (tags.colour = 'red')", set()),
    ("tags.colour IN ['red', 'green']", {"q-a"}),
    ("tags.colour NIN ['red']", {"q-b"}),
    ("IS_DEFINED(tags.colour)", {"q-a", "q-b"}),
    ("NOT IS_DEFINED(tags.colour)", {"q-c"}),
    ("tags.flag = true", {"q-a"}),
    ("tags.flag = false", {"q-b"}),
    ("tags.flag != null", {"q-a", "q-b"}),  # a PATCHed null deletes the key, so q-c has no flag
    ("properties.desired.limit >= 20", {"q-b", "q-c"}),
    ("deviceId = 'q-c'", {"q-c"}),
    ("deviceId IN ['q-a', 'q-b']", {"q-a", "q-b"}),
])
def test_operators_and_literals(registry, labelled, condition, expected):
    assert ids(registry, f"{labelled} AND ({condition})") == expected


def test_root_fields_and_reported_properties(registry, hub):
    edge = ids(registry, "capabilities.iotEdge = true")
    assert edge == {"edge-gateway-01", "edge-gateway-02"}
    hub.control.set_online("vending-0010", False)
    assert "vending-0010" in ids(registry, "connectionState = 'Disconnected' AND tags.type = 'vending'")
    controllers = ids(registry, "modelId = 'dtmi:com:example:TemperatureController;2' AND status = 'enabled'")
    assert len(controllers) == 24
    assert len(ids(registry, "properties.reported.fanSpeed.value >= 0")) == 1000
    assert "thermostat-001" in ids(registry, "properties.reported.thermostat1.targetTemperature.ac = 203")


def test_count_and_projection_come_back_raw(registry):
    raw = registry.protocol.query.get_twins(
        QuerySpecification(query="SELECT COUNT() AS n FROM devices WHERE tags.type = 'kiosk'"), None, None, None, True)
    assert raw.response.headers["x-ms-item-type"] == "raw" and raw.response.json() == [{"n": 30}]
    page = registry.query_iot_hub(QuerySpecification(query="SELECT TOP 3 deviceId, tags.region FROM devices"))
    assert page.type == "raw" and len(page.items) == 3 and page.continuation_token is None


def test_group_by_counts_per_value(registry):
    raw = registry.protocol.query.get_twins(QuerySpecification(
        query="SELECT tags.type AS type, COUNT() AS n FROM devices GROUP BY tags.type"), None, None, None, True)
    assert {row["type"]: row["n"] for row in raw.response.json()} == {"vending": 1000, "thermostat": 24, "kiosk": 30, "gateway": 2}


@pytest.mark.parametrize("query", [
    "SELECT * FROM devices WHERE",
    "SELECT * FROM devices WHERE tags.a = ",
    "SELECT * FROM devices WHERE (tags.a = 1",
    "SELECT * FROM devices WHERE tags.a IN 'x'",
    "SELECT * FROM devicez",
    "SELEC * FROM devices",
    "SELECT * FROM devices WHERE tags.a = 'unterminated",
])
def test_malformed_query_is_400_with_the_hub_error_body(registry, query):
    with hub_error(400, 400004) as error:
        registry.query_iot_hub(QuerySpecification(query=query))
    assert error.body["Message"].startswith("ErrorCode:ArgumentInvalid;")


@pytest.mark.parametrize("condition", [
    "(" * 600 + "tags.a = 1" + ")" * 600,
    "(" * 65 + "tags.a = 1" + ")" * 65,
    "NOT (" * 100 + "tags.a = 1" + ")" * 100,
])
def test_a_query_nested_too_deeply_is_refused_at_once_as_a_bad_query(registry, condition):
    started = time.monotonic()
    with hub_error(400, 400004) as error:
        registry.query_iot_hub(QuerySpecification(query=f"SELECT * FROM devices WHERE {condition}"))
    assert error.body["Message"].startswith("ErrorCode:ArgumentInvalid;") and "too complex" in error.body["Message"]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("condition, count", [
    ("(" * 64 + "deviceId = 'vending-0001'" + ")" * 64, 1),
    # Longer than Python's recursion limit, which a condition nested per operator would hit.
    (" OR ".join(f"deviceId = 'absent-{n}'" for n in range(1100)) + " OR deviceId = 'vending-0001'", 1),
    ("deviceId = 'vending-0001' AND " + " AND ".join(["tags.type = 'vending'"] * 1100), 1),
    ("NOT " * 1101 + "deviceId != 'vending-0001'", 1),
])
def test_long_flat_queries_and_nesting_up_to_the_limit_run(registry, condition, count):
    found = ids(registry, condition)
    assert "vending-0001" in found and len(found) == count
