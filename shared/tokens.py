"""The one codec of the opaque tokens the app hands out (a list's next page, a storage
continuation): a JSON value as URL-safe base64 without padding. Callers never read them."""
from __future__ import annotations

import base64
import json
from collections.abc import Callable

from shared.domain.errors import InvalidField


def opaque_token(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, sort_keys=True).encode()).decode().rstrip("=")


def read_opaque_token(token: str, field: str, accepts: Callable[[object], bool]) -> object:
    """The value `token` carries, if it is one this list issued (`accepts` says which values
    those are); InvalidField naming `field` for anything else."""
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:  # not base64, not UTF-8 or not JSON
        value = None
    if value is None or not accepts(value):
        raise InvalidField(field, "is not a token this service issued.")
    return value
