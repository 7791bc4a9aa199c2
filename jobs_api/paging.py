"""IoT Central paging, for every list the API serves: {"value": [...], "nextLink": "<full URL>"},
the next page named by an opaque `$skiptoken` in the link; a page size by `$top` or `maxpagesize`.

A `$skiptoken` is checked in full before it is used (shared/tokens.py): a token that is not one
this list issues is 400 at once, never passed on to storage or IoT Hub.

Lists the app holds in memory (jobs, device groups) are paged by key, not by position: the token
names the sort key of the last item given, and the next page starts after it. A walk through
every nextLink then sees each item that existed when it started exactly once, even while items
are added, deleted or change state meanwhile (by position, one deleted item would make the walk
skip another, one added would repeat one).
"""
from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
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


Key = tuple  # of str and int: an item's place in a list paged by key
MAX_KEY_PARTS, MAX_KEY_TEXT = 4, 1024


def is_position(value: object) -> bool:
    """A key this service puts in a token: `{"after": [part, ...]}`, each part a short string or an integer."""
    if not (isinstance(value, dict) and set(value) == {"after"} and isinstance(value["after"], list)):
        return False
    parts = value["after"]
    return 1 <= len(parts) <= MAX_KEY_PARTS and all(
        (isinstance(part, str) and len(part) <= MAX_KEY_TEXT) or (isinstance(part, int) and not isinstance(part, bool))
        for part in parts)


def page_by_key(items: Sequence, key: Callable[[object], Key], size: int, position: object) -> tuple[list, dict | None]:
    """The page of `items` (sorted by `key`) after the token's `position` (None: the first page),
    and the position the next page starts after (None on the last page)."""
    keys = [key(item) for item in items]
    start = 0
    if position is not None:
        after = tuple(position["after"])
        if keys and [type(part) for part in after] != [type(part) for part in keys[0]]:
            raise bad_request("The $skiptoken is not valid; use the nextLink of the previous page.", SKIP_TOKEN)
        start = bisect_right(keys, after)
    chunk = list(items[start:start + size])
    following = {"after": list(keys[start + size - 1])} if start + size < len(items) else None
    return chunk, following


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
    elif not items and _requested_position(request_url):
        # We link only to a page that has items, so a key past the end was made up, or the items
        # after it were deleted since: start again, rather than an empty page that reads as the
        # end of a list that may have more.
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


def _requested_position(request_url: str) -> bool:
    """Whether the request's `$skiptoken` names a key (the lists paged by key)."""
    tokens = [value for key, value in parse_qsl(urlsplit(request_url).query) if key == SKIP_TOKEN]
    return any(_is_position_token(token) for token in tokens)


def _is_position_token(token: str) -> bool:
    try:
        read_opaque_token(token, SKIP_TOKEN, is_position)
    except InvalidField:
        return False
    return True
