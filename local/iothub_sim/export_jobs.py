"""Import/export jobs (`/jobs/create`, `/jobs`, `/jobs/{id}`): IoT Hub's *export devices*, as
`IoTHubJobManager.create_import_export_job` calls it.

The create call answers at once with the job `enqueued`; a background thread then writes the
registry into the caller's blob container (the SAS URL) as a block blob, one JSON line per device,
staging a block every few MB so the registry is never held as one string. The registry itself is
read on the server's event loop, a chunk of devices per call, because the backend is not
thread-safe. As on IoT Hub, only one import/export job may be enqueued or running per hub.
"""
from __future__ import annotations

import asyncio
import json
import threading
import uuid
from dataclasses import dataclass, field

from azure.core.exceptions import AzureError, HttpResponseError
from azure.storage.blob import BlobBlock, ContainerClient, LinearRetry

from .errors import ArgumentInvalid, JobNotFound, JobQuotaExceeded
from .models import utc_timestamp

DEFAULT_BLOB_NAME = "devices.txt"
ACTIVE = ("enqueued", "running")
CHUNK_DEVICES = 1000  # devices serialized per call onto the event loop: short enough not to stall it
BLOCK_BYTES = 4 * 1024 * 1024
LOOP_CALL_TIMEOUT = 60.0
# Storage's default retry waits 15 s and more between tries; an unreachable account should fail the job in seconds.
STORAGE_RETRY = dict(retry_policy=LinearRetry(backoff=1, retry_total=2, random_jitter_range=0),
                     connection_timeout=5, read_timeout=60)


@dataclass
class ExportJob:
    job_id: str
    container: ContainerClient = field(repr=False)
    container_uri: str
    blob_name: str
    exclude_keys: bool
    start_time: str
    status: str = "enqueued"
    progress: int = 0
    end_time: str | None = None
    failure_reason: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def end(self, status: str, failure_reason: str | None = None) -> None:
        """The first ending wins: a job cancelled while its writer runs stays cancelled."""
        with self.lock:
            if self.status in ACTIVE:
                self.status, self.end_time, self.failure_reason = status, utc_timestamp(), failure_reason
                if status == "completed":
                    self.progress = 100

    def to_dict(self) -> dict:
        doc = {"jobId": self.job_id, "startTimeUtc": self.start_time, "type": "export", "status": self.status,
               "progress": self.progress, "outputBlobContainerUri": self.container_uri,
               "outputBlobName": self.blob_name, "excludeKeysInExport": self.exclude_keys,
               "storageAuthenticationType": "keyBased"}
        if self.end_time is not None:
            doc["endTimeUtc"] = self.end_time
        if self.failure_reason is not None:
            doc["failureReason"] = self.failure_reason
        return doc


