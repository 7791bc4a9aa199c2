"""Limits and id rules, written down once. Each says where it comes from.

Job ids: IoT Central's 2022-07-31 spec leaves `jobId` unconstrained, but `deviceGroupId` and
`scheduledJobId` are `^[a-zA-Z0-9_-]*$`, max 255. We apply that same rule to job ids (non-empty),
so every id is a safe Table Storage key and URL segment without encoding; server-made ids are
UUIDs, which fit.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

from shared.domain.errors import InvalidField

# IoT Hub device identity rules: up to 128 case-sensitive ASCII letters, digits and - . + % _ # * ? ! ( ) , : = @ $ '
DEVICE_ID_PATTERN = re.compile(r"[A-Za-z0-9\-.+%_#*?!(),:=@$']{1,128}")
JOB_ID_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,255}")
GROUP_ID_PATTERN = JOB_ID_PATTERN
# DTDL names (property, command, component): letters, digits, underscore; starts with a letter,
# does not end with an underscore; at most 64 characters.
DTDL_NAME_PATTERN = re.compile(r"[A-Za-z](?:[A-Za-z0-9_]{0,62}[A-Za-z0-9])?")
# A DTMI (`dtmi:com:example:Thermostat;1`); the version is optional as in DTDL v3.
MODEL_ID_PATTERN = re.compile(r"dtmi:[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?(?::[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?)*(?:;[1-9][0-9]{0,8})?")
# IoT Central's template ids are DTMIs or, for templates made before DTDL v2, URNs
# (`urn:1dgygpt7t:modelDefinition:02uwtefvdy`, RFC 8141's shape).
TEMPLATE_URN_PATTERN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[A-Za-z0-9()+,\-.:=@;$_!*'%/?#]+")
MAX_MODEL_ID_LENGTH = 2048

MAX_DISPLAY_NAME_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 2048
MAX_GROUP_FILTER_LENGTH = 2048  # IoT Central's UI stops at 350; IoT Hub accepts more, so do we
# IoT Hub documents no nesting limit; IoT Central's filters are a flat list of conditions, and a
# hand-written query rarely nests 5 deep. 20 leaves room and keeps a parser's recursion shallow.
MAX_GROUP_FILTER_NESTING = 20

MAX_OPERATIONS_PER_JOB = 20
MAX_PROPERTY_VALUE_BYTES = 4 * 1024  # IoT Hub: a desired/tag value, serialized
MAX_COMMAND_PAYLOAD_BYTES = 128 * 1024  # IoT Hub: direct method payload
# Keeps the job entity under Table Storage's 1 MiB (strings count twice, UTF-16) with the
# explicit device list beside it.
MAX_OPERATIONS_TOTAL_BYTES = 256 * 1024
MAX_EXPLICIT_DEVICES = 1000
MAX_IN_PROGRESS_MINUTES = 7 * 24 * 60  # a job's timeout.inProgressMinutes: a week, as AWS IoT Jobs allows
DEFAULT_ACKNOWLEDGEMENT_MINUTES = 60  # the wait for an acknowledgement of a job without a timeout
MAX_ROLLOUT_RATE_PER_MINUTE = 60_000  # a job's rolloutRate: 1,000 devices a second, beyond any hub's quota for one job

# IoT Hub direct methods: responseTimeoutInSeconds 5..300, connectTimeoutInSeconds 0..300.
DEFAULT_COMMAND_RESPONSE_TIMEOUT_SECONDS = 30
DEFAULT_COMMAND_CONNECT_TIMEOUT_SECONDS = 0
COMMAND_RESPONSE_TIMEOUT_RANGE = (5, 300)
COMMAND_CONNECT_TIMEOUT_RANGE = (0, 300)

# One entity-group transaction holds at most 100 operations: 98 device rows + the progress row
# + one spare.
MAX_TRANSACTION_OPERATIONS = 100
MAX_BATCH_SIZE = 98


def serialized_size(value: Any) -> int:
    """Bytes of the compact UTF-8 JSON form, which is what IoT Hub measures."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def require_match(pattern: re.Pattern, value: Any, field: str, rule: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise InvalidField(field, f"must be {rule}.")
    return value


def validate_device_id(value: Any, field: str = "deviceId") -> str:
    return require_match(DEVICE_ID_PATTERN, value, field,
                         "1-128 characters of A-Z a-z 0-9 - . + % _ # * ? ! ( ) , : = @ $ '")


