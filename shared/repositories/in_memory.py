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
from shared.domain.rollout import Rollout, RolloutBatch
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
        self._batches: dict[str, dict[int, RolloutBatch]] = {}
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

    def pending_batches(self, job_id: str, size: int = MAX_BATCH_SIZE, after: str | None = None,
                        through: str | None = None) -> Iterator[DeviceBatch]:
        return batches_of([row.device_id for row in self.iter_devices(job_id, DeviceStatus.PENDING)
                           if (after is None or row.device_id > after)
                           and (through is None or row.device_id <= through)], size)

    def save_rollout_batches(self, job_id: str, batches: Iterable[RolloutBatch]) -> None:
        with self._lock:
            self._batches.setdefault(job_id, {}).update({batch.index: batch for batch in batches})

    def rollout_batches(self, job_id: str) -> list[RolloutBatch]:
        with self._lock:
            return [batch for _, batch in sorted(self._batches.get(job_id, {}).items())]

    def set_rollout(self, job_id: str, rollout: Rollout, expected_active: int | None, incarnation: str) -> bool:
        with self._lock:
            if job_id not in self._progress or self._incarnations.get(job_id) != incarnation:
                raise JobNotFound(job_id)
            progress = self._progress[job_id]
            if (progress.rollout.active if progress.rollout else None) != expected_active:
                return False
            self._progress[job_id] = _replace(progress, rollout=rollout)
            return True

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
            deleted += len(self._batches.pop(job_id, {}))
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


# Access: API tokens, users and the audit log (shared.repositories.access, shared.repositories.audit_log).

from dataclasses import replace as _replace

from shared.domain.access import ApiToken, ApiTokenNotFound, AuditEntry, User, UserNotFound
from shared.repositories.access import IDENTITY_KIND, ApiTokenStore, UserStore
from shared.repositories.audit_log import AuditLogStore, older_than, partition_key, row_key


class InMemoryApiTokenRepository(ApiTokenStore):
    def __init__(self):
        self._tokens: dict[str, ApiToken] = {}
        self._lock = threading.Lock()

    def _add(self, token: ApiToken) -> ApiToken:
        with self._lock:
            if token.id in self._tokens:
                raise AlreadyExists("API token", token.id)
            self._tokens[token.id] = token
            return token

    def _get(self, token_id: str) -> ApiToken:
        if token_id not in self._tokens:
            raise ApiTokenNotFound(token_id)
        return self._tokens[token_id]

    def list(self) -> list[ApiToken]:
        return [self._tokens[token_id] for token_id in sorted(self._tokens)]

    def _delete(self, token_id: str) -> None:
        with self._lock:
            if self._tokens.pop(token_id, None) is None:
                raise ApiTokenNotFound(token_id)


class InMemoryUserRepository(UserStore):
    def __init__(self):
        self._users: dict[str, User] = {}
        self._holders: dict[str, str] = {}  # identity → user id
        self._lock = threading.Lock()

    def _put(self, user: User) -> User:
        with self._lock:
            if self._holders.get(user.identity, user.id) != user.id:
                raise AlreadyExists(IDENTITY_KIND, user.identity)
            self._release(user.id)
            self._users[user.id], self._holders[user.identity] = user, user.id
            return user

    def _get(self, user_id: str) -> User:
        if user_id not in self._users:
            raise UserNotFound(user_id)
        return self._users[user_id]

    def find_by_identity(self, identity: str) -> User | None:
        user_id = self._holders.get(identity)
        return self._users[user_id] if user_id is not None else None

    def list(self) -> list[User]:
        return [self._users[user_id] for user_id in sorted(self._users)]

    def _delete(self, user_id: str) -> None:
        with self._lock:
            self._get(user_id)
            self._release(user_id)
            del self._users[user_id]

    def _release(self, user_id: str) -> None:
        if user_id in self._users:
            self._holders.pop(self._users[user_id].identity, None)


class InMemoryAuditLog(AuditLogStore):
    """Keyed as the table is, so order, continuations and purges behave alike."""

    def __init__(self):
        self._entries: dict[tuple[str, str], AuditEntry] = {}
        self._lock = threading.Lock()

    def append(self, entry: AuditEntry) -> AuditEntry:
        with self._lock:
            stored = _replace(entry, id=row_key(entry.time))
            self._entries[(partition_key(entry.time), stored.id)] = stored
            return stored

    def _page(self, size: int, continuation: str | None, resource: str | None,
              caller_id: str | None) -> tuple[list[AuditEntry], str | None]:
        start = decode_continuation(continuation) or {}
        after = (start.get("PartitionKey", ""), start.get("RowKey", ""))
        with self._lock:
            keys = [key for key in sorted(self._entries) if key >= after and _matches(
                self._entries[key], resource, caller_id)]
        following = keys[size] if len(keys) > size else None
        token = {"PartitionKey": following[0], "RowKey": following[1]} if following else None
        return [self._entries[key] for key in keys[:size]], encode_continuation(token)

    def purge_before(self, cutoff: datetime) -> int:
        first_partition, first_row = older_than(cutoff)
        with self._lock:
            old = [key for key in self._entries if key[0] >= first_partition and key[1] >= first_row]
            for key in old:
                del self._entries[key]
            return len(old)


def _matches(entry: AuditEntry, resource: str | None, caller_id: str | None) -> bool:
    return (resource is None or entry.resource == resource) and (caller_id is None or entry.caller.id == caller_id)


# Scheduled jobs (shared.repositories.scheduled_jobs).

from shared.domain.errors import ScheduledJobNotFound
from shared.domain.scheduled_jobs import ScheduledJob
from shared.repositories.scheduled_jobs import ScheduledJobStore


class InMemoryScheduledJobRepository(ScheduledJobStore):
    def __init__(self):
        self._jobs: dict[str, ScheduledJob] = {}
        self._versions = _Versions()
        self._lock = threading.Lock()

    def add(self, job: ScheduledJob) -> ScheduledJob:
        with self._lock:
            if job.id in self._jobs:
                raise AlreadyExists("Scheduled job", job.id)
            return self._store(job)

    def get(self, job_id: str) -> ScheduledJob:
        if job_id not in self._jobs:
            raise ScheduledJobNotFound(job_id)
        return copy.deepcopy(self._jobs[job_id])

    def update(self, job: ScheduledJob) -> ScheduledJob:
        with self._lock:
            if self.get(job.id).etag != job.etag:
                raise ConcurrencyConflict("Scheduled job", job.id)
            return self._store(job)

    def delete(self, job_id: str, etag: str | None = None) -> None:
        with self._lock:
            if etag and self.get(job_id).etag != etag:
                raise ConcurrencyConflict("Scheduled job", job_id)
            self.get(job_id)
            del self._jobs[job_id]

    def list(self) -> list[ScheduledJob]:
        return [copy.deepcopy(self._jobs[job_id]) for job_id in sorted(self._jobs)]

    def _store(self, job: ScheduledJob) -> ScheduledJob:
        job.etag = self._versions.next()
        self._jobs[job.id] = copy.deepcopy(job)
        return job
