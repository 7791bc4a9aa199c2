"""IoT Hub's rules for twin content and identities: keys, values, depth, sizes, ids, method names."""
from __future__ import annotations

import json
import re

from .errors import ArgumentInvalid
from .models import copy_json, merge_patch

MAX_KEY_BYTES = 1024
MAX_STRING_BYTES = 4096
MAX_DEPTH = 10
MAX_INTEGER = 4503599627370495
MIN_INTEGER = -4503599627370496
TAGS_LIMIT_BYTES = 8 * 1024
PROPERTIES_LIMIT_BYTES = 32 * 1024
READ_ONLY_DESIRED_KEYS = ("$metadata", "$version")

DEVICE_ID = re.compile(r"^[A-Za-z0-9\-.+%_#*?!(),:=@$']{1,128}$")
METHOD_NAME_FORBIDDEN = set('$()<>@,;:\\"/[]?={} \t')


def check_device_id(device_id: str) -> None:
    if not DEVICE_ID.match(device_id):
        raise ArgumentInvalid(f"Device id '{device_id}' is invalid: up to 128 letters, digits or - . + % _ # * ? ! ( ) , : = @ $ '")


def check_method_name(name) -> None:
    if not isinstance(name, str) or not name or any(c in METHOD_NAME_FORBIDDEN or not 32 < ord(c) < 127 for c in name):
        raise ArgumentInvalid(f"Invalid method name {name!r}")


def desired_patch_of(body: dict) -> dict | None:
    """The desired section of a twin body, without the read-only `$metadata`/`$version` a fetched twin carries."""
    properties = body.get("properties")
    desired = properties.get("desired") if isinstance(properties, dict) else None
    if desired is None:
        return None
    if not isinstance(desired, dict):
        raise ArgumentInvalid("properties.desired must be a JSON object")
    return {k: v for k, v in desired.items() if k not in READ_ONLY_DESIRED_KEYS}


def tags_of(body: dict) -> dict | None:
    tags = body.get("tags")
    if tags is not None and not isinstance(tags, dict):
        raise ArgumentInvalid("tags must be a JSON object")
    return tags


def merged_within_limits(current: dict, patch: dict, section: str, replace: bool = False) -> dict:
    """The section after the patch (or replacement), checked against IoT Hub's content rules."""
    check_content(patch, section, depth=1)
    candidate = copy_json(patch) if replace else copy_json(current)
    if not replace:
        merge_patch(candidate, patch)
    limit = TAGS_LIMIT_BYTES if section == "tags" else PROPERTIES_LIMIT_BYTES
    if len(json.dumps(candidate, separators=(",", ":")).encode()) > limit:
        raise ArgumentInvalid(f"{section} would exceed the {limit // 1024} KB size limit")
    return candidate


def check_content(node: dict, section: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ArgumentInvalid(f"{section} is nested deeper than {MAX_DEPTH} levels")
    for key, value in node.items():
        _check_key(key, section)
        _check_value(value, section, depth)


def _check_key(key: str, section: str) -> None:
    if not key or len(key.encode()) > MAX_KEY_BYTES or any(c in ".$ " or ord(c) < 32 for c in key):
        raise ArgumentInvalid(f"Invalid key {key!r} in {section}: no '.', '$', space or control characters, at most 1 KB")


def _check_value(value, section: str, depth: int) -> None:
    if isinstance(value, dict):
        check_content(value, section, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_value(item, section, depth + 1)
    elif isinstance(value, str) and len(value.encode()) > MAX_STRING_BYTES:
        raise ArgumentInvalid(f"A string value in {section} is longer than 4 KB")
    elif isinstance(value, int) and not isinstance(value, bool) and not MIN_INTEGER <= value <= MAX_INTEGER:
        raise ArgumentInvalid(f"An integer value in {section} is out of IoT Hub's range")
