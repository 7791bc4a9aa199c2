"""IoT Plug and Play writable-property acknowledgements written by the simulated devices."""
from __future__ import annotations

from azure.iot.hub.models import Twin, TwinProperties

from .support import wait_until


def patch_desired(registry, device_id: str, values: dict) -> int:
    twin = registry.update_twin(device_id, Twin(properties=TwinProperties(desired=values)))
    return twin.properties.desired["$version"]


def reported(registry, device_id: str) -> dict:
    return registry.get_twin(device_id).properties.reported


def ack_for(registry, device_id: str, name: str, version: int, component: str | None = None):
    def check():
        section = reported(registry, device_id)
        node = section.get(component, {}) if component else section
        ack = node.get(name)
        return ack if isinstance(ack, dict) and ack.get("av") == version else None
    return wait_until(check, message=f"ack of {name} with av={version}")


def test_accepted_value_is_acknowledged_with_the_desired_version(registry):
    version = patch_desired(registry, "vending-0004", {"fanSpeed": 3})
    ack = ack_for(registry, "vending-0004", "fanSpeed", version)
    assert ack == {"value": 3, "ac": 200, "av": version, "ad": "completed"}


def test_out_of_schema_value_is_rejected_with_ac_400_and_the_value_in_use(registry):
    first = patch_desired(registry, "vending-0004", {"fanSpeed": 4})
    ack_for(registry, "vending-0004", "fanSpeed", first)
    version = patch_desired(registry, "vending-0004", {"fanSpeed": 9})
    ack = ack_for(registry, "vending-0004", "fanSpeed", version)
    assert (ack["ac"], ack["value"]) == (400, 4)


def test_each_property_is_acknowledged_with_the_version_that_carried_it(registry):
    fan_version = patch_desired(registry, "vending-0005", {"fanSpeed": 1})
    ack_for(registry, "vending-0005", "fanSpeed", fan_version)
    temperature_version = patch_desired(registry, "vending-0005", {"targetTemperature": 6.5})
    ack = ack_for(registry, "vending-0005", "targetTemperature", temperature_version)
    assert ack["value"] == 6.5
    assert reported(registry, "vending-0005")["fanSpeed"]["av"] == fan_version


def test_component_property_is_acknowledged_inside_the_component(registry):
    version = patch_desired(registry, "thermostat-002", {"thermostat1": {"__t": "c", "targetTemperature": 22.5}})
    ack = ack_for(registry, "thermostat-002", "targetTemperature", version, component="thermostat1")
    assert ack["ac"] == 200 and ack["value"] == 22.5
    assert reported(registry, "thermostat-002")["thermostat1"]["__t"] == "c"


def test_offline_device_acknowledges_when_it_reconnects(registry, hub):
    hub.control.set_online("vending-0006", False)
    version = patch_desired(registry, "vending-0006", {"fanSpeed": 2})
    assert reported(registry, "vending-0006")["fanSpeed"]["av"] != version
    hub.control.set_online("vending-0006", True)
    assert ack_for(registry, "vending-0006", "fanSpeed", version)["ac"] == 200


def test_initial_reported_values_use_ac_203(registry):
    assert reported(registry, "vending-0007")["fanSpeed"] == {"value": 2, "ac": 203, "av": 0, "ad": "initialize"}
