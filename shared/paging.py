"""IoT Central's paging terms, shared by every list the API serves: `$skiptoken` in `nextLink`."""
from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SKIP_TOKEN = "$skiptoken"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def with_skip_token(url: str, token: str) -> str:
    """`url` with its `$skiptoken` (if any) replaced by `token`: the next page's link."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != SKIP_TOKEN]
    return urlunsplit(parts._replace(query=urlencode(query + [(SKIP_TOKEN, token)])))


def opaque_token(value: object) -> str:
    """A JSON value as a URL-safe token (base64 without padding), for a nextLink."""
    return base64.urlsafe_b64encode(json.dumps(value, sort_keys=True).encode()).decode().rstrip("=")


def from_opaque_token(token: str) -> object:
    """The value an opaque_token carries; ValueError when the text is not one."""
    return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
