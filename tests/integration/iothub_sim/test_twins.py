"""Twins through `get_twin` / `update_twin` / `replace_twin`: merge, versions, metadata, ETags."""
from __future__ import annotations

from azure.iot.hub.models import Twin, TwinProperties

from .support import hub_error


def desired(values: dict) -> Twin:
    return Twin(properties=TwinProperties(desired=values))


def test_get_twin_has_the_twin_document_fields(registry):
    twin = registry.get_twin("vending-0001")
    assert twin.device_id == "vending-0001"
    assert twin.etag and twin.version >= 1
    assert twin.additional_properties["modelId"] == "dtmi:contoso:RefrigeratedVendingMachine;1"
    assert twin.tags["type"] == "vending"
    assert twin.properties.desired["$version"] == 1
    assert "$metadata" in twin.properties.reported
    assert twin.capabilities.iot_edge is False


def test_patch_merges_and_null_deletes_a_key(registry, device_id):
    registry.update_twin(device_id, desired({"a": 1, "nested": {"x": 1, "y": 2}}))
    twin = registry.update_twin(device_id, desired({"b": 2, "nested": {"x": None}}))
    values = {k: v for k, v in twin.properties.desired.items() if not k.startswith("$")}
    assert values == {"a": 1, "b": 2, "nested": {"y": 2}}
    assert "x" not in twin.properties.desired["$metadata"]["nested"]


def test_desired_version_and_metadata_follow_each_patch(registry, device_id):
    first = registry.update_twin(device_id, desired({"a": 1}))
    second = registry.update_twin(device_id, desired({"b": 2}))
    assert second.properties.desired["$version"] == first.properties.desired["$version"] + 1
    metadata = second.properties.desired["$metadata"]
    assert metadata["a"]["$lastUpdatedVersion"] == first.properties.desired["$version"]
    assert metadata["b"]["$lastUpdatedVersion"] == second.properties.desired["$version"]
    assert metadata["$lastUpdated"].endswith("Z")
    assert second.version > first.version and second.etag != first.etag


def test_tags_merge_without_touching_desired(registry, device_id):
    before = registry.get_twin(device_id)
    registry.update_twin(device_id, Twin(tags={"site": "a", "owner": {"team": "x"}}))
    twin = registry.update_twin(device_id, Twin(tags={"owner": None, "region": "west"}))
    assert twin.tags == {"site": "a", "region": "west"}
    assert twin.properties.desired["$version"] == before.properties.desired["$version"]


def test_quoted_wildcard_and_current_etag_are_accepted(registry, device_id):
    twin = registry.update_twin(device_id, desired({"a": 1}), "*")
    twin = registry.update_twin(device_id, desired({"a": 2}), twin.etag)
    assert twin.properties.desired["a"] == 2


def test_stale_etag_is_412_precondition_failed(registry, device_id):
    stale = registry.get_twin(device_id).etag
    registry.update_twin(device_id, desired({"a": 1}))
    with hub_error(412, 412001) as error:
        registry.update_twin(device_id, desired({"a": 2}), stale)
    assert error.code_name == "PreconditionFailed"
    assert error.body["Message"].startswith("ErrorCode:PreconditionFailed;")
    with hub_error(412, 412001):
        registry.replace_twin(device_id, desired({"a": 3}), stale)


def test_replace_twin_overwrites_tags_and_desired(registry, device_id):
    registry.update_twin(device_id, Twin(tags={"old": 1}, properties=TwinProperties(desired={"old": 1})))
    twin = registry.replace_twin(device_id, Twin(tags={"new": 2}, properties=TwinProperties(desired={"new": 2})))
    assert twin.tags == {"new": 2}
    assert {k: v for k, v in twin.properties.desired.items() if not k.startswith("$")} == {"new": 2}


def test_a_fetched_twin_can_be_sent_back(registry, device_id):
    twin = registry.get_twin(device_id)
    twin.properties.desired["speed"] = 3
    updated = registry.update_twin(device_id, twin, twin.etag)
    assert updated.properties.desired["speed"] == 3


def test_invalid_keys_and_too_deep_patches_are_400(registry, device_id):
    with hub_error(400, 400004):
        registry.update_twin(device_id, desired({"bad.key": 1}))
    deep: dict = {"v": 1}
    for _ in range(11):
        deep = {"n": deep}
    with hub_error(400, 400004):
        registry.update_twin(device_id, desired(deep))


def test_oversized_tags_are_rejected(registry, device_id):
    with hub_error(400, 400004):
        registry.update_twin(device_id, Twin(tags={f"k{i}": "x" * 1000 for i in range(9)}))


def test_unknown_device_is_404_device_not_found(registry):
    with hub_error(404, 404001) as error:
        registry.get_twin("no-such-device")
    assert error.code_name == "DeviceNotFound"
    assert error.body["ExceptionMessage"].startswith("Tracking ID:")
    with hub_error(404, 404001):
        registry.update_twin("no-such-device", desired({"a": 1}))
