"""Device id ⇄ RowKey: a reversible encoding that keeps the order of ids.

IoT Hub device ids may hold `#` and `?`, which Table Storage forbids in keys, and `%` and `'`,
which are legal but have broken point operations in Azure (percent) and in SDKs and Azurite
(apostrophe). Each is replaced by characters that no device id can contain and that sort in
the same place:

    #  (0x23) → "   (0x22, between ! and $)
    ?  (0x3F) → >   (0x3E, between = and @)
    %  (0x25) → &   (0x26, between $ and ')
    '  (0x27) → &~  (after every `&x` a % can become, before `(`)

Every other character maps to itself, so a < b ⇔ encode(a) < encode(b): a batch of
consecutive ids is a range of consecutive row keys, and the `~progress` row sorts after all
device rows (no encoded key starts with `~`).
"""
from __future__ import annotations

import re

from shared.domain.limits import validate_device_id

PROGRESS_ROW_KEY = "~progress"
DEVICE_KEYS_END = "~"  # every device row key sorts below it
BATCH_KEYS_END = "~batch~~"  # every rollout batch's row key sorts below it (and above the device rows)


def batch_row_key(index: int) -> str:
    """A rollout batch's row: zero-padded, so the rows sort in index order (-1 sorts before them all)."""
    return f"~batch~{index:06d}" if index >= 0 else "~batch~"

_ENCODE = str.maketrans({"#": '"', "?": ">", "%": "&", "'": "&~"})
_ENCODED_TOKEN = re.compile(r'&~|[&">]')
_DECODE = {'"': "#", ">": "?", "&": "%", "&~": "'"}


def device_row_key(device_id: str) -> str:
    validate_device_id(device_id)
    return device_id.translate(_ENCODE)


def device_id_from_row_key(row_key: str) -> str:
    return _ENCODED_TOKEN.sub(lambda match: _DECODE[match.group(0)], row_key)
