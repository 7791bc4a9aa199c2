"""Table creation and the small pieces every repository shares."""
from __future__ import annotations

import json
from collections.abc import Iterable

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient, TableTransactionError

from shared.tokens import is_service_token, opaque_token, read_opaque_token
from shared.storage_names import TABLES

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
