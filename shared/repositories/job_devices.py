"""The `jobdevices` table: PartitionKey the job id, one row per device (RowKey: the encoded
device id, see device_keys), the job's progress row (RowKey `~progress`) and, for a job with
rollout batches, one row per batch (RowKey `~batch~NNNNNN`) with the active batch's baseline
in the progress row (see shared.domain.rollout).

Incarnations: the progress row names the incarnation of the job that planned the partition
(see Job.incarnation). Every change names the incarnation it is for, and a partition of
another one (rows a deleted job left under the same id) answers JobNotFound: to the writer,
that job is gone. Planning a new incarnation clears such rows first (clear_other_incarnation).

Exactly-once counting: every change of device rows is one entity-group transaction holding
the changed rows *and* the progress row, each with an ETag condition. A transaction that loses
a race fails as a whole; it is then recomputed from fresh reads, so a change that another
writer (or an earlier delivery of the same message) already made is never counted twice.
"""
from __future__ import annotations

import abc
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, TableTransactionError, UpdateMode

from shared.domain.batching import DeviceBatch, batches_of
from shared.domain.devices import DeviceErrorCode, DeviceOutcome, DevicePage, DeviceStatus, JobDevice
from shared.domain.errors import ConcurrencyConflict, JobNotFound
from shared.domain.limits import MAX_BATCH_SIZE, MAX_TRANSACTION_OPERATIONS
from shared.domain.progress import Progress
from shared.domain.rollout import Rollout, RolloutBatch
from shared.repositories.device_keys import (BATCH_KEYS_END, DEVICE_KEYS_END, PROGRESS_ROW_KEY, batch_row_key,
                                             device_id_from_row_key, device_row_key)
from shared.repositories.table_transactions import transaction_client
from shared.repositories.tables import decode_continuation, delete_rows, encode_continuation
from shared.storage_names import JOB_DEVICES_TABLE

_RETRIED_STATUSES = (404, 409, 412)  # a row or the progress row changed, appeared or vanished
_MAX_ATTEMPTS = 50
_READ_PAGE = 1000


@dataclass(frozen=True)
class ClaimResult:
    claimed: list[JobDevice]  # moved pending → running by this call: send to these only
    unclaimed: list[JobDevice]  # the batch's other rows, as read for the change (id and status)


@dataclass(frozen=True)
class RecordResult:
    recorded: list[JobDevice]  # outcomes that were new and are now stored
    progress: Progress  # after this call; `is_done` tells the collector to end the job
    # Failed attempts to try again, recorded now or by an earlier delivery of the same report
    # (which may have died before it asked for the retry): the collector sends their dispatch.
    retries: list[DeviceOutcome] = field(default_factory=list)
    # Likewise the written values now waiting for the device's acknowledgement: the collector
    # sends the message that checks for it.
    awaiting: list[DeviceOutcome] = field(default_factory=list)


@dataclass(frozen=True)
class AppliedChange:
    """What one conditional change read (`rows`), stored (`changed`) and left in the counters."""

    rows: list[JobDevice]
    changed: list[JobDevice]
    progress: Progress


class TooManyToChange(ValueError):
    """More rows would change than one transaction holds (MAX_BATCH_SIZE); nothing was written."""


def _jittered_pause(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.005 * min(attempt, 20)))


