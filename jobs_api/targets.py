"""What a job may target, asked of IoT Hub: is the group's query accepted, and is each device of
an explicit subset in the group and not an IoT Edge device.
"""
from __future__ import annotations

from collections.abc import Iterator

from shared.domain.errors import InvalidField, InvalidGroupFilter
from shared.domain.groups import SUBSET_CHUNK, DeviceGroup, subset_query
from shared.domain.devices import DevicePage
from shared.hub_gateway import INVALID_QUERY, DeviceSummary, HubFailure


class TargetRefused(InvalidField):
    """A job's target cannot be used; `code` is the API's error code for it."""

    def __init__(self, field: str, message: str, code: str):
        super().__init__(field, message)
        self.code = code


class HubUnavailable(Exception):
    """IoT Hub did not answer a question the request depends on; nothing was changed."""


def corruption_of(group: DeviceGroup, hub) -> str | None:
    """Why the group cannot be resolved (its filter is refused), or None when it can."""
    try:
        first_page(group, hub, page_size=1)
    except InvalidGroupFilter as error:
        return f"The group's filter is no longer valid: {error.message}"
    except TargetRefused as error:
        return error.message
    return None


def local_corruption_of(group: DeviceGroup) -> str | None:
    """The check that needs no hub call (for listings): the filter still translates."""
    try:
        group.hub_query
    except InvalidGroupFilter as error:
        return f"The group's filter is no longer valid: {error.message}"
    return None


def first_page(group: DeviceGroup, hub, page_size: int = 100, continuation: str | None = None) -> DevicePage:
    """One page of the group's devices; raises TargetRefused when IoT Hub refuses the query."""
    return _query(hub, group.hub_query, continuation, page_size)


def require_usable_group(group: DeviceGroup, hub) -> None:
    reason = corruption_of(group, hub)
    if reason:
        raise TargetRefused("group", f"Device group '{group.id}' is corrupted: {reason}", "DeviceGroupCorrupted")


def require_subset_in_group(group: DeviceGroup, device_ids: tuple[str, ...], hub) -> None:
    """Every id is a device of the group and none is an IoT Edge device."""
    found = {device.device_id: device for device in _subset_members(group, device_ids, hub)}
    for index, device_id in enumerate(device_ids):
        if device_id not in found:
            raise TargetRefused(f"devices[{index}]", f"Device '{device_id}' is not in device group '{group.id}'.",
                                "DeviceNotInGroup")
        if found[device_id].is_edge:
            raise TargetRefused(f"devices[{index}]", f"Device '{device_id}' is an IoT Edge device; jobs do not "
                                "support IoT Edge devices.", "EdgeDeviceNotSupported")


def _subset_members(group: DeviceGroup, device_ids: tuple[str, ...], hub) -> Iterator[DeviceSummary]:
    for start in range(0, len(device_ids), SUBSET_CHUNK):
        query = subset_query(list(device_ids[start:start + SUBSET_CHUNK]), hub_query=group.hub_query)
        continuation = None
        while True:
            page = _query(hub, query, continuation, 100)
            yield from page.devices
            continuation = page.continuation
            if not continuation:
                break


def _query(hub, query: str, continuation: str | None, page_size: int) -> DevicePage:
    try:
        return hub.query_devices(query, continuation, page_size)
    except HubFailure as failure:
        if failure.code == INVALID_QUERY:
            raise TargetRefused("filter", f"IoT Hub refused the group's filter: {failure.message}",
                                "DeviceGroupCorrupted") from None
        raise HubUnavailable(f"IoT Hub did not answer ({failure.code}): {failure.message}") from None

