"""Device group use cases and the hub checks behind them."""
from __future__ import annotations

import pytest

from jobs_api import groups as use_cases
from jobs_api.models import DeviceGroupDefinition, DeviceGroupPatch
from jobs_api.targets import HubUnavailable, TargetRefused, require_subset_in_group
from shared.domain.errors import ConcurrencyConflict, DeviceGroupNotFound, InvalidField
from shared.domain.groups import DeviceGroup
from shared.hub_gateway import HubFailure


def _definition(**changes) -> DeviceGroupDefinition:
    body = {"displayName": "East", "filter": 'SELECT * FROM devices WHERE $id = "vending-0001"'}
    body.update(changes)
    return DeviceGroupDefinition.model_validate(body)


def test_put_translates_central_fields_and_asks_the_hub(ctx, hub):
    view = use_cases.put_group("east", _definition(), None, ctx)
    assert view.id == "east" and not view.corrupted and view.etag
    assert hub.queries == ["SELECT * FROM devices WHERE deviceId = 'vending-0001'"]


@pytest.mark.parametrize("changes, field", [
    ({"filter": "DELETE FROM devices"}, "filter"),
    ({"filter": 'SELECT * FROM devices WHERE $displayName = "x"'}, "filter"),
    ({"filter": "SELECT * FROM devices WHERE (("}, "filter"),
    ({"displayName": " "}, "displayName"),
])
def test_put_refuses_what_cannot_work_and_saves_nothing(ctx, changes, field):
    with pytest.raises(InvalidField) as refused:
        use_cases.put_group("east", _definition(**changes), None, ctx)
    assert refused.value.field == field
    with pytest.raises(DeviceGroupNotFound):
        ctx.groups.get("east")


def test_if_match_or_the_body_etag_guards_a_replace(ctx):
    etag = use_cases.put_group("east", _definition(), None, ctx).etag
    with pytest.raises(ConcurrencyConflict):
        use_cases.put_group("east", _definition(displayName="B"), 'W/"0"', ctx)
    with pytest.raises(ConcurrencyConflict):
        use_cases.put_group("east", _definition(displayName="B", etag='W/"0"'), None, ctx)
    with pytest.raises(ConcurrencyConflict):
        use_cases.put_group("north", _definition(), etag, ctx)  # If-Match needs an existing group
    assert use_cases.put_group("east", _definition(displayName="B"), etag, ctx).display_name == "B"
    assert ctx.groups.get("east").display_name == "B"


def test_patch_keeps_fields_not_given(ctx):
    use_cases.put_group("east", _definition(description="d"), None, ctx)
    view = use_cases.patch_group("east", DeviceGroupPatch.model_validate({"displayName": "New"}), None, ctx)
    assert (view.display_name, view.description) == ("New", "d")


def test_a_corrupted_group_reads_as_corrupted_with_no_devices(ctx):
    ctx.groups.save(DeviceGroup("broken", "Broken", "SELECT * FROM devices WHERE (("))
    ctx.groups.save(DeviceGroup("unreadable", "", ""))
    assert use_cases.get_group("broken", ctx).corrupted
    page, reason = use_cases.group_devices("broken", 10, None, ctx)
    assert page.devices == [] and "refused" in reason
    listed = {view.id: view for view in use_cases.list_groups(ctx)}
    assert listed["unreadable"].corrupted and not listed["broken"].corrupted  # listing asks the hub nothing
    assert use_cases.group_devices("unreadable", 10, None, ctx)[1]


def test_a_hub_that_does_not_answer_is_unavailable_not_corrupted(ctx, hub):
    hub.query_failure = HubFailure("Throttled", "429", 429)
    with pytest.raises(HubUnavailable):
        use_cases.get_group("west", ctx)


def test_subset_ids_with_apostrophes_are_escaped(ctx, hub):
    from shared.hub_gateway import DeviceSummary

    hub.devices["it's"] = DeviceSummary("it's")
    require_subset_in_group(ctx.groups.get("west"), ("it's",), hub)
    assert hub.queries[-1].endswith("deviceId IN ['it\\'s']")
    with pytest.raises(TargetRefused):
        require_subset_in_group(ctx.groups.get("west"), ("its",), hub)


def test_delete_needs_a_known_group(ctx):
    use_cases.delete_group("west", None, ctx)
    with pytest.raises(DeviceGroupNotFound):
        use_cases.delete_group("west", None, ctx)


def test_a_new_group_beyond_the_limit_is_refused_but_a_replace_is_not(ctx):
    from dataclasses import replace

    from shared.domain.errors import LimitReached
    from shared.settings import Settings

    ctx = replace(ctx, settings=Settings(max_device_groups=2))  # the fixture holds one group already
    use_cases.put_group("east", _definition(), None, ctx)
    with pytest.raises(LimitReached) as reached:
        use_cases.put_group("north", _definition(), None, ctx)
    assert reached.value.setting == "MAX_DEVICE_GROUPS"
    with pytest.raises(DeviceGroupNotFound):
        ctx.groups.get("north")
    assert use_cases.put_group("east", _definition(displayName="East again"), None, ctx).display_name == "East again"
