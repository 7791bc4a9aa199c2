import pytest

from shared.domain.errors import InvalidField, InvalidGroupFilter
from shared.domain.groups import DeviceGroup, selecting, to_hub_query


@pytest.mark.parametrize(("central", "hub"), [
    ('SELECT * FROM devices WHERE $template = "dtmi:contoso:vending;1"',
     "SELECT * FROM devices WHERE modelId = 'dtmi:contoso:vending;1'"),
    ("SELECT * FROM Devices WHERE $id = 'dev-1' OR $id = \"dev-2\"",
     "SELECT * FROM Devices WHERE deviceId = 'dev-1' OR deviceId = 'dev-2'"),
    ("SELECT * FROM devices WHERE tags.region = 'west' AND properties.reported.$version > 2",
     "SELECT * FROM devices WHERE tags.region = 'west' AND properties.reported.$version > 2"),
    ('SELECT * FROM devices WHERE tags.note = "$id is not a field here"',
     "SELECT * FROM devices WHERE tags.note = '$id is not a field here'"),
    ('SELECT * FROM devices WHERE tags.owner = "O\'Brien"',
     "SELECT * FROM devices WHERE tags.owner = 'O\\'Brien'"),
    ("SELECT * FROM devices", "SELECT * FROM devices"),
    # The Azure CLI's own example; every device in a hub's registry is provisioned, none simulated.
    ('SELECT * FROM devices WHERE $template = "dtmi:modelDefinition:dtdlv2" AND $provisioned = true',
     "SELECT * FROM devices WHERE modelId = 'dtmi:modelDefinition:dtdlv2' AND IS_DEFINED(deviceId)"),
    ("SELECT * FROM devices WHERE $provisioned = false", "SELECT * FROM devices WHERE NOT IS_DEFINED(deviceId)"),
    ("SELECT * FROM devices WHERE $provisioned != false", "SELECT * FROM devices WHERE IS_DEFINED(deviceId)"),
    ("SELECT * FROM devices WHERE $simulated = true", "SELECT * FROM devices WHERE NOT IS_DEFINED(deviceId)"),
    ("SELECT * FROM devices WHERE $simulated <> TRUE", "SELECT * FROM devices WHERE IS_DEFINED(deviceId)"),
    ('SELECT * FROM devices WHERE tags.x = "$simulated = true"',
     "SELECT * FROM devices WHERE tags.x = '$simulated = true'"),
])
def test_iot_central_filters_become_iot_hub_queries(central, hub):
    assert to_hub_query(central) == hub


def test_a_query_can_select_fields_instead_of_whole_twins():
    query = to_hub_query("select *  FROM devices WHERE tags.note = 'SELECT * FROM devices'")
    assert selecting(query, "deviceId, modelId") == "SELECT deviceId, modelId FROM devices WHERE tags.note = " \
                                                    "'SELECT * FROM devices'"


@pytest.mark.parametrize(("central", "message"), [
    ("", "non-empty"), ("SELECT * FROM modules", "SELECT"), ("DELETE devices", "SELECT"),
    ('SELECT * FROM devices WHERE $provisioned', "only as `\\$provisioned = true`"),
    ('SELECT * FROM devices WHERE $simulated = 1', "only as"),
    ('SELECT * FROM devices WHERE $displayName = "x"', "no IoT Hub equivalent"),
    ('SELECT * FROM devices WHERE $nonsense = 1', "unknown system field"),
    ('SELECT * FROM devices WHERE $id = "open', "unterminated"),
    ("SELECT * FROM devices WHERE $id = 'open", "unterminated"),
    ("SELECT * FROM devices WHERE x = 1" + " " * 2048, "at most"),
])
def test_filters_without_an_iot_hub_meaning_are_refused(central, message):
    with pytest.raises(InvalidGroupFilter, match=message) as raised:
        to_hub_query(central)
    assert raised.value.field == "filter"


def test_a_group_validates_id_name_and_filter():
    group = DeviceGroup("west", "West", 'SELECT * FROM devices WHERE $template = "dtmi:a;1"').validated()
    assert group.hub_query == "SELECT * FROM devices WHERE modelId = 'dtmi:a;1'"
    with pytest.raises(InvalidField, match="id"):
        DeviceGroup("we st", "West", "SELECT * FROM devices").validated()
    with pytest.raises(InvalidField, match="displayName"):
        DeviceGroup("west", "", "SELECT * FROM devices").validated()


def test_a_group_belongs_to_at_most_one_organization():
    group = DeviceGroup("west", "West", "SELECT * FROM devices", organizations=["seattle"]).validated()
    assert group.organizations == ("seattle",)
    for organizations, field in ((["seattle", "redmond"], "organizations"), (["sea ttle"], "organizations[0]"),
                                 ("seattle", "organizations")):
        with pytest.raises(InvalidField) as refused:
            DeviceGroup("west", "West", "SELECT * FROM devices", organizations=organizations).validated()
        assert refused.value.field == field
