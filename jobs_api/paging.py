"""IoT Central paging: {"value": [...], "nextLink": "<full URL>"}; the token is opaque to callers."""
from __future__ import annotations

from jobs_api.errors import bad_request
from shared.paging import (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, SKIP_TOKEN, from_opaque_token, opaque_token,
                           with_skip_token)


def encode_token(continuation: object) -> str:
    return opaque_token(continuation)


def decode_token(token: str | None, kind: type = object) -> object:
    """The continuation a nextLink carries; `kind` is what this list puts there (an offset, a token)."""
    if not token:
        return None
    try:
        decoded = from_opaque_token(token)
    except ValueError:
        decoded = None
    if not isinstance(decoded, kind) or isinstance(decoded, bool) or (isinstance(decoded, int) and decoded < 0):
        raise bad_request("The $skiptoken is not valid; use the nextLink of the previous page.", SKIP_TOKEN)
    return decoded


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
        body["nextLink"] = with_skip_token(request_url, encode_token(continuation))
    return body