class ImportExportJobs:
    def __init__(self, backend) -> None:
        self.backend = backend
        self.jobs: dict[str, ExportJob] = {}
        self.queue_seconds = 0.0  # how long a new job stays enqueued (control API), so tests can meet an active job

    def create(self, body: dict) -> dict:
        job = _export_job(body)
        for other in self.jobs.values():
            if other.status in ACTIVE:
                raise JobQuotaExceeded(f"Only one import/export job can be active at a time; job {other.job_id} is {other.status}")
        self.jobs[job.job_id] = job
        answer = job.to_dict()  # taken before the writer starts: the create call always answers `enqueued`
        threading.Thread(target=self._run, args=(job, asyncio.get_running_loop(), self.queue_seconds),
                         name=f"iothub-sim-export-{job.job_id}", daemon=True).start()
        return answer

    def get(self, job_id: str) -> dict:
        return self._job(job_id).to_dict()

    def list_jobs(self) -> list[dict]:
        return [job.to_dict() for job in self.jobs.values()]

    def cancel(self, job_id: str) -> dict:
        job = self._job(job_id)
        job.end("cancelled")
        job.cancelled.set()
        return job.to_dict()

    def cancel_all(self) -> None:
        for job_id in list(self.jobs):
            self.cancel(job_id)

    def reset(self) -> None:
        self.cancel_all()
        self.jobs.clear()
        self.queue_seconds = 0.0

    def summary(self) -> dict:
        by_status: dict[str, int] = {}
        for job in self.jobs.values():
            by_status[job.status] = by_status.get(job.status, 0) + 1
        return {"created": len(self.jobs), "byStatus": by_status, "queueSeconds": self.queue_seconds}

    def _job(self, job_id: str) -> ExportJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"Job {job_id} not found")
        return job

    # --- the writer thread ---

    def _run(self, job: ExportJob, loop: asyncio.AbstractEventLoop, queue_seconds: float) -> None:
        if job.cancelled.wait(queue_seconds):
            return
        with job.lock:
            if job.status != "enqueued":
                return
            job.status = "running"
        try:
            devices = _on_loop(loop, lambda: list(self.backend.devices.values()))
            written = self._write(job, loop, devices)
        except AzureError as error:
            job.end("failed", _storage_failure(error))
        except Exception as error:  # the loop went away (simulator stopping) or a simulator bug: never a silent hang
            job.end("failed", f"Export failed in the IoT Hub simulator: {error!r}")
        else:
            if written:
                job.end("completed")

    def _write(self, job: ExportJob, loop: asyncio.AbstractEventLoop, devices: list) -> bool:
        """Stage the lines block by block and commit them; False when cancelled on the way."""
        blob = job.container.get_blob_client(job.blob_name)
        blocks: list[BlobBlock] = []
        pending = bytearray()
        for start in range(0, len(devices), CHUNK_DEVICES):
            if job.cancelled.is_set():
                return False
            pending += _on_loop(loop, self._lines, devices[start:start + CHUNK_DEVICES], not job.exclude_keys)
            if len(pending) >= BLOCK_BYTES:
                blocks.append(_stage(blob, len(blocks), pending))
                pending = bytearray()
                job.progress = min(99, (start + CHUNK_DEVICES) * 100 // len(devices))  # of the devices staged
        if pending:
            blocks.append(_stage(blob, len(blocks), pending))
        if job.cancelled.is_set():
            return False
        blob.commit_block_list(blocks)
        return True

    def _lines(self, devices: list, keys: bool) -> bytes:
        """Devices still registered (not deleted or replaced since the job started), one JSON line each."""
        registry = self.backend.devices
        return b"".join(json.dumps(device.to_export_dict(keys), separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
                        for device in devices if registry.get(device.device_id) is device)


def _export_job(body: dict) -> ExportJob:
    if body.get("type") != "export":
        raise ArgumentInvalid(f"Only export jobs are simulated (type 'export'), not {body.get('type')!r}")
    if body.get("storageAuthenticationType") not in (None, "keyBased"):
        raise ArgumentInvalid("Only keyBased storage authentication (a SAS in outputBlobContainerUri) is simulated")
    uri = body.get("outputBlobContainerUri")
    if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
        raise ArgumentInvalid("outputBlobContainerUri must be the URL of a blob container with a SAS token")
    try:
        container = ContainerClient.from_container_url(uri, **STORAGE_RETRY)
    except ValueError as error:
        raise ArgumentInvalid(f"outputBlobContainerUri is not a blob container URL: {error}") from None
    return ExportJob(job_id=str(uuid.uuid4()), container=container, container_uri=uri,
                     blob_name=body.get("outputBlobName") or DEFAULT_BLOB_NAME,
                     exclude_keys=bool(body.get("excludeKeysInExport")), start_time=utc_timestamp())


def _stage(blob, index: int, data: bytearray) -> BlobBlock:
    block_id = f"{index:08d}"  # block ids of one blob must all have the same length
    blob.stage_block(block_id, bytes(data))
    return BlobBlock(block_id)


def _on_loop(loop: asyncio.AbstractEventLoop, function, *args):
    async def call():
        return function(*args)
    return asyncio.run_coroutine_threadsafe(call(), loop).result(LOOP_CALL_TIMEOUT)


def _storage_failure(error: AzureError) -> str:
    if isinstance(error, HttpResponseError):
        code = getattr(error.error_code, "value", error.error_code) or error.reason  # StorageErrorCode is an enum
        return f"Failed to write to the output blob container: {error.status_code} {code}"
    return f"Failed to reach the output blob container: {type(error).__name__}"
