"""In-memory repositories with the Table ones' contract, for unit tests of the pipeline and API.

The same contract tests run against these and against Azurite (tests/integration/repositories).
A lock stands in for Table Storage's conditional transactions.
"""
from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from shared.domain.batching import DeviceBatch, batches_of
from shared.domain.devices import DeviceStatus, JobDevice
from shared.domain.errors import AlreadyExists, ConcurrencyConflict, DeviceGroupNotFound, JobNotFound
from shared.domain.groups import DeviceGroup
from shared.domain.jobs import Job, JobStatus
from shared.domain.limits import MAX_BATCH_SIZE
from shared.domain.progress import Progress
from shared.repositories.device_keys import device_row_key
from shared.domain.devices import DevicePage
from shared.repositories.job_devices import AbstractJobDeviceRepository, AppliedChange, TooManyToChange
from shared.repositories.jobs import JobStore
from shared.repositories.tables import decode_continuation, encode_continuation

_ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.STOPPED)


class _Versions:
    def __init__(self):
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f'W/"{next(self._counter)}"'


class InMemoryJobRepository(JobStore):
    def __init__(self):
        self._jobs: dict[str, Job] = {}
        self._versions = _Versions()

    def add(self, job: Job) -> Job:
        if job.id in self._jobs:
            raise AlreadyExists("Job", job.id)
        return self._store(job)

    def get(self, job_id: str) -> Job:
        if job_id not in self._jobs:
            raise JobNotFound(job_id)
        return copy.deepcopy(self._jobs[job_id])

    def update(self, job: Job) -> Job:
        if self.get(job.id).etag != job.etag:
            raise ConcurrencyConflict("Job", job.id)
        return self._store(job)

    def delete(self, job_id: str, etag: str | None = None) -> None:
        if etag and self.get(job_id).etag != etag:
            raise ConcurrencyConflict("Job", job_id)
        self._jobs.pop(job_id, None)

    def list_recent(self, now: datetime, days: int = 30) -> list[Job]:
        since = now - timedelta(days=days)
        jobs = [copy.deepcopy(job) for job in self._jobs.values() if job.created_at >= since or job.status in _ACTIVE]
        return sorted(jobs, key=lambda job: job.created_at, reverse=True)

    def count(self, statuses: Iterable[JobStatus]) -> int:
        wanted = set(statuses)
        return sum(1 for job in self._jobs.values() if job.status in wanted)

    def list_for_retention(self, cutoff: datetime) -> Iterator[Job]:
        expired = [job for job in self._jobs.values() if job.retention_anchor and job.retention_anchor < cutoff]
        return iter(copy.deepcopy(expired))

    def _store(self, job: Job) -> Job:
        job.etag = self._versions.next()
        self._jobs[job.id] = copy.deepcopy(job)
        return job


class InMemoryDeviceGroupRepository:
    def __init__(self):
        self._groups: dict[str, DeviceGroup] = {}
        self._versions = _Versions()

    def save(self, group: DeviceGroup, if_match: str | None = None) -> DeviceGroup:
        if if_match and self.get(group.id).etag != if_match:
            raise ConcurrencyConflict("Device group", group.id)
        group.etag = self._versions.next()
        self._groups[group.id] = copy.deepcopy(group)
        return group

    def get(self, group_id: str) -> DeviceGroup:
        if group_id not in self._groups:
            raise DeviceGroupNotFound(group_id)
        return copy.deepcopy(self._groups[group_id])

    def delete(self, group_id: str) -> None:
        self.get(group_id)
        del self._groups[group_id]

    def list(self) -> list[DeviceGroup]:
        return [copy.deepcopy(self._groups[group_id]) for group_id in sorted(self._groups)]

    def count(self) -> int:
        return len(self._groups)


