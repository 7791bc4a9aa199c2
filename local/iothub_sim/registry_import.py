"""Bulk registry operations (`POST /devices`, `bulk_create_or_update_devices`).

Each entry is applied on its own; failures are collected per device as IoT Hub reports them,
and the entries that succeeded stay applied.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ArgumentInvalid, IotHubError

if TYPE_CHECKING:
    from .backend import HubBackend

BULK_LIMIT = 100
IF_MATCH_MODES = {"createOrUpdateIfMatchETag", "updateIfMatchETag", "deleteIfMatchETag", "updateTwinIfMatchETag"}


def import_devices(backend: "HubBackend", entries: list) -> dict:
    errors = []
    for entry in entries:
        mode = entry.get("importMode", "createOrUpdate") if isinstance(entry, dict) else None
        try:
            _import_one(backend, entry, mode)
        except IotHubError as error:
            errors.append({"deviceId": entry.get("id") if isinstance(entry, dict) else None,
                           "errorCode": error.code_name, "errorStatus": error.message,
                           "moduleId": None, "operation": mode})
    return {"isSuccessful": not errors, "errors": errors, "warnings": []}


def _import_one(backend: "HubBackend", entry, mode: str | None) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise ArgumentInvalid("Each bulk entry needs an 'id'")
    device_id = entry["id"]
    etag = entry.get("eTag") if mode in IF_MATCH_MODES else None
    twin_etag = entry.get("twinETag") if mode in IF_MATCH_MODES else None
    if mode in ("delete", "deleteIfMatchETag"):
        backend.delete_device(device_id, etag or "*")
    elif mode in ("updateTwin", "updateTwinIfMatchETag"):
        backend.update_twin(device_id, entry, twin_etag, operation="bulk_update_twin")
    elif mode in ("create", "createOrUpdate", "createOrUpdateIfMatchETag", "update", "updateIfMatchETag"):
        _create_or_update(backend, device_id, entry, mode, etag, twin_etag)
    else:
        raise ArgumentInvalid(f"Unknown importMode {mode!r}")


def _create_or_update(backend: "HubBackend", device_id: str, entry: dict, mode: str, etag, twin_etag) -> None:
    exists = device_id in backend.devices
    if mode == "create" or (not exists and mode.startswith("createOrUpdate")):
        backend.create_device(device_id, entry)
    else:
        backend.update_device(device_id, entry, etag or "*")
    if entry.get("tags") or (entry.get("properties") or {}).get("desired"):
        backend.update_twin(device_id, entry, twin_etag, operation="bulk_update_twin")
