"""The one codec of the opaque tokens the app hands out (a list's next page, a storage
continuation): a JSON value as URL-safe base64 without padding. Callers never read them.

Tokens are not signed: every instance of the app would need one shared key, and no setting holds
one. So a token is checked strictly in shape before anything in it is used, and what it carries
for a service (a storage marker, IoT Hub's continuation, which travels as an HTTP header) must look
like what that service issues: printable ASCII, bounded in length.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable

from shared.domain.errors import InvalidField

# IoT Hub's continuations and Table and Blob Storage markers are a few hundred characters; 4 KiB
# leaves room and keeps a nextLink well inside URL limits.
MAX_SERVICE_TOKEN_LENGTH = 4096
# Base64 of the largest JSON a token carries (a 4 KiB service token, escaped) fits with room.
MAX_OPAQUE_TOKEN_LENGTH = 12 * 1024
_SERVICE_TOKEN = re.compile(r"[\x20-\x7e]+")  # no CR, LF or other control character, nothing outside ASCII
_URL_SAFE_BASE64 = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def opaque_token(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, sort_keys=True).encode()).decode().rstrip("=")


def read_opaque_token(token: str, field: str, accepts: Callable[[object], bool]) -> object:
    """The value `token` carries, if it is one this list issued (`accepts` says which values
    those are); InvalidField naming `field` for anything else."""
    value = None
    if isinstance(token, str) and len(token) <= MAX_OPAQUE_TOKEN_LENGTH and _URL_SAFE_BASE64.fullmatch(token):
        try:
            value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (ValueError, binascii.Error, RecursionError):  # not base64, not UTF-8, not JSON, or nested absurdly
            value = None
    if value is None or not accepts(value):
        raise InvalidField(field, "is not a token this service issued.")
    return value


def is_service_token(value: object) -> bool:
    """Whether `value` has the shape of a continuation a service issues (see the module's notes)."""
    return (isinstance(value, str) and len(value) <= MAX_SERVICE_TOKEN_LENGTH
            and _SERVICE_TOKEN.fullmatch(value) is not None)
