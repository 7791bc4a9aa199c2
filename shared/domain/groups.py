"""Device groups: a saved IoT Hub twin query, written in IoT Central's filter dialect."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.domain import limits
from shared.domain.errors import InvalidGroupFilter

# IoT Central system fields with an IoT Hub twin equivalent.
SYSTEM_FIELDS = {"$id": "deviceId", "$template": "modelId"}
# IoT Central's boolean system fields, with the value every device of an IoT Hub has: a device in
# the hub's registry is provisioned (IoT Central counts a device provisioned once it is in the
# hub), and none is simulated (IoT Central's simulated devices never reach a hub of one's own).
# `$provisioned = true` therefore selects every device and `$simulated = true` none.
CONSTANT_SYSTEM_FIELDS = {"$provisioned": True, "$simulated": False}
_ALWAYS, _NEVER = "IS_DEFINED(deviceId)", "NOT IS_DEFINED(deviceId)"
# IoT Central system fields IoT Hub has no equivalent for.
UNSUPPORTED_SYSTEM_FIELDS = ("$displayName", "$organizations", "$ts")

_FILTER_SHAPE = re.compile(r"\s*SELECT\s+\*\s+FROM\s+devices\b", re.IGNORECASE)
# A string literal in single or double quotes (a doubled or backslashed quote stays inside), or
# a bare `$name` that is not a member (`properties.desired.$version` is left alone).
_TOKEN = re.compile(r"""'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|"""
                    r"""(?<![\w.$])(?P<constant>\$(?:provisioned|simulated))\s*(?P<op>=|!=|<>)\s*"""
                    r"""(?P<literal>true|false)\b|(?<![\w.$])\$[A-Za-z_]\w*""", re.IGNORECASE)
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.|'')*'" + r'|"(?:[^"\\]|\\.|"")*"')


@dataclass
class DeviceGroup:
    id: str
    display_name: str
    filter: str
    description: str | None = None
    organizations: tuple[str, ...] | None = None  # IoT Central's field: at most one; recorded, not a filter
    etag: str | None = field(default=None, compare=False)

    def validated(self) -> "DeviceGroup":
        limits.validate_group_id(self.id)
        limits.validate_text(self.display_name, "displayName", limits.MAX_DISPLAY_NAME_LENGTH, required=True)
        limits.validate_text(self.description, "description", limits.MAX_DESCRIPTION_LENGTH)
        self.organizations = limits.validate_organizations(self.organizations)
        to_hub_query(self.filter)
        return self

    @property
    def hub_query(self) -> str:
        return to_hub_query(self.filter)


# Device ids per `deviceId IN [...]` query: with 128-character ids far below IoT Hub's 8 KB
# query text, and the answer fits in one page (100).
SUBSET_CHUNK = 50
_WHERE = re.compile(r"\bWHERE\b", re.IGNORECASE)


def subset_query(device_ids: list[str], fields: str = "*", hub_query: str | None = None) -> str:
    """The query for these devices (at most SUBSET_CHUNK), answering `fields` of each twin; with
    `hub_query`, only those of them that its condition also matches."""
    if len(device_ids) > SUBSET_CHUNK:
        raise ValueError(f"{len(device_ids)} device ids; one subset query names at most {SUBSET_CHUNK}")
    listed = "deviceId IN [" + ", ".join(_quoted_device_id(device_id) for device_id in device_ids) + "]"
    parts = _WHERE.split(hub_query, maxsplit=1) if hub_query else []
    condition = parts[1].strip() if len(parts) == 2 else ""
    return f"SELECT {fields} FROM devices WHERE " + (f"({condition}) AND {listed}" if condition else listed)


def _quoted_device_id(device_id: str) -> str:
    """A device id as an IoT Hub query string literal (an id may hold an apostrophe; the query
    language escapes it with a backslash)."""
    return "'" + device_id.replace("\\", "\\\\").replace("'", "\\'") + "'"


def selecting(hub_query: str, fields: str) -> str:
    """The same query answering only `fields` of each twin instead of the whole twin."""
    return _FILTER_SHAPE.sub(f"SELECT {fields} FROM devices", hub_query, count=1)


def to_hub_query(central_filter: object) -> str:
    """IoT Central's group filter → an IoT Hub twin query. Raises InvalidGroupFilter."""
    if not isinstance(central_filter, str) or not central_filter.strip():
        raise InvalidGroupFilter("must be a non-empty string.")
    if len(central_filter) > limits.MAX_GROUP_FILTER_LENGTH:
        raise InvalidGroupFilter(f"must be at most {limits.MAX_GROUP_FILTER_LENGTH} characters.")
    if not _FILTER_SHAPE.match(central_filter):
        raise InvalidGroupFilter("must start with `SELECT * FROM devices`.")
    if central_filter.count('"') % 2 or _unbalanced_single_quotes(central_filter):
        raise InvalidGroupFilter("has an unterminated string.")
    if _nesting_depth(central_filter) > limits.MAX_GROUP_FILTER_NESTING:
        raise InvalidGroupFilter(f"must not nest parentheses more than {limits.MAX_GROUP_FILTER_NESTING} deep.")
    return _TOKEN.sub(_translate_token, central_filter.strip())


def _translate_token(match: re.Match) -> str:
    token = match.group(0)
    if token.startswith('"'):
        return _single_quoted(token[1:-1].replace('""', '"'))
    if token.startswith("'"):
        return token
    if match.group("constant"):
        value = CONSTANT_SYSTEM_FIELDS[match.group("constant").lower()]
        equal = value == (match.group("literal").lower() == "true")
        return _ALWAYS if equal == (match.group("op") == "=") else _NEVER
    if token in SYSTEM_FIELDS:
        return SYSTEM_FIELDS[token]
    if token in CONSTANT_SYSTEM_FIELDS:
        raise InvalidGroupFilter(f"{token} is understood only as `{token} = true` or `{token} = false`.")
    if token in UNSUPPORTED_SYSTEM_FIELDS:
        raise InvalidGroupFilter(f"{token} has no IoT Hub equivalent; use $id, $template or twin fields.")
    raise InvalidGroupFilter(f"unknown system field {token}.")


def _single_quoted(text: str) -> str:
    # IoT Hub's query language escapes a quote inside a string with a backslash.
    return "'" + text.replace("\\\"", "\"").replace("'", "\\'") + "'"


def _nesting_depth(text: str) -> int:
    """How deep parentheses nest outside string literals (unbalanced ones are IoT Hub's to refuse)."""
    deepest = depth = 0
    for char in _STRING_LITERAL.sub("", text):
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(depth - 1, 0)
    return deepest


def _unbalanced_single_quotes(text: str) -> bool:
    outside_double = re.sub(r'"(?:[^"\\]|\\.|"")*"', "", text)
    return bool(re.search(r"'", re.sub(r"'(?:[^'\\]|\\.|'')*'", "", outside_double)))
