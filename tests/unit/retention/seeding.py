"""Jobs in any state, stored through the repositories (in-memory or Table Storage alike)."""
from __future__ import annotations

from datetime import datetime
from itertools import islice

from shared.csv_report import write_job_report
from shared.domain.devices import DeviceErrorCode, DeviceOutcome
from shared.domain.jobs import Job
from shared.domain.limits import MAX_BATCH_SIZE
from shared.domain.operations import Operation, OperationType

FAN_SPEED = Operation(OperationType.PROPERTY, "fanSpeed", 2)


def device_ids(count: int) -> list[str]:
    return [f"dev-{index:05d}" for index in range(count)]


def seed_job(jobs, job_devices, job_id: str, status: str, at: datetime, devices: int = 3,
             display_name: str = "Set fan speed", on_batch=None) -> Job:
    """A job created, run and brought to `status` at time `at`; a failed job's every 10th device failed."""
    job = Job.draft(job_id, display_name, "group-1", [FAN_SPEED], at)
    if status == "draft":
        return jobs.add(job)
    job.run(at)
    ids = iter(device_ids(devices))
    while batch := list(islice(ids, MAX_BATCH_SIZE)):
        job_devices.add_pending(job_id, batch, at)
        if on_batch:
            on_batch(len(batch))
    job.start(at)
    if status in ("completed", "failed"):
        _record_outcomes(job_devices, job_id, devices, at, on_batch, failing=status == "failed")
        job.finish(job_devices.get_progress(job_id), at)
    elif status == "stopped":
        job.stop(at)
    return jobs.add(job)


def _record_outcomes(job_devices, job_id: str, devices: int, at: datetime, on_batch, failing: bool) -> None:
    ids = iter(device_ids(devices))
    while batch := list(islice(ids, MAX_BATCH_SIZE)):
        outcomes = [_outcome(device_id, failing and device_id.endswith("0")) for device_id in batch]
        job_devices.record_outcomes(job_id, outcomes, at)
        if on_batch:
            on_batch(len(batch))


def report_bytes(jobs, job_devices, job_id: str) -> bytes:
    """What GET /api/jobs/{id}/report.csv answers now."""
    job = jobs.get(job_id)
    chunks = write_job_report(job, job_devices.get_progress(job_id), job_devices.iter_devices(job_id))
    return "".join(chunks).encode("utf-8")


def _outcome(device_id: str, failed: bool) -> DeviceOutcome:
    if failed:
        return DeviceOutcome.failure(device_id, DeviceErrorCode.DEVICE_NOT_ONLINE, "The device is offline, \"x\", =1")
    return DeviceOutcome.success(device_id)
