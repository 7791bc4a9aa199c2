"""Limits and id rules, written down once. Each says where it comes from.

Job ids: IoT Central's 2022-07-31 spec leaves `jobId` unconstrained, but `deviceGroupId` and
`scheduledJobId` are `^[a-zA-Z0-9_-]*$`, max 255. We apply that same rule to job ids (non-empty),
so every id is a safe Table Storage key and URL segment without encoding; server-made ids are
UUIDs, which fit.
"""
from __future__ import annotations

import json
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
MAX_MODEL_ID_LENGTH = 2048

MAX_DISPLAY_NAME_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 2048
MAX_GROUP_FILTER_LENGTH = 2048  # IoT Central's UI stops at 350; IoT Hub accepts more, so do we

MAX_OPERATIONS_PER_JOB = 20
MAX_PROPERTY_VALUE_BYTES = 4 * 1024  # IoT Hub: a desired/tag value, serialized
MAX_COMMAND_PAYLOAD_BYTES = 128 * 1024  # IoT Hub: direct method payload
# Keeps the job entity under Table Storage's 1 MiB (strings count twice, UTF-16) with the
# explicit device list beside it.
MAX_OPERATIONS_TOTAL_BYTES = 256 * 1024
MAX_EXPLICIT_DEVICES = 1000

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


def validate_text(value: Any, field: str, max_length: int, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidField(field, "must be a non-empty string." if required else "must be a string.")
    if len(value) > max_length:
        raise InvalidField(field, f"must be at most {max_length} characters.")
    return value

MAX_ERROR_MESSAGE_LENGTH = 1024  # per device; keeps a 98-row transaction far below 4 MiB
