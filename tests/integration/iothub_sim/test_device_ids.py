"""Device ids with characters IoT Hub allows but URLs treat specially, on every route."""
from __future__ import annotations

import pytest
from azure.iot.hub.models import CloudToDeviceMethod, QuerySpecification, Twin, TwinProperties

from .support import hub_error

IDS = ["a#b", "50%off", "what?", "host:port", "k=v", "mix-#%?:=@$'()!*,+._"]


@pytest.mark.parametrize("device_id", IDS)
def test_every_route_handles_the_id(registry, hub, device_id):
    assert registry.create_device_with_sas(device_id, None, None, "enabled").device_id == device_id
    assert registry.get_device(device_id).device_id == device_id
    twin = registry.update_twin(device_id, Twin(properties=TwinProperties(desired={"x": 1})))
    assert twin.device_id == device_id
    result = registry.invoke_device_method(device_id, CloudToDeviceMethod(method_name="echo", payload=device_id))
    assert result.payload == device_id
    escaped = device_id.replace("'", "\\'")
    page = registry.query_iot_hub(QuerySpecification(query=f"SELECT * FROM devices WHERE deviceId = '{escaped}'"))
    assert [t.device_id for t in page.items] == [device_id]
    assert [entry["operation"] for entry in hub.control.device_log(device_id)] == ["update_twin", "invoke_device_method"]
    registry.delete_device(device_id)
    with hub_error(404, 404001):
        registry.get_twin(device_id)


def test_ids_with_characters_iot_hub_refuses_are_400(registry):
    with hub_error(400, 400004):
        registry.create_device_with_sas("has space", None, None, "enabled")
