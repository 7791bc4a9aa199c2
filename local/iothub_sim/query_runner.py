"""Runs a parsed query over the registry: path lookups into twins, paging and continuation tokens.

Pages are ordered by device id and a continuation token names the last id served, so paging
stays consistent while devices are added or removed between pages.
"""
from __future__ import annotations

import base64
import binascii
import bisect
import json
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ArgumentInvalid
from .models import Device
from .query import UNDEFINED, Query, parse_query

if TYPE_CHECKING:
    from .backend import HubBackend

DEFAULT_PAGE = 100
MAX_PAGE = 100


@dataclass(frozen=True)
class QueryPage:
    items: list
    item_type: str  # "twin" for SELECT *, "raw" for projections and aggregates
    continuation: str | None


def run_query(backend: "HubBackend", text: str, max_items: int | None, continuation: str | None) -> QueryPage:
    if not isinstance(text, str) or not text.strip():
        raise ArgumentInvalid("The query is empty")
    query = parse_query(text)
    if query.is_aggregate:
        matching = [twin_lookup(backend.devices[i]) for i in backend.sorted_ids()]
        rows = query.aggregate([lookup for lookup in matching if query.matches(lookup)])
        return QueryPage(rows, "raw", None)
    return _page(backend, query, _page_size(max_items), _decode_token(continuation, text))


def _page_size(max_items: int | None) -> int:
    if max_items is None:
        return DEFAULT_PAGE
    return max(1, min(MAX_PAGE, max_items))


def _page(backend: "HubBackend", query: Query, size: int, position: tuple[str | None, int]) -> QueryPage:
    after, served = position
    remaining = size if query.top is None else min(size, query.top - served)
    ids = backend.sorted_ids()
    start = 0 if after is None else bisect.bisect_right(ids, after)
    rows, last_id, more = [], None, False
    for device_id in ids[start:]:
        device = backend.devices[device_id]
        lookup = twin_lookup(device)
        if not query.matches(lookup):
            continue
        if len(rows) >= remaining:
            more = query.top is None or served + len(rows) < query.top
            break
        rows.append(device.to_twin_dict() if query.is_star else query.project(lookup))
        last_id = device_id
    token = _encode_token(query.text, last_id, served + len(rows)) if more else None
    return QueryPage(rows, "twin" if query.is_star else "raw", token)


def _encode_token(text: str, last_id: str, served: int) -> str:
    state = {"q": zlib.crc32(text.encode()), "after": last_id, "served": served}
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _decode_token(token: str | None, text: str) -> tuple[str | None, int]:
    if not token:
        return None, 0
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        if state["q"] != zlib.crc32(text.encode()):
            raise ValueError("token belongs to another query")
        return str(state["after"]), int(state["served"])
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise ArgumentInvalid(f"Invalid continuation token: {error}") from None


ROOT_FIELDS = {
    "deviceId": lambda d: d.device_id,
    "status": lambda d: d.status,
    "statusReason": lambda d: d.status_reason,
    "connectionState": lambda d: d.connection_state,
    "modelId": lambda d: d.model_id,
    "version": lambda d: d.twin.version,
    "etag": lambda d: d.twin.etag,
    "lastActivityTime": lambda d: d.last_activity_time,
    "authenticationType": lambda d: d.auth_type,
    "capabilities": lambda d: {"iotEdge": d.iot_edge},
}


def twin_lookup(device: Device):
    """`lookup(path)` over a device's twin without rendering the whole twin document."""
    def lookup(path: tuple):
        head = path[0]
        if head == "tags":
            return _descend(device.twin.tags, path[1:])
        if head == "properties":
            return _property(device, path[1:])
        getter = ROOT_FIELDS.get(head)
        return UNDEFINED if getter is None else _descend(getter(device), path[1:])
    return lookup


def _property(device: Device, path: tuple):
    if not path or path[0] not in ("desired", "reported"):
        return UNDEFINED
    section = device.twin.desired if path[0] == "desired" else device.twin.reported
    if len(path) > 1 and path[1] == "$version":
        return section.version if len(path) == 2 else UNDEFINED
    if len(path) > 1 and path[1] == "$metadata":
        return _descend(section.metadata, path[2:])
    return _descend(section.values, path[1:])


def _descend(node, path: tuple):
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return UNDEFINED
        node = node[key]
    return node
