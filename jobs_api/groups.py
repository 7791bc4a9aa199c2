"""Device group use cases. A group is a saved query; its members are asked of IoT Hub on every read.

A group whose filter IoT Hub no longer accepts (or whose stored entity cannot be read back into
a valid filter) is *corrupted*: it is still listed and readable, says so, and has no devices.
"""
from __future__ import annotations

from shared.domain import limits
from shared.domain.errors import ConcurrencyConflict, DeviceGroupNotFound, InvalidField, LimitReached
from shared.domain.groups import DeviceGroup
from shared.domain.devices import DevicePage
from shared.collaborators import Collaborators
from jobs_api.models import DeviceGroupDefinition, DeviceGroupPatch, DeviceGroupView
from jobs_api.targets import TargetRefused, corruption_of, first_page, local_corruption_of


def put_group(group_id: str, definition: DeviceGroupDefinition, if_match: str | None,
              ctx: Collaborators) -> DeviceGroupView:
    """Create or replace. The filter must translate and IoT Hub must accept it."""
    limits.validate_group_id(group_id, "deviceGroupId")
    group = DeviceGroup(group_id, definition.display_name, definition.filter, definition.description,
                        definition.organizations).validated()
    expected = if_match or definition.etag
    if expected:
        _require_version(group_id, expected, ctx)
    else:
        _require_room_for(group_id, ctx)
    _require_hub_accepts(group, ctx)
    return DeviceGroupView.of(ctx.groups.save(group, if_match=expected if expected != "*" else None))


def _require_room_for(group_id: str, ctx: Collaborators) -> None:
    """A new group must fit within MAX_DEVICE_GROUPS (a replaced one takes no more room)."""
    limit = ctx.settings.max_device_groups
    if not limit:
        return
    try:
        ctx.groups.get(group_id)
    except DeviceGroupNotFound:
        if ctx.groups.count() >= limit:
            raise LimitReached("device groups", limit, "MAX_DEVICE_GROUPS") from None


def patch_group(group_id: str, patch: DeviceGroupPatch, if_match: str | None,
                ctx: Collaborators) -> DeviceGroupView:
    stored = ctx.groups.get(group_id)
    expected = if_match or patch.etag
    if expected and expected not in ("*", stored.etag):
        raise ConcurrencyConflict("Device group", group_id)
    given = patch.model_fields_set
    group = DeviceGroup(group_id, patch.display_name if "display_name" in given else stored.display_name,
                        patch.filter if "filter" in given else stored.filter,
                        patch.description if "description" in given else stored.description,
                        patch.organizations if "organizations" in given else stored.organizations).validated()
    _require_hub_accepts(group, ctx)
    return DeviceGroupView.of(ctx.groups.save(group, if_match=stored.etag))


def get_group(group_id: str, ctx: Collaborators) -> DeviceGroupView:
    group = ctx.groups.get(group_id)
    return DeviceGroupView.of(group, corruption_of(group, ctx.hub))


def LIST_ORDER(group: DeviceGroupView) -> tuple[str]:
    return (group.id,)


def list_groups(ctx: Collaborators) -> list[DeviceGroupView]:
    """Listing asks IoT Hub nothing (queries are the hub's scarcest budget): only a filter that no
    longer translates shows as corrupted here; GET of one group also asks the hub."""
    return sorted((DeviceGroupView.of(group, local_corruption_of(group)) for group in ctx.groups.list()), key=LIST_ORDER)


def delete_group(group_id: str, if_match: str | None, ctx: Collaborators) -> None:
    if if_match:
        _require_version(group_id, if_match, ctx)
    ctx.groups.delete(group_id)


def group_devices(group_id: str, page_size: int, continuation: str | None,
                  ctx: Collaborators) -> tuple[DevicePage, str | None]:
    """One page of the group's devices, and why the group is corrupted (then the page is empty)."""
    group = ctx.groups.get(group_id)
    reason = local_corruption_of(group)
    if reason:
        return DevicePage([], None), reason
    try:
        return first_page(group, ctx.hub, page_size, continuation), None
    except TargetRefused as refused:
        if continuation:  # the filter worked for the first page: the token is what IoT Hub refused
            raise InvalidField("$skiptoken", "is not valid any more; start from the first page.") from None
        return DevicePage([], None), refused.message


def _require_version(group_id: str, expected: str, ctx: Collaborators) -> None:
    try:
        stored = ctx.groups.get(group_id)
    except DeviceGroupNotFound:
        raise ConcurrencyConflict("Device group", group_id) from None  # If-Match needs a current version
    if expected not in ("*", stored.etag):
        raise ConcurrencyConflict("Device group", group_id)


def _require_hub_accepts(group: DeviceGroup, ctx: Collaborators) -> None:
    reason = corruption_of(group, ctx.hub)
    if reason:
        raise TargetRefused("filter", reason, "InvalidFilter")
