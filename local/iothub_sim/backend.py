"""The simulated hub: registry, twins, simulated devices, direct methods and queries.

No HTTP here: handlers call these methods with plain values and get plain values back; failures
are the domain errors of `errors.py`. Everything runs on the server's event loop thread.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import random
import time
from dataclasses import dataclass, field

from . import twin_rules
from .devices import (CommandOutcome, DeviceBehaviour, DeviceProfile, run_command,
                      writable_property_acks)
from .errors import (ArgumentInvalid, DeviceAlreadyExists, DeviceNotFound, DeviceNotOnline,
                     GatewayTimeout, PreconditionFailed)
from .fleet import GENERIC, PROFILES, FleetDevice, build_fleet, default_behaviour
from .models import Device, utc_timestamp
from .query_runner import QueryPage, run_query

LOG_LIMIT_PER_DEVICE = 1000


@dataclass
class SimulatedDevice:
    """The device side of a registry entry: what it runs and how it behaves."""

    profile: DeviceProfile
    behaviour: DeviceBehaviour
    online_waiters: list = field(default_factory=list)


@dataclass(frozen=True)
class MethodCall:
    method_name: str
    payload: object
    response_timeout: float = 30
    connect_timeout: float = 0


class HubBackend:
    def __init__(self, fleet: str = "demo", seed: int = 1, behaviour: DeviceBehaviour | None = None) -> None:
        self.fleet_name = fleet
        self.seed = seed
        self.behaviour = self.initial_behaviour = behaviour or default_behaviour(fleet)
        self.changes = 0  # only ever grows; the autosave compares it
        self.reset()

    def reset(self) -> None:
        """Back to the fleet as built from the seed: devices, twins, logs and counters."""
        self.rng = random.Random(self.seed)
        self.devices: dict[str, Device] = {}
        self.simulated: dict[str, SimulatedDevice] = {}
        self.logs: dict[str, list[dict]] = {}
        self._sorted_ids: list[str] | None = None
        for entry in build_fleet(self.fleet_name, self.seed, self.behaviour):
            self.add(entry)

    def add(self, entry: FleetDevice) -> None:
        self.devices[entry.device.device_id] = entry.device
        self.simulated[entry.device.device_id] = SimulatedDevice(entry.profile, entry.behaviour)
        self.forget_sorted_ids()

    def forget_sorted_ids(self) -> None:
        self._sorted_ids = None
        self.changes += 1

    def device(self, device_id: str) -> Device:
        device = self.devices.get(device_id)
        if device is None:
            raise DeviceNotFound(f"Device {device_id} not registered")
        return device

    def sorted_ids(self) -> list[str]:
        if self._sorted_ids is None:
            self._sorted_ids = sorted(self.devices)
        return self._sorted_ids

    # --- registry ---------------------------------------------------------------------------

    def get_device(self, device_id: str) -> dict:
        return self.device(device_id).to_device_dict()

    def create_device(self, device_id: str, doc: dict) -> dict:
        twin_rules.check_device_id(device_id)
        if device_id in self.devices:
            raise DeviceAlreadyExists(f"A device with ID '{device_id}' is already registered.")
        device = Device(device_id=device_id, online=True, connection_state_updated_time=utc_timestamp())
        self._apply_identity(device, doc)
        self.add(FleetDevice(device, GENERIC, self.behaviour))
        return device.to_device_dict()

    def update_device(self, device_id: str, doc: dict, if_match: str | None) -> dict:
        device = self.device(device_id)
        check_etag(device.etag, if_match, "Device")
        self._apply_identity(device, doc)
        device.identity_version += 1
        self.changes += 1
        return device.to_device_dict()

    def _apply_identity(self, device: Device, doc: dict) -> None:
        status = doc.get("status") or device.status
        if status not in ("enabled", "disabled"):
            raise ArgumentInvalid(f"status must be 'enabled' or 'disabled', not {status!r}")
        if status != device.status:
            device.status, device.status_updated_time = status, utc_timestamp()
        device.status_reason = doc.get("statusReason", device.status_reason)
        device.iot_edge = bool((doc.get("capabilities") or {}).get("iotEdge", device.iot_edge))
        authentication = doc.get("authentication") or {}
        device.auth_type = authentication.get("type") or device.auth_type
        keys = authentication.get("symmetricKey") or {}
        device.primary_key = _valid_key(keys.get("primaryKey")) or device.primary_key
        device.secondary_key = _valid_key(keys.get("secondaryKey")) or device.secondary_key

    def delete_device(self, device_id: str, if_match: str | None) -> None:
        device = self.device(device_id)
        check_etag(device.etag, if_match, "Device")
        del self.devices[device_id]
        self.simulated.pop(device_id, None)
        self.forget_sorted_ids()

    def list_devices(self, top: int) -> list[dict]:
        return [self.devices[i].to_device_dict() for i in self.sorted_ids()[:top]]

    def registry_statistics(self) -> dict:
        enabled = sum(1 for d in self.devices.values() if d.status == "enabled")
        return {"totalDeviceCount": len(self.devices), "enabledDeviceCount": enabled,
                "disabledDeviceCount": len(self.devices) - enabled}

    def service_statistics(self) -> dict:
        return {"connectedDeviceCount": sum(1 for d in self.devices.values() if d.connection_state == "Connected")}

    # --- twins ------------------------------------------------------------------------------

    def get_twin(self, device_id: str) -> dict:
        return self.device(device_id).to_twin_dict()

    def update_twin(self, device_id: str, body: dict, if_match: str | None, operation: str = "update_twin") -> dict:
        device = self.device(device_id)
        check_etag(device.twin.etag, if_match, "Device")
        tags, desired = twin_rules.tags_of(body), twin_rules.desired_patch_of(body)
        new_tags = twin_rules.merged_within_limits(device.twin.tags, tags, "tags") if tags else None
        if desired:
            twin_rules.merged_within_limits(device.twin.desired.values, desired, "properties.desired")
        now = utc_timestamp()
        if new_tags is not None:
            device.twin.tags = new_tags
        if desired:
            device.twin.desired.apply_patch(desired, now)
        self._twin_changed(device, operation, tags, desired)
        return device.to_twin_dict()

    def replace_twin(self, device_id: str, body: dict, if_match: str | None) -> dict:
        device = self.device(device_id)
        check_etag(device.twin.etag, if_match, "Device")
        tags = twin_rules.tags_of(body) or {}
        desired = twin_rules.desired_patch_of(body) or {}
        new_tags = twin_rules.merged_within_limits({}, tags, "tags", replace=True)
        new_desired = twin_rules.merged_within_limits({}, desired, "properties.desired", replace=True)
        device.twin.tags = new_tags
        device.twin.desired.replace(new_desired, utc_timestamp())
        self._twin_changed(device, "replace_twin", tags, desired, replaced=True)
        return device.to_twin_dict()

    def _twin_changed(self, device: Device, operation: str, tags: dict | None, desired: dict | None,
                      replaced: bool = False) -> None:
        if not (tags or desired or replaced):
            return
        device.twin.touch()
        self.changes += 1
        entry = {"operation": operation}
        if tags or replaced:
            entry["tags"] = tags
        if desired or replaced:
            entry["desired"] = desired
            entry["desiredVersion"] = device.twin.desired.version
            self._schedule_acks(device)
        self.record(device.device_id, entry)

    def _schedule_acks(self, device: Device) -> None:
        simulated = self.simulated[device.device_id]
        if device.online and (simulated.profile.writable or simulated.profile.components):
            delay = simulated.behaviour.ack_delay.sample_seconds(self.rng)
            asyncio.get_running_loop().call_later(delay, self._acknowledge_writable_properties, device)

    def _acknowledge_writable_properties(self, device: Device) -> None:
        if self.devices.get(device.device_id) is not device or device.connection_state != "Connected":
            return
        profile = self.simulated[device.device_id].profile
        patch = writable_property_acks(profile, device.twin.desired, device.twin.reported.values)
        if patch:
            self.report(device, patch)

    def report(self, device: Device, patch: dict) -> None:
        """A reported-properties patch sent by the simulated device."""
        now = utc_timestamp()
        device.twin.reported.apply_patch(patch, now)
        device.twin.touch()
        device.last_activity_time = now
        self.changes += 1

    # --- connection state -------------------------------------------------------------------

    def set_online(self, device_id: str, online: bool) -> None:
        device = self.device(device_id)
        if device.online == online:
            return
        device.online = online
        device.connection_state_updated_time = utc_timestamp()
        self.changes += 1
        if online:
            self._wake_waiters(device_id)
            self._schedule_acks(device)

    def _wake_waiters(self, device_id: str) -> None:
        waiters = self.simulated[device_id].online_waiters
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(True)
        waiters.clear()

    def _reachable(self, device: Device) -> bool:
        simulated = self.simulated.get(device.device_id)
        return device.connection_state == "Connected" and simulated is not None and simulated.profile.answers_methods

    async def _wait_until_reachable(self, device: Device, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._reachable(device):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.devices.get(device.device_id) is not device:
                return False
            waiter = asyncio.get_running_loop().create_future()
            self.simulated[device.device_id].online_waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except asyncio.TimeoutError:
                return False
        return True

    # --- direct methods ---------------------------------------------------------------------

    async def invoke_device_method(self, device_id: str, call: MethodCall) -> tuple[int, object]:
        device = self.device(device_id)
        entry = self.record(device_id, {"operation": "invoke_device_method",
                                        "methodName": call.method_name, "payload": call.payload})
        if not await self._wait_until_reachable(device, call.connect_timeout):
            entry["result"] = "DeviceNotOnline"
            raise DeviceNotOnline("Timed out waiting for device to connect.", {"timeout": _timespan(call.connect_timeout)})
        simulated = self.simulated[device_id]
        latency = simulated.behaviour.latency.sample_seconds(self.rng)
        if latency > call.response_timeout:
            await asyncio.sleep(call.response_timeout)
            entry["result"] = "GatewayTimeout"
            raise GatewayTimeout("Timed out waiting for the response from device.")
        await asyncio.sleep(latency)
        outcome = run_command(simulated.profile, simulated.behaviour, self.rng, call.method_name, call.payload)
        entry["result"] = outcome.status
        device.last_activity_time = utc_timestamp()
        self._after_command(device, outcome)
        return outcome.status, outcome.payload

    def _after_command(self, device: Device, outcome: CommandOutcome) -> None:
        if outcome.offline_for_seconds <= 0:
            return
        loop = asyncio.get_running_loop()
        loop.call_soon(self._set_online_if_present, device, False)
        loop.call_later(outcome.offline_for_seconds, self._set_online_if_present, device, True)

    def _set_online_if_present(self, device: Device, online: bool) -> None:
        if self.devices.get(device.device_id) is device:
            self.set_online(device.device_id, online)

    # --- query ------------------------------------------------------------------------------

    def query_twins(self, text: str, max_items: int, continuation: str | None) -> QueryPage:
        return run_query(self, text, max_items, continuation)

    # --- simulation controls ----------------------------------------------------------------

    def record(self, device_id: str, entry: dict) -> dict:
        entry = {"time": utc_timestamp(), **entry}
        log = self.logs.setdefault(device_id, [])
        if len(log) >= LOG_LIMIT_PER_DEVICE:
            del log[: LOG_LIMIT_PER_DEVICE // 10]
        log.append(entry)
        return entry

    def device_log(self, device_id: str) -> list[dict]:
        return list(self.logs.get(device_id, []))

    def set_behaviour(self, device_id: str, changes: dict) -> dict:
        self.device(device_id)
        simulated = self.simulated[device_id]
        try:
            simulated.behaviour = simulated.behaviour.updated(changes)
        except (TypeError, ValueError) as error:
            raise ArgumentInvalid(str(error)) from None
        if "profile" in changes:
            simulated.profile = _profile_named(changes["profile"])
        return self.describe_device(device_id)

    def describe_device(self, device_id: str) -> dict:
        device, simulated = self.device(device_id), self.simulated[device_id]
        return {"deviceId": device_id, "online": device.online, "connectionState": device.connection_state,
                "profile": simulated.profile.name, **simulated.behaviour.to_dict()}


def _profile_named(name: str) -> DeviceProfile:
    if name not in PROFILES:
        raise ArgumentInvalid(f"unknown profile {name!r}; known: {sorted(PROFILES)}")
    return PROFILES[name]


def check_etag(current: str, if_match: str | None, what: str) -> None:
    """`If-Match` with quotes stripped; `*` (quoted or not) and an absent header match anything."""
    if if_match is None:
        return
    wanted = if_match.strip()
    if len(wanted) >= 2 and wanted[0] == wanted[-1] == '"':
        wanted = wanted[1:-1]
    if wanted != "*" and wanted != current:
        raise PreconditionFailed(f"Precondition failed: {what} version did not match, existingVersion:{current} newVersion:{wanted}")


def _valid_key(key) -> str | None:
    if key is None:
        return None
    try:
        size = len(base64.b64decode(key, validate=True))
    except (binascii.Error, TypeError, ValueError):
        size = 0
    if not 16 <= size <= 64:
        raise ArgumentInvalid("Symmetric keys must be base64 encoded and 16 to 64 bytes long")
    return key


def _timespan(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
