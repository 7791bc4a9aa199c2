"""Device identities: create, read, update, delete, list, bulk, statistics, modules, IoT Edge."""
from __future__ import annotations

import base64

from azure.iot.hub.models import ExportImportDevice

from .support import hub_error

KEY = base64.b64encode(b"k" * 32).decode()


def test_create_get_update_delete(registry, hub):
    created = registry.create_device_with_sas("reg-1", KEY, KEY, "enabled")
    assert created.device_id == "reg-1" and created.authentication.symmetric_key.primary_key == KEY
    assert registry.get_device("reg-1").etag == created.etag
    updated = registry.update_device_with_sas("reg-1", created.etag, KEY, KEY, "disabled")
    assert updated.status == "disabled" and updated.etag != created.etag
    assert registry.get_twin("reg-1").connection_state == "Disconnected"
    registry.delete_device("reg-1")
    with hub_error(404, 404001):
        registry.get_device("reg-1")


def test_creating_an_existing_device_is_409(registry):
    with hub_error(409, 409001) as error:
        registry.create_device_with_sas("vending-0001", None, None, "enabled")
    assert error.code_name == "DeviceAlreadyExists"


def test_update_and_delete_with_a_stale_etag_are_412(registry, device_id):
    stale = registry.get_device(device_id).etag
    registry.update_device_with_sas(device_id, "*", KEY, KEY, "enabled")
    with hub_error(412, 412001):
        registry.update_device_with_sas(device_id, stale, KEY, KEY, "disabled")
    with hub_error(412, 412001):
        registry.delete_device(device_id, stale)


def test_keys_are_generated_when_not_given(registry, device_id):
    keys = registry.get_device(device_id).authentication.symmetric_key
    assert len(base64.b64decode(keys.primary_key)) == 32 and keys.primary_key != keys.secondary_key


def test_get_devices_honours_top(registry):
    assert len(registry.get_devices(10)) == 10
    assert len(registry.get_devices()) == 1000


def test_bulk_create_update_twin_and_delete(registry):
    create = [ExportImportDevice(id=f"bulk-{i}", import_mode="create") for i in range(3)]
    assert registry.bulk_create_or_update_devices(create).is_successful
    tag = ExportImportDevice(id="bulk-0", import_mode="updateTwin", twin_etag="*", tags={"k": "v"})
    assert registry.bulk_create_or_update_devices([tag]).is_successful
    assert registry.get_twin("bulk-0").tags == {"k": "v"}
    delete = [ExportImportDevice(id="bulk-1", import_mode="delete"), ExportImportDevice(id="nope", import_mode="delete")]
    result = registry.bulk_create_or_update_devices(delete)
    assert not result.is_successful
    assert [(e.device_id, e.error_code) for e in result.errors] == [("nope", "DeviceNotFound")]


def test_bulk_limits(registry):
    with hub_error(413, 413002):
        registry.bulk_create_or_update_devices([ExportImportDevice(id=f"m-{i}", import_mode="create") for i in range(101)])
    # The SDK accepts 400 as a result for bulk calls, so the error is read from the raw response.
    twice = [ExportImportDevice(id="dup", import_mode="create")] * 2
    raw = registry.protocol.bulk_registry.update_registry(twice, raw=True).response
    assert (raw.status_code, raw.headers["iothub-errorcode"], raw.json()["errorCode"]) == (400, "DeviceDefinedMultipleTimes", 400011)


def test_statistics(registry):
    assert registry.get_device_registry_statistics().total_device_count == 1056
    assert 0 < registry.get_service_statistics().connected_device_count < 1056


def test_iot_edge_devices_have_the_capability(registry):
    edge = registry.get_device("edge-gateway-02")
    assert edge.capabilities.iot_edge is True and edge.device_scope
    assert registry.get_twin("edge-gateway-01").capabilities.iot_edge is True
    created = registry.create_device_with_sas("edge-new", None, None, "enabled", iot_edge=True)
    assert created.capabilities.iot_edge is True


def test_modules_are_not_simulated(registry):
    assert registry.get_modules("vending-0001") == []
    with hub_error(404, 404010):
        registry.get_module("vending-0001", "$edgeAgent")