class AbstractJobDeviceRepository(abc.ABC):
    """The rules of claiming and recording, over storage primitives each store provides."""

    @abc.abstractmethod
    def add_pending(self, job_id: str, device_ids: Iterable[str], now: datetime, incarnation: str = "") -> int:
        """Write a `pending` row per new device and add them to the progress total.

        Idempotent: ids that already have a row are skipped, so a replayed planner page adds 0.
        Returns how many rows this call created.
        """

    @abc.abstractmethod
    def planning_position(self, job_id: str) -> str | None:
        """The last device id planning wrote (or found written, on a replayed page): planning's
        heartbeat, which moves even when it walks devices planned before."""

    def planning_state(self, job_id: str) -> dict:
        """What the watchdog of a pending job compares between two looks: the counters and
        planning's position."""
        return {**self.get_progress(job_id).as_dict(), "plannedThrough": self.planning_position(job_id)}

    @abc.abstractmethod
    def incarnation_of(self, job_id: str) -> str | None:
        """The incarnation the partition's rows belong to; None when there are none."""

    def clear_other_incarnation(self, job_id: str, incarnation: str) -> int:
        """Delete rows an earlier job of this id left behind; returns how many."""
        stored = self.incarnation_of(job_id)
        return self.delete_all(job_id) if stored is not None and stored != incarnation else 0

    @abc.abstractmethod
    def pending_batches(self, job_id: str, size: int = MAX_BATCH_SIZE, after: str | None = None,
                        through: str | None = None) -> Iterator[DeviceBatch]:
        """The job's `pending` devices (those after the id `after` and up to `through`, if given)
        as batches of consecutive ids, streamed in id order."""

    def device_statuses(self, job_id: str) -> Iterator[tuple[str, DeviceStatus]]:
        """(device id, status) of every device row, in id order, streamed."""
        return ((row.device_id, row.status) for row in self.iter_devices(job_id))

    @abc.abstractmethod
    def save_rollout_batches(self, job_id: str, batches: Iterable[RolloutBatch]) -> None:
        """Write (or write again: the same cut gives the same rows) the job's rollout batches."""

    @abc.abstractmethod
    def rollout_batches(self, job_id: str) -> list[RolloutBatch]:
        """The job's rollout batches in index order; none for a job without batches."""

    @abc.abstractmethod
    def set_rollout(self, job_id: str, rollout: Rollout, expected_active: int | None, incarnation: str) -> bool:
        """Store `rollout` in the progress row if the active batch stored is `expected_active`
        (None: no rollout yet); False when another writer moved it first."""

    @abc.abstractmethod
    def read_batch(self, job_id: str, batch: DeviceBatch) -> list[JobDevice]:
        """Every row of the batch's id range (one range query), in id order."""

    @abc.abstractmethod
    def get_progress(self, job_id: str) -> Progress:
        """The job's counters; all zero before planning wrote any row."""

    @abc.abstractmethod
    def list_devices(self, job_id: str, status: DeviceStatus | None = None, page_size: int = 100,
                     continuation: str | None = None) -> DevicePage[JobDevice]:
        """One page of the job's devices in id order; pass the returned token for the next."""

    @abc.abstractmethod
    def iter_devices(self, job_id: str, status: DeviceStatus | None = None) -> Iterator[JobDevice]:
        """Every device row of the job in id order, streamed (flat memory)."""

    @abc.abstractmethod
    def delete_all(self, job_id: str) -> int:
        """Delete the job's device rows, progress row and batch rows. Idempotent; returns rows deleted."""

    @abc.abstractmethod
    def _apply(self, job_id: str, read_rows: Callable[[], list[JobDevice]],
               change: Callable[[JobDevice], JobDevice | None], incarnation: str) -> AppliedChange:
        """Atomically store `change(row)` for each row that changes, with the counters; the
        partition must be `incarnation`'s (else JobNotFound)."""

    def _read_for_change(self, job_id: str, batch: DeviceBatch) -> list[JobDevice]:
        """The batch's rows as a change needs them: id, status, claimer, attempts and ETag. A
        change rewrites every other field (see JobDevice.moved_to), so a store may read only those."""
        return self.read_batch(job_id, batch)

    def _read_devices(self, job_id: str, device_ids: set[str]) -> list[JobDevice]:
        """The rows of these devices, by one range query over them (they form one batch)."""
        if not device_ids:
            return []
        rows = self._read_for_change(job_id, DeviceBatch(min(device_ids), max(device_ids), len(device_ids)))
        return [row for row in rows if row.device_id in device_ids]

    def claim(self, job_id: str, batch: DeviceBatch, now: datetime, claimer: str | None = None,
              incarnation: str = "") -> ClaimResult:
        """Move the batch's `pending` rows to `running` for `claimer` (the delivery sending to
        them), atomically with the counters. A range may hold more pending rows than one
        transaction (rows released after it was cut): then it is claimed in sub-batches."""
        def claim_pending(row: JobDevice) -> JobDevice | None:
            return row.claimed(now, claimer) if row.status is DeviceStatus.PENDING else None

        try:
            applied = self._apply(job_id, lambda: self._read_for_change(job_id, batch), claim_pending, incarnation)
        except TooManyToChange:
            pending = [row.device_id for row in self.read_batch(job_id, batch) if row.status is DeviceStatus.PENDING]
            results = [self.claim(job_id, sub, now, claimer, incarnation) for sub in batches_of(pending)]
            return ClaimResult([row for result in results for row in result.claimed],
                               [row for result in results for row in result.unclaimed])
        claimed_ids = {row.device_id for row in applied.changed}
        return ClaimResult(applied.changed, [row for row in applied.rows if row.device_id not in claimed_ids])

    def release(self, job_id: str, device_ids: Iterable[str], now: datetime, incarnation: str = "") -> list[JobDevice]:
        """Give `running` rows back to `pending` (unsent when the job stopped, or re-sendable);
        any number of devices, one transaction per batch of them."""
        def release_running(row: JobDevice) -> JobDevice | None:
            return row.moved_to(DeviceStatus.PENDING, now) if row.status is DeviceStatus.RUNNING else None

        released = []
        for chunk in _chunks(sorted(set(device_ids))):
            wanted = set(chunk)
            released += self._apply(job_id, lambda: self._read_devices(job_id, wanted), release_running,
                                    incarnation).changed
        return released

    def record_outcomes(self, job_id: str, outcomes: Iterable[DeviceOutcome], now: datetime,
                        incarnation: str = "") -> RecordResult:
        """Store outcomes of devices not yet final, with the counters, exactly once; any number
        of outcomes, one transaction per batch of them."""
        by_device = {outcome.device_id: outcome for outcome in outcomes}

        def record(row: JobDevice) -> JobDevice | None:
            outcome = by_device[row.device_id]
            return row.with_outcome(outcome, now) if row.records(outcome) else None

        recorded, progress, retries, awaiting = [], None, [], []
        for chunk in _chunks(sorted(by_device)):
            wanted = set(chunk)
            applied = self._apply(job_id, lambda: self._read_devices(job_id, wanted), record, incarnation)
            recorded, progress = recorded + applied.changed, applied.progress
            retries += _waiting(applied, by_device, lambda outcome: outcome.retry_in is not None)
            awaiting += _waiting(applied, by_device, lambda outcome: outcome.awaiting_version is not None)
        if progress is None:  # nothing to record: the counters, or JobNotFound as a change would say
            progress = self._apply(job_id, lambda: [], lambda row: None, incarnation).progress
        return RecordResult(recorded, progress, retries, awaiting)


