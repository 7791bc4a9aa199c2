"""Registry state: device identities and their twins. No HTTP, no asyncio.

Shapes follow the twin and device documents of the IoT Hub REST API (api-version 2021-04-12).
"""
from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field

NEVER = "0001-01-01T00:00:00Z"


_last_stamp: tuple[int, str] = (-1, "")


def utc_timestamp() -> str:
    """IoT Hub's `$lastUpdated` form: `YYYY-MM-DDTHH:MM:SS.mmmZ` (formatted once per millisecond)."""
    global _last_stamp
    millis = int(time.time() * 1000)
    if millis != _last_stamp[0]:
        seconds, fraction = divmod(millis, 1000)
        _last_stamp = (millis, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:03d}Z")
    return _last_stamp[1]


def new_sas_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def merge_patch(target: dict, patch: dict) -> None:
    """Twin merge: objects merge recursively, `null` deletes the key, anything else replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            child = target.get(key)
            if not isinstance(child, dict):
                child = target[key] = {}
            merge_patch(child, value)
        else:
            target[key] = value


def copy_json(value):
    """Deep copy of plain JSON data (much cheaper than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


@dataclass
class PropertySection:
    """`properties.desired` or `properties.reported`, with its `$version` and `$metadata`."""

    values: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    version: int = 1
    tracks_versions: bool = True  # desired metadata carries `$lastUpdatedVersion`, reported does not

    def __post_init__(self) -> None:
        if not self.metadata:
            self._stamp(self.metadata, utc_timestamp())

    def apply_patch(self, patch: dict, now: str) -> None:
        self.version += 1
        merge_patch(self.values, patch)
        self._touch_metadata(self.metadata, patch, now)
        self._stamp(self.metadata, now)

    def replace(self, values: dict, now: str) -> None:
        self.version += 1
        self.values = values
        self.metadata = {}
        self._touch_metadata(self.metadata, values, now)
        self._stamp(self.metadata, now)

    def _stamp(self, node: dict, now: str) -> None:
        node["$lastUpdated"] = now
        if self.tracks_versions:
            node["$lastUpdatedVersion"] = self.version

    def _touch_metadata(self, metadata: dict, patch: dict, now: str) -> None:
        for key, value in patch.items():
            if value is None:
                metadata.pop(key, None)
                continue
            node = metadata.get(key)
            if not isinstance(value, dict) or not isinstance(node, dict):
                node = metadata[key] = {}
            self._stamp(node, now)
            if isinstance(value, dict):
                self._touch_metadata(node, value, now)

    def last_updated_version(self, *path: str) -> int:
        node = self.metadata
        for key in path:
            node = node.get(key)
            if not isinstance(node, dict):
                return 0
        return node.get("$lastUpdatedVersion", 0)

    def to_dict(self) -> dict:
        doc = dict(self.values)
        doc["$metadata"] = self.metadata
        doc["$version"] = self.version
        return doc


@dataclass
class Twin:
    tags: dict = field(default_factory=dict)
    desired: PropertySection = field(default_factory=PropertySection)
    reported: PropertySection = field(default_factory=lambda: PropertySection(tracks_versions=False))
    version: int = 1

    @property
    def etag(self) -> str:
        return base64.b64encode(self.version.to_bytes(8, "big")).decode()

    def touch(self) -> None:
        self.version += 1


@dataclass
class Device:
    """A device identity in the registry, its twin and its connection state."""

    device_id: str
    primary_key: str = field(default_factory=new_sas_key)
    secondary_key: str = field(default_factory=new_sas_key)
    auth_type: str = "sas"
    status: str = "enabled"
    status_reason: str | None = None
    iot_edge: bool = False
    model_id: str = ""
    online: bool = False
    twin: Twin = field(default_factory=Twin)
    generation_id: str = field(default_factory=lambda: str(637_000_000_000_000_000 + secrets.randbelow(10**15)))
    identity_version: int = 0
    status_updated_time: str = NEVER
    connection_state_updated_time: str = NEVER
    last_activity_time: str = NEVER

    @property
    def etag(self) -> str:
        return base64.b64encode(str(self.identity_version).encode()).decode()

    @property
    def connection_state(self) -> str:
        return "Connected" if self.online and self.status == "enabled" else "Disconnected"

    @property
    def device_scope(self) -> str | None:
        return f"ms-azure-iot-edge://{self.device_id}-{self.generation_id}" if self.iot_edge else None

    def to_device_dict(self) -> dict:
        return {
            "deviceId": self.device_id,
            "generationId": self.generation_id,
            "etag": self.etag,
            "connectionState": self.connection_state,
            "status": self.status,
            "statusReason": self.status_reason,
            "connectionStateUpdatedTime": self.connection_state_updated_time,
            "statusUpdatedTime": self.status_updated_time,
            "lastActivityTime": self.last_activity_time,
            "cloudToDeviceMessageCount": 0,
            "authentication": self._authentication_dict(),
            "capabilities": {"iotEdge": self.iot_edge},
            "deviceScope": self.device_scope,
            "parentScopes": [],
        }

    def _authentication_dict(self, keys: bool = True) -> dict:
        return {
            "symmetricKey": {"primaryKey": self.primary_key if keys else None,
                             "secondaryKey": self.secondary_key if keys else None},
            "x509Thumbprint": {"primaryThumbprint": None, "secondaryThumbprint": None},
            "type": self.auth_type,
        }

    def to_export_dict(self, keys: bool) -> dict:
        """One line of an export job's `devices.txt` (ExportImportDevice). IoT Hub writes the twin's
        values without `$metadata`/`$version`, and neither `modelId` nor `parentScopes`."""
        doc = {"id": self.device_id, "eTag": self.etag, "status": self.status}
        if self.status_reason is not None:
            doc["statusReason"] = self.status_reason
        doc["authentication"] = self._authentication_dict(keys)
        doc["twinETag"] = self.twin.etag
        doc["tags"] = self.twin.tags
        doc["properties"] = {"desired": self.twin.desired.values, "reported": self.twin.reported.values}
        doc["capabilities"] = {"iotEdge": self.iot_edge}
        if self.iot_edge:
            doc["deviceScope"] = self.device_scope
        return doc

    def to_twin_dict(self) -> dict:
        doc = {
            "deviceId": self.device_id,
            "etag": self.twin.etag,
            "deviceEtag": self.etag,
            "status": self.status,
            "statusReason": self.status_reason,
            "statusUpdateTime": self.status_updated_time,
            "connectionState": self.connection_state,
            "lastActivityTime": self.last_activity_time,
            "cloudToDeviceMessageCount": 0,
            "authenticationType": self.auth_type,
            "x509Thumbprint": {"primaryThumbprint": None, "secondaryThumbprint": None},
            "modelId": self.model_id,
            "version": self.twin.version,
            "capabilities": {"iotEdge": self.iot_edge},
            "tags": self.twin.tags,
            "properties": {"desired": self.twin.desired.to_dict(), "reported": self.twin.reported.to_dict()},
        }
        if self.iot_edge:
            doc["deviceScope"] = self.device_scope
        return doc
