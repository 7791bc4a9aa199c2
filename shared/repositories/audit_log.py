"""The `auditlog` table: who changed or was refused what, append-only, newest first.

Keys invert time, so that the table's own order (PartitionKey, then RowKey) is newest first:
- PartitionKey: the entry's UTC day, inverted (99999999 - yyyymmdd, eight digits);
- RowKey: microseconds from the entry's time to the end of year 9999 (eighteen digits), `-`,
  and twelve random hex digits, so entries of one microsecond never collide. The RowKey is the
  entry's id.

Why one partition per day: a page, newest first, is then one query over the whole table in key
order, walking from day to day by the service's own continuation, with the filters applied
server-side; purging is a key range (older days whole, plus the start of the cutoff's day),
deleted in transactions of one partition each. Appends never conflict: every instance creates
rows of unique keys and nothing is ever updated. All appends of a day go to one partition, whose
target is ~2,000 entities per second; entries are written only for changes and refusals (one per
request at most, refusals held down by the per-caller rate limit), orders of magnitude fewer.
Days rather than one partition keep old entries apart from the day's writes, so the service can
move them to other servers, and make a purge a short walk through whole partitions.
"""
from __future__ import annotations

import abc
import json
import secrets
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from itertools import groupby

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient

from shared.domain.access import Action, AuditEntry, Caller, CallerKind, Outcome
from shared.domain.errors import InvalidField
from shared.domain.limits import MAX_TRANSACTION_OPERATIONS
from shared.repositories.tables import decode_continuation, delete_rows, encode_continuation
from shared.storage_names import AUDIT_TABLE

MAX_PAGE_SIZE = 1000  # the most one query answers
_END_OF_TIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
_MAX_DAY = 99_999_999
# A filter that matches little makes the service answer empty pages while it scans; after this
# many requests a page is returned short (even empty) with its continuation, so a read stays quick.
_MAX_REQUESTS_PER_PAGE = 10
_APPEND_ATTEMPTS = 3  # a second attempt needs 48 random bits to repeat within one microsecond


def partition_key(time: datetime) -> str:
    return f"{_MAX_DAY - int(_utc(time).strftime('%Y%m%d')):08d}"


def time_key(time: datetime) -> str:
    """The RowKey's leading part; later times have smaller keys."""
    return f"{(_END_OF_TIME - _utc(time)) // timedelta(microseconds=1):018d}"


def row_key(time: datetime) -> str:
    return f"{time_key(time)}-{secrets.token_hex(6)}"


def older_than(cutoff: datetime) -> tuple[str, str]:
    """The first keys of the entries older than `cutoff`: every one is at or after both."""
    return partition_key(cutoff), time_key(cutoff - timedelta(microseconds=1))


def validate_page_size(size: int) -> int:
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidField("size", f"must be from 1 to {MAX_PAGE_SIZE}.")
    return size


class AuditLogStore(abc.ABC):
    """Audit entries, newest first. Nothing is changed once appended; old entries are purged."""

    @abc.abstractmethod
    def append(self, entry: AuditEntry) -> AuditEntry:
        """Store `entry`; returns it with its id."""

    def page(self, size: int, continuation: str | None = None, resource: str | None = None,
             caller_id: str | None = None) -> tuple[list[AuditEntry], str | None]:
        """At most `size` (1-1000) entries, newest first, with `resource` and `caller_id` if
        given, from where `continuation` left off; and the continuation of the rest (None at the
        end). A page may be short, even empty, and still have a continuation."""
        return self._page(validate_page_size(size), continuation, resource, caller_id)

    @abc.abstractmethod
    def purge_before(self, cutoff: datetime) -> int:
        """Delete the entries older than `cutoff`; returns how many."""

    @abc.abstractmethod
    def _page(self, size: int, continuation: str | None, resource: str | None,
              caller_id: str | None) -> tuple[list[AuditEntry], str | None]: ...


class AuditLog(AuditLogStore):
    def __init__(self, service: TableServiceClient, table_name: str = AUDIT_TABLE):
        self._table = service.get_table_client(table_name)

    def append(self, entry: AuditEntry) -> AuditEntry:
        for _ in range(_APPEND_ATTEMPTS):
            stored = replace(entry, id=row_key(entry.time))
            try:
                self._table.create_entity(entry_to_entity(stored))
                return stored
            except ResourceExistsError:
                continue
        raise ResourceExistsError(f"No free audit key for {entry.time.isoformat()}")

    def _page(self, size: int, continuation: str | None, resource: str | None,
              caller_id: str | None) -> tuple[list[AuditEntry], str | None]:
        token, entries = decode_continuation(continuation), []
        for _ in range(_MAX_REQUESTS_PER_PAGE):
            pages = self._query(size - len(entries), resource, caller_id).by_page(continuation_token=token)
            entries += [entry_from_entity(entity) for entity in next(pages, [])]
            token = pages.continuation_token
            if len(entries) == size or token is None:
                break
        return entries, encode_continuation(token)

    def purge_before(self, cutoff: datetime) -> int:
        first_partition, first_row = older_than(cutoff)
        keys = self._table.query_entities(
            "PartitionKey ge @pk and RowKey ge @rk", parameters={"pk": first_partition, "rk": first_row},
            select=["PartitionKey", "RowKey"], results_per_page=MAX_TRANSACTION_OPERATIONS)
        deleted = 0
        for page in keys.by_page():
            for _, rows in groupby(list(page), key=lambda row: row["PartitionKey"]):
                deleted += self._delete_rows(list(rows))
        return deleted

    def _query(self, size: int, resource: str | None, caller_id: str | None):
        filters = {"resource": resource, "callerId": caller_id}
        parameters = {name: value for name, value in filters.items() if value is not None}
        if not parameters:
            return self._table.list_entities(results_per_page=size)
        condition = " and ".join(f"{name} eq @{name}" for name in parameters)
        return self._table.query_entities(condition, parameters=parameters, results_per_page=size)

    def _delete_rows(self, rows: list[dict]) -> int:
        return delete_rows(self._table, rows)


def entry_to_entity(entry: AuditEntry) -> dict:
    entity = {"PartitionKey": partition_key(entry.time), "RowKey": entry.id, "time": _utc(entry.time),
              "callerKind": entry.caller.kind.value, "callerId": entry.caller.id,
              "callerName": entry.caller.display_name, "callerRoles": json.dumps(list(entry.caller.role_ids)),
              "action": entry.action.value, "resource": entry.resource, "outcome": entry.outcome.value,
              "requestId": entry.request_id, "code": entry.code}
    return {key: value for key, value in entity.items() if value is not None}


def entry_from_entity(entity: dict) -> AuditEntry:
    caller = Caller(CallerKind(entity["callerKind"]), entity.get("callerId", ""), entity.get("callerName", ""),
                    tuple(json.loads(entity.get("callerRoles", "[]"))))
    return AuditEntry(time=entity["time"], caller=caller, action=Action(entity["action"]),
                      resource=entity.get("resource", ""), outcome=Outcome(entity["outcome"]),
                      request_id=entity.get("requestId", ""), code=entity.get("code"), id=entity["RowKey"])


def _utc(time: datetime) -> datetime:
    """Times without a zone are taken as UTC, as Table Storage takes them."""
    return time.replace(tzinfo=timezone.utc) if time.tzinfo is None else time.astimezone(timezone.utc)
