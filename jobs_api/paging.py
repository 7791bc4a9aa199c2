"""IoT Central paging, for every list the API serves: {"value": [...], "nextLink": "<full URL>"},
the next page named by an opaque `$skiptoken` in the link; a page size by `$top` or `maxpagesize`."""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jobs_api.errors import bad_request
from shared.domain.errors import InvalidField
from shared.tokens import opaque_token, read_opaque_token

SKIP_TOKEN = "$skiptoken"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def decode_token(token: str | None, accepts: Callable[[object], bool]) -> object:
    """The continuation a nextLink carries (None on the first page); `accepts` says what this
    list puts there (an offset, a storage token)."""
    if not token:
        return None
    try:
        return read_opaque_token(token, SKIP_TOKEN, accepts)
    except InvalidField:
        raise bad_request("The $skiptoken is not valid; use the nextLink of the previous page.", SKIP_TOKEN) from None


def is_offset(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_text(value: object) -> bool:
    return isinstance(value, str)


def page_size(params: dict[str, str]) -> int:
    """`$top` (IoT Central 2022-07-31 examples) or `maxpagesize` (later previews)."""
    raw = params.get("maxpagesize") or params.get("$top")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise bad_request(f"Page size must be a whole number from 1 to {MAX_PAGE_SIZE}.", "maxpagesize")
    return int(raw)


def page(items: list, continuation: object, request_url: str) -> dict:
    body = {"value": items}
    if continuation:
        body["nextLink"] = next_link(request_url, continuation)
    return body


def next_link(request_url: str, continuation: object) -> str:
    """The request's own URL with its `$skiptoken` (if any) replaced by the next page's."""
    parts = urlsplit(request_url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != SKIP_TOKEN]
    return urlunsplit(parts._replace(query=urlencode(query + [(SKIP_TOKEN, opaque_token(continuation))])))