def validate_job_id(value: Any, field: str = "id") -> str:
    return require_match(JOB_ID_PATTERN, value, field, "1-255 characters of a-z A-Z 0-9 _ -")


def validate_group_id(value: Any, field: str = "id") -> str:
    return require_match(GROUP_ID_PATTERN, value, field, "1-255 characters of a-z A-Z 0-9 _ -")


# IoT Central: a device group or a job belongs to one organization (or to the whole app).
MAX_ORGANIZATIONS = 1
ORGANIZATION_ID_PATTERN = JOB_ID_PATTERN


def validate_organizations(value: Any, field: str = "organizations") -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise InvalidField(field, "must be a list of organization ids.")
    if len(value) > MAX_ORGANIZATIONS:
        raise InvalidField(field, f"may name at most {MAX_ORGANIZATIONS} organization, as in IoT Central.")
    for index, organization in enumerate(value):
        require_match(ORGANIZATION_ID_PATTERN, organization, f"{field}[{index}]", "1-255 characters of a-z A-Z 0-9 _ -")
    return tuple(value)


# C0, DEL and C1 (Unicode's Cc): in a name or description they only hide text, break a line or
# a log entry, or start a formula in a spreadsheet. A display name is one line, so tab too; a
# description is free text, where a tab lines things up (the CSV neutralises a leading one).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
FREE_TEXT_FIELDS = frozenset({"description"})
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f-\x9f]*$"  # the same rules, as JSON Schema patterns
NO_CONTROL_CHARACTERS_BUT_TAB = r"^[^\x00-\x08\x0a-\x1f\x7f-\x9f]*$"
# A lone UTF-16 surrogate is not a character: UTF-8 (storage, IoT Hub) cannot encode it.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def validate_text(value: Any, field: str, max_length: int, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidField(field, "must be a non-empty string." if required else "must be a string.")
    if len(value) > max_length:
        raise InvalidField(field, f"must be at most {max_length} characters.")
    control = (_CONTROL_BUT_TAB if field in FREE_TEXT_FIELDS else _CONTROL).search(value)
    if control:
        raise InvalidField(field, f"must not hold control characters (U+{ord(control.group()):04X} "
                                  f"at position {control.start()}).")
    if _SURROGATE.search(value):
        raise InvalidField(field, _LONE_SURROGATE)
    return value


_LONE_SURROGATE = "holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not a character."
_NOT_FINITE = "must be a finite number; JSON has no infinity or NaN."


def json_value_problem(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first place in a parsed JSON value that cannot travel as JSON, as (JSON path, why):
    a number out of range (Python reads `1e400` as infinity) or a lone surrogate (`"\\ud800"`)
    in a string or a member name. None when there is none. Iterative, and a path is spelled out
    only for the problem found, so any depth and any length of member names is cheap."""
    pending: list[tuple[Any, tuple | None]] = [(value, None)]  # a node and its link: (parent's link, step)
    while pending:
        node, link = pending.pop()
        problem = _problem_of(node)
        if problem:
            return _path_of(path, link), problem
        if isinstance(node, dict):
            pending.extend((item, (link, f".{key}")) for key, item in reversed(node.items()))
        elif isinstance(node, list):
            pending.extend((node[index], (link, f"[{index}]")) for index in reversed(range(len(node))))
    return None


def _problem_of(node: Any) -> str | None:
    if isinstance(node, float) and not math.isfinite(node):
        return _NOT_FINITE
    if isinstance(node, str) and _SURROGATE.search(node):
        return _LONE_SURROGATE
    if isinstance(node, dict) and any(_SURROGATE.search(key) for key in node):
        return "has a member name that " + _LONE_SURROGATE
    return None


def _path_of(root: str, link: tuple | None, limit: int = 256) -> str:
    steps = []
    while link is not None:
        link, step = link
        steps.append(step)
    path = (root + "".join(reversed(steps))).removeprefix(".")
    return path if len(path) <= limit else path[:limit - 1] + "…"  # member names may be long


def validate_json_value(value: Any, field: str) -> Any:
    """InvalidField naming the JSON path under `field` of the first part of `value` that is not JSON."""
    problem = json_value_problem(value, field)
    if problem:
        raise InvalidField(*problem)
    return value

MAX_ERROR_MESSAGE_LENGTH = 1024  # per device; keeps a 98-row transaction far below 4 MiB
