"""What a job may target, asked of IoT Hub: is the group's query accepted, and is each device of
an explicit subset in the group and not an IoT Edge device.

These are hub calls made for an HTTP caller, so they go through the gateway's interactive views:
group reads, device listings and filter checks through `for_reads` (their share of the query
budget; IoT Hub's verdict on a filter is kept a while), the checks before a job starts through
`for_job_checks` (the pipeline's budget, since they start a job). A hub without those views (a
test's stand-in) is asked directly.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator

from shared.domain.errors import DeviceGroupNotFound, InvalidField, InvalidGroupFilter
from shared.domain.groups import SUBSET_CHUNK, DeviceGroup, subset_query
from shared.domain.devices import DevicePage
from shared.hub_gateway import INVALID_QUERY, CallerThrottled, DeviceSummary, HubFailure

logger = logging.getLogger(__name__)


class TargetRefused(InvalidField):
    """A job's target cannot be used; `code` is the API's error code for it."""

    def __init__(self, field: str, message: str, code: str):
        super().__init__(field, message)
        self.code = code


class HubUnavailable(Exception):
    """IoT Hub did not answer a question the request depends on; nothing was changed."""


class HubBusy(HubUnavailable):
    """The hub's budget for such requests is spent for now; try again after `retry_after` s."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


def corruption_of(group: DeviceGroup, hub, for_job: bool = False) -> str | None:
    """Why the group cannot be resolved (its filter is refused), or None when it can."""
    try:
        query = group.hub_query
    except InvalidGroupFilter as error:
        return f"The group's filter is no longer valid: {error.message}"
    refusal = asked(lambda: _view(hub, for_job).refusal_of(query))
    return f"IoT Hub refused the group's filter: {refusal}" if refusal else None


def local_corruption_of(group: DeviceGroup) -> str | None:
    """The check that needs no hub call (for listings): the filter still translates."""
    try:
        group.hub_query
    except InvalidGroupFilter as error:
        return f"The group's filter is no longer valid: {error.message}"
    return None


def first_page(group: DeviceGroup, hub, page_size: int = 100, continuation: str | None = None) -> DevicePage:
    """One page of the group's devices; raises TargetRefused when IoT Hub refuses the query."""
    query = group.hub_query
    return asked(lambda: _view(hub, False).query_devices(query, continuation, page_size))


def require_usable_group(group: DeviceGroup, hub) -> None:
    reason = corruption_of(group, hub, for_job=True)
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


def _subset_members(group: DeviceGroup, device_ids: tuple[str, ...], hub) -> list[DeviceSummary]:
    queries = [subset_query(list(device_ids[start:start + SUBSET_CHUNK]), hub_query=group.hub_query)
               for start in range(0, len(device_ids), SUBSET_CHUNK)]
    return asked(lambda: list(_view(hub, True).query_each(queries)))


def _view(hub, for_job: bool):
    view = getattr(hub, "for_job_checks" if for_job else "for_reads", None)
    return view if view is not None else _Direct(hub)


class _Direct:
    """The interactive view's questions, asked of a hub that has none."""

    def __init__(self, hub):
        self._hub = hub

    def query_devices(self, query: str, continuation: str | None = None, page_size: int = 100) -> DevicePage:
        return self._hub.query_devices(query, continuation, page_size)

    def query_each(self, queries: Iterable[str], page_size: int = 100) -> Iterator[DeviceSummary]:
        for query in queries:
            continuation = None
            while True:
                page = self._hub.query_devices(query, continuation, page_size)
                yield from page.devices
                continuation = page.continuation
                if not continuation:
                    break

    def refusal_of(self, query: str) -> str | None:
        try:
            self._hub.query_devices(query, None, 1)
        except HubFailure as failure:
            if failure.code == INVALID_QUERY:
                return failure.message
            raise
        return None


def group_of(job, groups) -> DeviceGroup:
    """The job's device group; one that no longer exists refuses the job, naming `group`."""
    try:
        return groups.get(job.group_id)
    except DeviceGroupNotFound:
        raise TargetRefused("group", f"Device group '{job.group_id}' was not found.", "DeviceGroupNotFound") from None


def asked(question, field: str = "filter"):
    """The answer, or the API's view of why the hub gave none; a filter the hub refuses names
    `field` (the group's `filter`, or a job's `group`)."""
    try:
        return question()
    except CallerThrottled as throttled:
        raise HubBusy("IoT Hub's budget for such requests is spent for now.", throttled.retry_after) from None
    except HubFailure as failure:
        if failure.code == INVALID_QUERY:
            raise TargetRefused(field, f"IoT Hub refused the group's filter: {failure.message}",
                                "DeviceGroupCorrupted") from None
        logger.warning("IoT Hub did not answer a caller's query: %s (%s)", failure.code, failure.message)
        said = f"IoT Hub answered {failure.status}." if failure.status else "IoT Hub could not be reached."
        raise HubUnavailable(said) from None
