"""Table creation and the small pieces every repository shares."""
from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from typing import TypeVar

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient, TableTransactionError

from shared.domain.errors import ConcurrencyConflict
from shared.tokens import is_service_token, opaque_token, read_opaque_token
from shared.storage_names import TABLES

T = TypeVar("T")

# A string property holds at most 64 KiB, counted in UTF-16; 16,000 characters fit even when
# every one of them is outside the BMP.
_TEXT_CHUNK = 16_000


def ensure_tables(service: TableServiceClient, names: Iterable[str] = TABLES) -> None:
    """Create the app's tables if missing. Idempotent; call once per process."""
    for name in names:
        try:
            service.create_table_if_not_exists(name)
        except ResourceExistsError:
            pass  # created concurrently by another instance


# Writers that race for one entity (the API, planners, collectors, schedulers): each lost race is
# another writer's success, so a few attempts always suffice; this many means something is wrong.
CHANGE_ATTEMPTS = 10


def change_with_retries(read: Callable[[], T], write: Callable[[T], T], decide: Callable[[T], T | None],
                        if_match: str | None, conflict: Callable[[], Exception]) -> tuple[T, T]:
    """The read-decide-write loop of the ETag-conditioned stores: read the entity, let `decide`
    change a copy (or return what it becomes), write it with the read's ETag; (before, after).

    What `decide` leaves as it was is not written. A lost race means another writer moved the
    entity meanwhile: read it again and decide again. With `if_match` (not `*`) the caller decided
    on that version, so an entity that is no longer it is the caller's `conflict()`, at once."""
    if_match = None if if_match == "*" else if_match  # any version: no precondition to lose
    for _ in range(1 if if_match else CHANGE_ATTEMPTS):
        before = read()
        if if_match and before.etag != if_match:
            raise conflict()
        after = copy.deepcopy(before)
        after = decide(after) or after
        if after == before:
            return before, before
        after.etag = before.etag
        try:
            return before, write(after)
        except ConcurrencyConflict:
            continue
    raise conflict()


def delete_rows(table, rows: list[dict]) -> int:
    """Delete rows of one partition (at most 100) in one transaction; if another writer took some
    meanwhile, the rest one by one. Returns how many were asked for."""
    try:
        table.submit_transaction([("delete", row) for row in rows])
    except TableTransactionError:
        for row in rows:
            table.delete_entity(row["PartitionKey"], row["RowKey"])
    return len(rows)


def split_json(name: str, value: object) -> dict[str, object]:
    """A JSON value as properties `name0`, `name1`, … (one when small) plus `nameParts`."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    parts = [text[start:start + _TEXT_CHUNK] for start in range(0, len(text), _TEXT_CHUNK)] or [""]
    columns: dict[str, object] = {f"{name}{index}": part for index, part in enumerate(parts)}
    columns[f"{name}Parts"] = len(parts)
    return columns


def join_json(entity: dict, name: str) -> object:
    parts = entity.get(f"{name}Parts")
    if parts is None:
        return None
    return json.loads("".join(entity[f"{name}{index}"] for index in range(parts)))


def encode_continuation(token: dict | None) -> str | None:
    """The SDK's continuation (a dict of keys) as one URL-safe opaque string."""
    if not token:
        return None
    return opaque_token(token)


def decode_continuation(token: str | None) -> dict | None:
    """The SDK's continuation back from `encode_continuation`; InvalidField for anything else."""
    if not token:
        return None
    return read_opaque_token(token, "continuationToken", _is_continuation)


_CONTINUATION_KEYS = {"PartitionKey", "RowKey"}  # what the SDK puts in an entity query's continuation


def _is_continuation(value: object) -> bool:
    # Only the SDK's keys, each the service's next key or None: anything else is not one we issued.
    return (isinstance(value, dict) and bool(value) and set(value) <= _CONTINUATION_KEYS
            and any(part is not None for part in value.values())
            and all(part is None or is_service_token(part) for part in value.values()))