def _waiting(applied: AppliedChange, by_device: dict[str, DeviceOutcome],
             kind: Callable[[DeviceOutcome], bool]) -> list[DeviceOutcome]:
    """The outcomes of `kind` (a retry, a wait for an acknowledgement) this change recorded, and
    those an earlier delivery recorded whose row still waits as they said (the same status and
    attempt, and the same desired version)."""
    changed = {row.device_id for row in applied.changed}
    return [outcome for row in applied.rows if kind(outcome := by_device[row.device_id])
            and (row.device_id in changed or (row.status is outcome.status and row.attempts == outcome.attempt
                                               and row.awaiting_version == outcome.awaiting_version))]


def _chunks(device_ids: list[str]) -> Iterator[list[str]]:
    """Consecutive ids, one transaction's worth each: each chunk is read by one range query."""
    ids = iter(device_ids)
    while chunk := list(islice(ids, MAX_BATCH_SIZE)):
        yield chunk


class JobDeviceRepository(AbstractJobDeviceRepository):
    def __init__(self, service: TableServiceClient, table_name: str = JOB_DEVICES_TABLE,
                 pause: Callable[[int], None] = _jittered_pause):
        # Three 99-operation transactions per batch of devices: the light codec saves most of their CPU.
        self._table = transaction_client(service, table_name)
        self._pause = pause

    def add_pending(self, job_id: str, device_ids: Iterable[str], now: datetime, incarnation: str = "") -> int:
        return sum(self._add_chunk(job_id, chunk, now, incarnation) for chunk in _chunks(sorted(set(device_ids))))

    def incarnation_of(self, job_id: str) -> str | None:
        _, etag, incarnation = self._read_progress(job_id)
        return incarnation if etag is not None else None

    def planning_position(self, job_id: str) -> str | None:
        try:
            return self._table.get_entity(job_id, PROGRESS_ROW_KEY, select=["plannedThrough"]).get("plannedThrough")
        except ResourceNotFoundError:
            return None

    def pending_batches(self, job_id: str, size: int = MAX_BATCH_SIZE, after: str | None = None,
                        through: str | None = None) -> Iterator[DeviceBatch]:
        condition, parameters = "status eq @status", {"status": DeviceStatus.PENDING.value}
        if after is not None:
            condition, parameters = f"RowKey gt @after and {condition}", {**parameters, "after": device_row_key(after)}
        if through is not None:
            condition = f"RowKey le @through and {condition}"
            parameters = {**parameters, "through": device_row_key(through)}
        rows = self._query(job_id, condition, parameters, select=["RowKey"])
        return batches_of((device_id_from_row_key(row["RowKey"]) for row in rows), size)

    def device_statuses(self, job_id: str) -> Iterator[tuple[str, DeviceStatus]]:
        rows = self._query(job_id, "", {}, select=["RowKey", "status"])
        return ((device_id_from_row_key(row["RowKey"]), DeviceStatus(row.get("status", DeviceStatus.PENDING.value)))
                for row in rows)

    def save_rollout_batches(self, job_id: str, batches: Iterable[RolloutBatch]) -> None:
        rows = iter(batches)
        while chunk := list(islice(rows, MAX_TRANSACTION_OPERATIONS)):
            self._table.submit_transaction([("upsert", _batch_to_entity(job_id, batch), {"mode": UpdateMode.REPLACE})
                                            for batch in chunk])

    def rollout_batches(self, job_id: str) -> list[RolloutBatch]:
        entities = self._table.query_entities(
            "PartitionKey eq @pk and RowKey gt @start and RowKey lt @end",
            parameters={"pk": job_id, "start": batch_row_key(-1), "end": BATCH_KEYS_END}, results_per_page=_READ_PAGE)
        return sorted((_batch_from_entity(entity) for entity in entities), key=lambda batch: batch.index)

    def set_rollout(self, job_id: str, rollout: Rollout, expected_active: int | None, incarnation: str) -> bool:
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            progress, etag, stored_incarnation = self._read_progress(job_id)
            if etag is None or stored_incarnation != incarnation:
                raise JobNotFound(job_id)
            if (progress.rollout.active if progress.rollout else None) != expected_active:
                return False
            try:
                self._table.update_entity({"PartitionKey": job_id, "RowKey": PROGRESS_ROW_KEY, **rollout.to_fields()},
                                          mode=UpdateMode.MERGE, etag=etag, match_condition=MatchConditions.IfNotModified)
                return True
            except ResourceModifiedError:
                self._pause(attempt)  # the counters moved meanwhile: look again
        raise ConcurrencyConflict("Job progress", job_id)

    def read_batch(self, job_id: str, batch: DeviceBatch) -> list[JobDevice]:
        return self._read_range(job_id, batch.first_device_id, batch.last_device_id)

    def get_progress(self, job_id: str) -> Progress:
        return self._read_progress(job_id)[0]

    def _read_for_change(self, job_id: str, batch: DeviceBatch) -> list[JobDevice]:
        # Half the CPU of whole rows: no timestamps to parse.
        return self._read_range(job_id, batch.first_device_id, batch.last_device_id,
                                ["RowKey", "status", "claimedBy", "attempts", "lastAttemptAt", "awaitingVersion",
                                 "awaitingSince"])

    def list_devices(self, job_id: str, status: DeviceStatus | None = None, page_size: int = 100,
                     continuation: str | None = None) -> DevicePage[JobDevice]:
        condition, parameters = ("status eq @status", {"status": status.value}) if status else ("", {})
        pages = self._query(job_id, condition, parameters, page_size=page_size).by_page(
            continuation_token=decode_continuation(continuation))
        for page in pages:  # a filtered query may answer an empty page that still has a token
            devices = [_device_from_entity(entity) for entity in page]
            if devices or pages.continuation_token is None:
                return DevicePage(devices, encode_continuation(pages.continuation_token))
        return DevicePage([], None)

    def iter_devices(self, job_id: str, status: DeviceStatus | None = None) -> Iterator[JobDevice]:
        condition, parameters = ("status eq @status", {"status": status.value}) if status else ("", {})
        return (_device_from_entity(entity) for entity in self._query(job_id, condition, parameters))

    def delete_all(self, job_id: str) -> int:
        """100 rows per transaction; memory stays flat."""
        deleted = 0
        while keys := list(islice(self._table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": job_id}, select=["PartitionKey", "RowKey"],
                results_per_page=MAX_TRANSACTION_OPERATIONS), MAX_TRANSACTION_OPERATIONS)):
            deleted += self._delete_keys(keys)
        return deleted

    def _apply(self, job_id: str, read_rows: Callable[[], list[JobDevice]],
               change: Callable[[JobDevice], JobDevice | None], incarnation: str) -> AppliedChange:
        """One transaction with ETag conditions on every row it writes (the progress row's ETag
        also holds its incarnation still); on a lost race, recompute."""
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            progress, progress_etag, stored_incarnation = self._read_progress(job_id)
            if progress_etag is None or stored_incarnation != incarnation:
                raise JobNotFound(job_id)
            rows = read_rows()
            changes = [(row, changed) for row in rows if (changed := change(row)) is not None]
            if not changes:
                return AppliedChange(rows, [], progress)
            if len(changes) > MAX_BATCH_SIZE:
                raise TooManyToChange(f"{len(changes)} rows to change; one transaction holds {MAX_BATCH_SIZE}")
            for before, after in changes:
                progress = progress.moved(before.status, after.status)
            try:
                results = self._table.submit_transaction(_change_operations(changes, progress, progress_etag))
            except TableTransactionError as error:
                _raise_unless_lost_race(error)
                self._pause(attempt)
                continue
            stored = [_with_etag(after, result) for (_, after), result in zip(changes, results)]
            return AppliedChange(rows, stored, progress)
        raise ConcurrencyConflict("Job progress", job_id)

    def _add_chunk(self, job_id: str, device_ids: list[str], now: datetime, incarnation: str) -> int:
        existing: set[str] = set()
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            new_ids = [device_id for device_id in device_ids if device_id not in existing]
            if not new_ids:
                self._note_position(job_id, device_ids[-1])
                return 0
            progress, progress_etag, stored_incarnation = self._read_progress(job_id)
            if progress_etag is not None and stored_incarnation != incarnation:
                raise JobNotFound(job_id)  # the partition is another incarnation's
            rows = [_device_to_entity(JobDevice(job_id, device_id, updated_at=now)) for device_id in new_ids]
            operations = [("create", row) for row in rows]
            operations.append(_progress_operation(job_id, progress.with_planned(len(new_ids)), progress_etag,
                                                  incarnation, planned_through=device_ids[-1]))
            try:
                self._table.submit_transaction(operations)
                return len(new_ids)
            except TableTransactionError as error:
                _raise_unless_lost_race(error)
            # A replayed page: learn which rows exist (only now, so the usual path reads nothing).
            existing |= {row.device_id for row in self._read_range(job_id, new_ids[0], new_ids[-1], ["RowKey"])}
            self._pause(attempt)
        raise ConcurrencyConflict("Job progress", job_id)

    def _note_position(self, job_id: str, device_id: str) -> None:
        """A replayed page: nothing to add, but planning walked this far (a merge of that one field;
        a conditional change racing it just reads again)."""
        try:
            self._table.update_entity({"PartitionKey": job_id, "RowKey": PROGRESS_ROW_KEY, "plannedThrough": device_id},
                                      mode=UpdateMode.MERGE)
        except ResourceNotFoundError:
            pass

    def _read_progress(self, job_id: str) -> tuple[Progress, str | None, str | None]:
        """The counters, the row's ETag and its incarnation (None, None when there is no row)."""
        try:
            entity = self._table.get_entity(job_id, PROGRESS_ROW_KEY)
        except ResourceNotFoundError:
            return Progress(), None, None
        counters = {name: entity.get(name, 0) for name in Progress().as_dict()}
        return (Progress(**counters, rollout=Rollout.from_fields(entity)), entity.metadata["etag"],
                entity.get("incarnation", ""))

    def _read_range(self, job_id: str, first_device_id: str, last_device_id: str,
                    select: list[str] | None = None) -> list[JobDevice]:
        parameters = {"pk": job_id, "first": device_row_key(first_device_id), "last": device_row_key(last_device_id)}
        entities = self._table.query_entities("PartitionKey eq @pk and RowKey ge @first and RowKey le @last",
                                              parameters=parameters, select=select, results_per_page=_READ_PAGE)
        return [_device_from_entity(entity, job_id) for entity in entities]

    def _query(self, job_id: str, condition: str, parameters: dict, select: list[str] | None = None,
               page_size: int = _READ_PAGE):
        query = "PartitionKey eq @pk and RowKey lt @end" + (f" and {condition}" if condition else "")
        parameters = {"pk": job_id, "end": DEVICE_KEYS_END, **parameters}
        return self._table.query_entities(query, parameters=parameters, select=select, results_per_page=page_size)

    def _delete_keys(self, keys: list[dict]) -> int:
        return delete_rows(self._table, keys)