class InMemoryJobDeviceRepository(AbstractJobDeviceRepository):
    def __init__(self):
        self._rows: dict[str, dict[str, JobDevice]] = {}
        self._progress: dict[str, Progress] = {}
        self._incarnations: dict[str, str] = {}
        self._positions: dict[str, str] = {}
        self._lock = threading.RLock()
        self._versions = _Versions()

    def add_pending(self, job_id: str, device_ids: Iterable[str], now: datetime, incarnation: str = "") -> int:
        with self._lock:
            if self._incarnations.setdefault(job_id, incarnation) != incarnation:
                raise JobNotFound(job_id)  # the partition is another incarnation's
            rows, listed = self._rows.setdefault(job_id, {}), set(device_ids)
            new_ids = listed - set(rows)
            for device_id in new_ids:
                device_row_key(device_id)  # refuses what Table Storage would refuse
            for device_id in new_ids:
                rows[device_id] = JobDevice(job_id, device_id, updated_at=now, etag=self._versions.next())
            self._progress[job_id] = self.get_progress(job_id).with_planned(len(new_ids))
            if listed:
                self._positions[job_id] = max(listed)
            return len(new_ids)

    def pending_batches(self, job_id: str, size: int = MAX_BATCH_SIZE,
                        after: str | None = None) -> Iterator[DeviceBatch]:
        return batches_of([row.device_id for row in self.iter_devices(job_id, DeviceStatus.PENDING)
                           if after is None or row.device_id > after], size)

    def read_batch(self, job_id: str, batch: DeviceBatch) -> list[JobDevice]:
        return [row for row in self._sorted(job_id) if batch.contains(row.device_id)]

    def get_progress(self, job_id: str) -> Progress:
        with self._lock:
            return self._progress.get(job_id, Progress())

    def planning_position(self, job_id: str) -> str | None:
        with self._lock:
            return self._positions.get(job_id) if job_id in self._progress else None

    def incarnation_of(self, job_id: str) -> str | None:
        with self._lock:
            return self._incarnations.get(job_id) if job_id in self._progress else None

    def list_devices(self, job_id: str, status: DeviceStatus | None = None, page_size: int = 100,
                     continuation: str | None = None) -> DevicePage[JobDevice]:
        start = (decode_continuation(continuation) or {}).get("RowKey", "")
        rows = [row for row in self.iter_devices(job_id, status) if device_row_key(row.device_id) >= start]
        following = device_row_key(rows[page_size].device_id) if len(rows) > page_size else None
        return DevicePage(rows[:page_size], encode_continuation({"RowKey": following} if following else None))

    def iter_devices(self, job_id: str, status: DeviceStatus | None = None) -> Iterator[JobDevice]:
        return iter([row for row in self._sorted(job_id) if status is None or row.status is status])

    def delete_all(self, job_id: str) -> int:
        with self._lock:
            self._incarnations.pop(job_id, None)
            self._positions.pop(job_id, None)
            deleted = len(self._rows.pop(job_id, {})) + (1 if self._progress.pop(job_id, None) else 0)
            return deleted

    def _apply(self, job_id: str, read_rows: Callable[[], list[JobDevice]],
               change: Callable[[JobDevice], JobDevice | None], incarnation: str) -> AppliedChange:
        with self._lock:
            if job_id not in self._progress or self._incarnations.get(job_id) != incarnation:
                raise JobNotFound(job_id)
            rows = read_rows()
            changes = [(row, changed) for row in rows if (changed := change(row)) is not None]
            if len(changes) > MAX_BATCH_SIZE:
                raise TooManyToChange(f"{len(changes)} rows to change; one transaction holds {MAX_BATCH_SIZE}")
            progress = self._progress[job_id]
            stored = []
            for before, after in changes:
                progress = progress.moved(before.status, after.status)
                stored.append(JobDevice(**{**after.__dict__, "etag": self._versions.next()}))
                self._rows[job_id][after.device_id] = stored[-1]
            self._progress[job_id] = progress
            return AppliedChange(rows, stored, progress)

    def _sorted(self, job_id: str) -> list[JobDevice]:
        with self._lock:
            return sorted(self._rows.get(job_id, {}).values(), key=lambda row: row.device_id)
