"""Faults injected into the collaborators of purge_job_history: crashes at chosen points, storage that
changes what it was given, and other writers that change a job meanwhile."""
from __future__ import annotations

from shared.job_archive import JobArchive
from shared.repositories.in_memory import InMemoryJobDeviceRepository


class Crash(BaseException):
    """A process killed at this point: nothing after it runs, no handler sees it."""


class CrashingArchive(JobArchive):
    """Crashes right after `after` has done its work."""

    def __init__(self, store, after: str):
        super().__init__(store)
        self._after = after

    def __getattribute__(self, name):
        attribute = super().__getattribute__(name)
        if name != super().__getattribute__("_after"):
            return attribute

        def then_crash(*args, **kwargs):
            attribute(*args, **kwargs)
            raise Crash(name)
        return then_crash


class CorruptingArchive(JobArchive):
    def __init__(self, store, job_id: str):
        super().__init__(store)
        self._store_blobs, self._job_id = store.blobs, job_id

    def verify(self, entry):
        if entry.job_id == self._job_id:
            data, metadata, md5 = self._store_blobs[entry.path]
            self._store_blobs[entry.path] = (data[:-1] + b"?", metadata, md5)  # a flipped byte, same MD5 header
        return super().verify(entry)


class EditingArchive(JobArchive):
    """Someone edits the job right after its archive is recorded."""

    def __init__(self, store, jobs, job_id: str):
        super().__init__(store)
        self._jobs, self._job_id = jobs, job_id

    def record(self, entry):
        recorded = super().record(entry)
        job = self._jobs.get(self._job_id)
        job.edit(job.last_modified, display_name="Edited meanwhile")
        self._jobs.update(job)
        return recorded


class HalfDeletingJobDevices(InMemoryJobDeviceRepository):
    crash = True

    def delete_all(self, job_id: str) -> int:
        if not self.crash:
            return super().delete_all(job_id)
        with self._lock:
            rows = self._rows[job_id]
            for device_id in sorted(rows)[: len(rows) // 2]:
                del rows[device_id]
        raise Crash("half the rows deleted")


class CrashingDelete:
    def __init__(self, jobs):
        self._jobs = jobs

    def __getattr__(self, name):
        return getattr(self._jobs, name)

    def delete(self, job_id, etag=None):
        raise Crash("before the job entity")


class SkippingJobDevices:
    """Device rows that vanish under the reader (deleted by someone else)."""

    def __init__(self, job_devices):
        self._job_devices = job_devices

    def __getattr__(self, name):
        return getattr(self._job_devices, name)

    def iter_devices(self, job_id, status=None):
        return (row for index, row in enumerate(self._job_devices.iter_devices(job_id, status)) if index != 2)
