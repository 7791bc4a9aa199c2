"""Rules for text, JSON values and filters that keep what cannot be stored, sent or shown safely
out of the domain: control characters, lone surrogates, non-finite numbers, deep nesting."""
from __future__ import annotations

import re

import pytest

from shared.domain import limits
from shared.domain.errors import InvalidField, InvalidGroupFilter
from shared.domain.groups import DeviceGroup, subset_query, to_hub_query
from shared.domain.jobs import Job
from shared.domain.operations import OperationType, validate_operations

from .conftest import NOW, make_operation

WHERE = "SELECT * FROM devices WHERE "


@pytest.mark.parametrize("text", ["a\x00b", "bell\x07", "line\nbreak", "cr\r", "esc\x1b[31m", "del\x7f",
                                  "next\x85line", "csi\x9b", "tab\tthen\x0bvertical tab", "\ud800", "x\udfffy"])
def test_control_characters_and_lone_surrogates_are_refused_in_names_and_descriptions(text):
    for field, build in (("displayName", lambda: Job.draft("j", text, "g", [make_operation()], NOW)),
                         ("description", lambda: Job.draft("j", "Fan", "g", [make_operation()], NOW, description=text)),
                         ("displayName", lambda: DeviceGroup("g", text, WHERE + "tags.a = 1").validated()),
                         ("description", lambda: DeviceGroup("g", "G", WHERE + "tags.a = 1", text).validated())):
        with pytest.raises(InvalidField) as refused:
            build()
        assert refused.value.field == field


def test_a_tab_is_kept_in_descriptions_and_refused_in_display_names():
    text = "Speed\t3\tfast\t"
    assert Job.draft("j", "Fan", "g", [make_operation()], NOW, description=text).description == text
    assert DeviceGroup("g", "G", WHERE + "tags.a = 1", text).validated().description == text
    for build in (lambda: Job.draft("j", text, "g", [make_operation()], NOW),
                  lambda: DeviceGroup("g", text, WHERE + "tags.a = 1").validated()):
        with pytest.raises(InvalidField) as refused:
            build()
        assert refused.value.field == "displayName" and "U+0009 at position 5" in refused.value.message


def test_the_json_schema_patterns_say_what_the_rules_do():
    for code in range(0x100):
        text = f"a{chr(code)}b"
        assert (re.match(limits.NO_CONTROL_CHARACTERS, text) is not None) == _accepted(text, "displayName"), code
        assert (re.match(limits.NO_CONTROL_CHARACTERS_BUT_TAB, text) is not None) == _accepted(text, "description"), code


def _accepted(text: str, field: str) -> bool:
    try:
        limits.validate_text(text, field, 10)
    except InvalidField:
        return False
    return True


def test_other_text_is_kept_as_given():
    text = "Ventilateur « rapide » 😀 — 温度, = + - @ ; ' \" \u00a0\u200b"
    assert Job.draft("j", text, "g", [make_operation()], NOW, description=text).description == text
    assert DeviceGroup("g", text, WHERE + "tags.a = 1", text).validated().display_name == text


@pytest.mark.parametrize("value, path", [
    (float("inf"), "data[0].value"), (float("-inf"), "data[0].value"), (float("nan"), "data[0].value"),
    ({"speed": float("inf")}, "data[0].value.speed"), ([1, [2, float("nan")]], "data[0].value[1][1]"),
    ("\ud800", "data[0].value"), ({"\udc00": 1}, "data[0].value"),
])
def test_an_operation_value_that_is_not_json_is_refused_naming_its_path(value, path):
    with pytest.raises(InvalidField) as refused:
        validate_operations([make_operation(value=value)])
    assert refused.value.field == path


def test_finite_numbers_and_any_depth_are_fine():
    deep: object = 1.5e308
    for _ in range(5000):
        deep = [deep]
    assert limits.json_value_problem(deep) is None
    validate_operations([make_operation(type=OperationType.COMMAND, path="reboot", value={"delay": -0.0})])


def test_a_problem_deep_inside_long_member_names_is_found_and_its_path_bounded():
    value: object = float("inf")
    for _ in range(800):
        value = {"k" * 1000: value}
    path, message = limits.json_value_problem(value, "data[0].value")
    assert path.startswith("data[0].value.kkk") and len(path) <= 256 and "finite" in message


@pytest.mark.parametrize("depth", [1, limits.MAX_GROUP_FILTER_NESTING])
def test_filters_nested_up_to_the_limit_are_accepted(depth):
    central = WHERE + "(" * depth + "tags.a = 1" + ")" * depth
    assert to_hub_query(central).count("(") == depth
    # A subset query wraps the condition in one more pair: still far below the hub's own limit.
    assert subset_query(["d1"], hub_query=to_hub_query(central)).count("(") == depth + 1


@pytest.mark.parametrize("central", [
    WHERE + "(" * (limits.MAX_GROUP_FILTER_NESTING + 1) + "tags.a = 1" + ")" * (limits.MAX_GROUP_FILTER_NESTING + 1),
    WHERE + "(" * 600 + "tags.a = 1" + ")" * 600,
    WHERE + "tags.a = 1 AND " + "(" * 21 + "tags.b = 2" + ")" * 21,
])
def test_filters_nested_deeper_are_refused_naming_filter(central):
    with pytest.raises(InvalidGroupFilter, match="nest") as refused:
        to_hub_query(central)
    assert refused.value.field == "filter"


def test_parentheses_inside_string_literals_do_not_count():
    central = WHERE + "tags.note = '" + "(" * 50 + "' OR tags.other = \"" + ")(" * 50 + '"'
    assert to_hub_query(central).startswith(WHERE)