def _raise_unless_lost_race(error: TableTransactionError) -> None:
    if getattr(error, "status_code", None) not in _RETRIED_STATUSES:
        raise error


def _change_operations(changes: list[tuple[JobDevice, JobDevice]], progress: Progress, progress_etag: str) -> list:
    operations = [("update", _device_to_entity(after),
                   {"mode": UpdateMode.REPLACE, "etag": before.etag, "match_condition": MatchConditions.IfNotModified})
                  for before, after in changes]
    operations.append(_progress_operation(changes[0][0].job_id, progress, progress_etag))
    return operations


def _progress_operation(job_id: str, progress: Progress, etag: str | None, incarnation: str = "",
                        planned_through: str | None = None) -> tuple:
    entity = {"PartitionKey": job_id, "RowKey": PROGRESS_ROW_KEY, **progress.as_dict()}
    if planned_through is not None:
        entity["plannedThrough"] = planned_through
    if etag is None:
        return ("create", {**entity, "incarnation": incarnation})
    # MERGE, so fields other stages may add to the progress row survive.
    return ("update", entity, {"mode": UpdateMode.MERGE, "etag": etag, "match_condition": MatchConditions.IfNotModified})


def _device_to_entity(device: JobDevice) -> dict:
    entity = {"PartitionKey": device.job_id, "RowKey": device_row_key(device.device_id),
              "status": device.status.value, "updatedAt": device.updated_at,
              "errorCode": device.error_code.value if device.error_code else None,
              "errorMessage": device.error_message, "claimedBy": device.claimed_by,
              "attempts": device.attempts or None, "lastAttemptAt": device.last_attempt_at,
              "awaitingVersion": device.awaiting_version, "awaitingSince": device.awaiting_since}
    return {key: value for key, value in entity.items() if value is not None}


