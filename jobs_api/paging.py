"""IoT Central paging, for every list the API serves: {"value": [...], "nextLink": "<full URL>"},
the next page named by an opaque `$skiptoken` in the link; a page size by `$top` or `maxpagesize`.

A `$skiptoken` is checked in full before it is used (shared/tokens.py): a token that is not one
this list issues is 400 at once, never passed on to storage or IoT Hub.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jobs_api.errors import bad_request
from shared.domain.errors import InvalidField
from shared.tokens import is_service_token, opaque_token, read_opaque_token

SKIP_TOKEN = "$skiptoken"
PAGE_SIZE_PARAMS = ("maxpagesize", "$top")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# ASCII digits only: str.isdigit and int() also take "²" and the digits of other scripts.
_WHOLE_NUMBER = re.compile(r"0*[0-9]{1,4}")


def decode_token(token: str | None, accepts: Callable[[object], bool]) -> object:
    """The continuation a nextLink carries (None on the first page); `accepts` says what this
    list puts there (an offset, a service's continuation)."""
    if not token:
        return None
    try:
        return read_opaque_token(token, SKIP_TOKEN, accepts)
    except InvalidField:
        raise bad_request("The $skiptoken is not valid; use the nextLink of the previous page.", SKIP_TOKEN) from None


def is_offset(value: object) -> bool:
    # The first page has no token, so an offset we issue is at least 1.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def is_text(value: object) -> bool:
    """A storage or IoT Hub continuation, as those services issue them."""
    return is_service_token(value)


def page_size(params: Mapping[str, str]) -> int:
    """`$top` (IoT Central 2022-07-31 examples) or `maxpagesize` (later previews)."""
    for name in PAGE_SIZE_PARAMS:
        raw = params.get(name)
        if raw is not None:
            if not _WHOLE_NUMBER.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
                raise bad_request(f"{name} must be a whole number from 1 to {MAX_PAGE_SIZE}.", name)
            return int(raw)
    return DEFAULT_PAGE_SIZE


def page(items: list, continuation: object, request_url: str) -> dict:
    body = {"value": items}
    if continuation:
        body["nextLink"] = next_link(request_url, continuation)
    elif not items and _requested_offset(request_url):
        # We link only to a page that has items, so an offset past the end was made up, or the list
        # shrank since. Either way positions moved and items may have been skipped: start again,
        # rather than an empty page that reads as the end of the list.
        raise bad_request("The $skiptoken points past the end of the list, which has changed; "
                          "start again from the first page.", SKIP_TOKEN)
    return body


def next_link(request_url: str, continuation: object) -> str:
    """The request's own URL with its `$skiptoken` (if any) replaced by the next page's."""
    parts = urlsplit(request_url)
    # Each parameter once (a client may have repeated api-version), the token last.
    query = {key: value for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != SKIP_TOKEN}
    query[SKIP_TOKEN] = opaque_token(continuation)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _requested_offset(request_url: str) -> bool:
    """Whether the request's `$skiptoken` names an offset (the lists paged by position)."""
    tokens = [value for key, value in parse_qsl(urlsplit(request_url).query) if key == SKIP_TOKEN]
    return any(_is_offset_token(token) for token in tokens)


def _is_offset_token(token: str) -> bool:
    try:
        read_opaque_token(token, SKIP_TOKEN, is_offset)
    except InvalidField:
        return False
    return True
