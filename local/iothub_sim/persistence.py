"""`--state FILE`: the registry (identities, twins, connection state, device behaviour) as one JSON file."""
from __future__ import annotations

import json
import os
from pathlib import Path

from .backend import HubBackend, SimulatedDevice
from .devices import DeviceBehaviour
from .fleet import PROFILES
from .models import Device, PropertySection, Twin

FORMAT_VERSION = 1


def save_state(backend: HubBackend, path: Path) -> None:
    devices = [_device_record(device, backend.simulated[device_id]) for device_id, device in backend.devices.items()]
    document = {"format": FORMAT_VERSION, "fleet": backend.fleet_name, "seed": backend.seed, "devices": devices}
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(document))
    os.replace(temporary, path)


def load_state(backend: HubBackend, path: Path) -> None:
    document = json.loads(path.read_text())
    if document.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path} is not a simulator state file of format {FORMAT_VERSION}")
    backend.devices.clear()
    backend.simulated.clear()
    for record in document["devices"]:
        device = _device_from(record)
        backend.devices[device.device_id] = device
        behaviour = DeviceBehaviour().updated(record["behaviour"])
        backend.simulated[device.device_id] = SimulatedDevice(PROFILES[record["profile"]], behaviour)
    backend.forget_sorted_ids()


def _device_record(device: Device, simulated: SimulatedDevice) -> dict:
    twin = device.twin
    return {
        "deviceId": device.device_id, "primaryKey": device.primary_key, "secondaryKey": device.secondary_key,
        "authType": device.auth_type, "status": device.status, "statusReason": device.status_reason,
        "iotEdge": device.iot_edge, "modelId": device.model_id, "online": device.online,
        "generationId": device.generation_id, "identityVersion": device.identity_version,
        "twin": {"tags": twin.tags, "version": twin.version,
                 "desired": _section_record(twin.desired), "reported": _section_record(twin.reported)},
        "profile": simulated.profile.name, "behaviour": simulated.behaviour.to_dict(),
    }


def _section_record(section: PropertySection) -> dict:
    return {"values": section.values, "metadata": section.metadata, "version": section.version}


def _device_from(record: dict) -> Device:
    twin_record = record["twin"]
    twin = Twin(
        tags=twin_record["tags"],
        desired=PropertySection(**twin_record["desired"]),
        reported=PropertySection(**twin_record["reported"], tracks_versions=False),
        version=twin_record["version"],
    )
    return Device(
        device_id=record["deviceId"], primary_key=record["primaryKey"], secondary_key=record["secondaryKey"],
        auth_type=record["authType"], status=record["status"], status_reason=record["statusReason"],
        iot_edge=record["iotEdge"], model_id=record["modelId"], online=record["online"], twin=twin,
        generation_id=record["generationId"], identity_version=record["identityVersion"],
    )