def _device_from_entity(entity: dict, job_id: str | None = None) -> JobDevice:
    # Azure answers a selected property an entity lacks as null (Azurite leaves it out): read
    # every optional column as "missing or null".
    code = entity.get("errorCode")
    return JobDevice(job_id=entity.get("PartitionKey", job_id), device_id=device_id_from_row_key(entity["RowKey"]),
                     status=DeviceStatus(entity.get("status") or DeviceStatus.PENDING.value),
                     error_code=DeviceErrorCode(code) if code else None, error_message=entity.get("errorMessage"),
                     updated_at=entity.get("updatedAt"), etag=entity.metadata.get("etag"),
                     claimed_by=entity.get("claimedBy"), attempts=entity.get("attempts") or 0,
                     last_attempt_at=entity.get("lastAttemptAt"), awaiting_version=entity.get("awaitingVersion"),
                     awaiting_since=entity.get("awaitingSince"))


def _batch_to_entity(job_id: str, batch: RolloutBatch) -> dict:
    return {"PartitionKey": job_id, "RowKey": batch_row_key(batch.index), "index": batch.index,
            "first": batch.first_device_id, "last": batch.last_device_id, "total": batch.total,
            "pending": batch.pending, "running": batch.running, "completed": batch.completed, "failed": batch.failed,
            "done": batch.done}


def _batch_from_entity(entity: dict) -> RolloutBatch:
    return RolloutBatch(index=entity["index"], first_device_id=entity["first"], last_device_id=entity["last"],
                        total=entity["total"], pending=entity.get("pending", 0), running=entity.get("running", 0),
                        completed=entity.get("completed", 0), failed=entity.get("failed", 0),
                        done=entity.get("done", False))


def _with_etag(device: JobDevice, result: dict) -> JobDevice:
    return JobDevice(**{**device.__dict__, "etag": result.get("etag")})
