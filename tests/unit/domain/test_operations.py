import pytest

from shared.domain.errors import InvalidField
from shared.domain.limits import (MAX_COMMAND_PAYLOAD_BYTES, MAX_OPERATIONS_TOTAL_BYTES, MAX_PROPERTY_VALUE_BYTES,
                                  serialized_size)
from shared.domain.operations import (OperationType, commands, desired_properties_patch, parse_operation_type,
                                      tags_patch, validate_operations)
from tests.unit.domain.conftest import make_operation

COMMAND = OperationType.COMMAND


@pytest.mark.parametrize(("given", "expected"), [
    ("property", OperationType.PROPERTY), ("cloudProperty", OperationType.CLOUD_PROPERTY), ("command", COMMAND),
    ("PropertyJobData", OperationType.PROPERTY), ("CloudPropertyJobData", OperationType.CLOUD_PROPERTY),
    ("CommandJobData", COMMAND)])
def test_spec_names_and_documentation_class_names_are_accepted(given, expected):
    assert parse_operation_type(given) is expected


@pytest.mark.parametrize("given", ["deviceTemplateMigration", "Property", "", None, 3])
def test_other_types_are_refused(given):
    with pytest.raises(InvalidField):
        parse_operation_type(given)


def test_a_component_path_names_component_and_member():
    operation = make_operation(type=COMMAND, path="thermostat.reboot")
    assert (operation.component, operation.name, operation.method_name) == ("thermostat", "reboot", "thermostat*reboot")
    plain = make_operation(type=COMMAND, path="reboot")
    assert (plain.component, plain.name, plain.method_name) == (None, "reboot", "reboot")


@pytest.mark.parametrize("path", ["", "a.b.c", "1abc", "a-b", "a.", ".a", "x" * 65, "name_", "a b"])
def test_bad_paths_are_refused(path):
    with pytest.raises(InvalidField) as raised:
        make_operation(path=path).validated("data[2]")
    assert raised.value.field == "data[2].path"


def test_value_size_limits_follow_iot_hub():
    fits = "x" * (MAX_PROPERTY_VALUE_BYTES - 2)  # the JSON quotes count
    assert serialized_size(fits) == MAX_PROPERTY_VALUE_BYTES
    make_operation(value=fits).validated()
    with pytest.raises(InvalidField) as raised:
        make_operation(value=fits + "x").validated()
    assert raised.value.field == "data[0].value"
    make_operation(type=COMMAND, value={"blob": "x" * (MAX_COMMAND_PAYLOAD_BYTES - 11)}).validated()
    with pytest.raises(InvalidField):
        make_operation(type=COMMAND, value={"blob": "x" * (MAX_COMMAND_PAYLOAD_BYTES - 10)}).validated()


def test_sizes_count_utf8_bytes_not_characters():
    assert serialized_size("é") == 4


def test_the_operations_of_one_job_have_a_total_budget():
    big = make_operation(type=COMMAND, value="x" * (MAX_COMMAND_PAYLOAD_BYTES - 2))
    validate_operations([big, big])
    with pytest.raises(InvalidField) as raised:
        validate_operations([big, big, make_operation()])
    assert raised.value.field == "data" and MAX_OPERATIONS_TOTAL_BYTES == 2 * MAX_COMMAND_PAYLOAD_BYTES


@pytest.mark.parametrize(("target", "valid"), [
    ("dtmi:com:example:Thermostat;1", True), ("dtmi:contoso:vending;12", True), ("dtmi:a:b", True),
    # IoT Central's own "create a job" example uses a URN template id.
    ("urn:1dgygpt7t:modelDefinition:02uwtefvdy", True), ("urn:x", False), ("urn:a:b c", False),
    ("urn::x", False), ("dtmi:1bad;1", False), ("dtmi:a;0", False), ("", False)])
def test_target_must_be_a_template_id(target, valid):
    operation = make_operation(target=target)
    if valid:
        operation.validated()
    else:
        with pytest.raises(InvalidField, match="target"):
            operation.validated()


def test_command_timeouts_default_and_are_bounded():
    command = make_operation(type=COMMAND, path="reboot")
    assert (command.effective_response_timeout, command.effective_connect_timeout) == (30, 0)
    make_operation(type=COMMAND, response_timeout_seconds=300, connect_timeout_seconds=0).validated()
    for bad in ({"response_timeout_seconds": 4}, {"response_timeout_seconds": 301},
                {"connect_timeout_seconds": -1}, {"connect_timeout_seconds": True}):
        with pytest.raises(InvalidField, match="Timeout"):
            make_operation(type=COMMAND, **bad).validated()
    with pytest.raises(InvalidField, match="commands only"):
        make_operation(response_timeout_seconds=30).validated()


def test_property_operations_become_one_desired_patch_with_component_markers():
    operations = [make_operation(path="fanSpeed", value=3), make_operation(path="thermostat.target", value=21),
                  make_operation(type=OperationType.CLOUD_PROPERTY, path="region", value="west"),
                  make_operation(path="thermostat.mode", value="eco"), make_operation(path="fanSpeed", value=4),
                  make_operation(type=COMMAND, path="reboot")]
    assert desired_properties_patch(operations) == {
        "fanSpeed": 4, "thermostat": {"__t": "c", "target": 21, "mode": "eco"}}
    assert tags_patch(operations) == {"region": "west"}
    assert [operation.path for operation in commands(operations)] == ["reboot"]


def test_dotted_cloud_properties_are_nested_tags_and_empty_patches_are_empty():
    assert tags_patch([make_operation(type=OperationType.CLOUD_PROPERTY, path="site.floor", value=2)]) == {
        "site": {"floor": 2}}
    assert desired_properties_patch([make_operation(type=COMMAND)]) == {}


def test_a_path_cannot_be_both_a_property_and_a_component():
    with pytest.raises(InvalidField, match="thermostat"):
        validate_operations([make_operation(path="thermostat"), make_operation(path="thermostat.target")])
    validate_operations([make_operation(path="thermostat"), make_operation(type=COMMAND, path="thermostat.reset")])
