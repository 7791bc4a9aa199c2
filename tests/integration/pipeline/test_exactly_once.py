"""Exactly-once counting on real Table Storage (Azurite): duplicated and concurrent outcomes
reports and dispatch messages, through the pipeline's plain functions."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from azure.data.tables import TableServiceClient

from dispatcher.sending import send_batch
from shared.domain.batching import DeviceBatch
from shared.domain.devices import DeviceErrorCode, DeviceOutcome
from shared.domain.jobs import Job, JobStatus
from shared.domain.operations import Operation, OperationType
from shared.messages import DispatchRequest, OutcomesReport
from shared.pacing import OneWriterPerJob
from shared.repositories import JobDeviceRepository, JobRepository, ensure_tables
from status_collector.collecting import collect_outcomes
from shared.settings import Settings
from tests.fakes import FakeHub, FakeQueue, collaborators

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def stores(storage_connection_string, unique_name):
    service = TableServiceClient.from_connection_string(storage_connection_string)
    ensure_tables(service, [unique_name + "jobs", unique_name + "devices"])
    return JobRepository(service, unique_name + "jobs"), JobDeviceRepository(service, unique_name + "devices")


def running_job(jobs, job_devices, device_ids) -> Job:
    job = Job.draft("job-1", "Exactly once", "group", [Operation(OperationType.COMMAND, "reboot")], NOW)
    job.run(NOW)
    job.start(NOW)
    jobs.add(job)
    job_devices.add_pending("job-1", device_ids, NOW, job.incarnation)
    return job


@pytest.mark.parametrize("serialized", [False, True], ids=["racing", "one-writer-per-job"])
def test_reports_delivered_several_times_at_once_count_once(stores, serialized):
    jobs, job_devices = stores
    job_devices = OneWriterPerJob(job_devices) if serialized else job_devices
    device_ids = [f"d-{n:04d}" for n in range(196)]
    job = running_job(jobs, job_devices, device_ids)
    outcomes = [DeviceOutcome.success(d) if n % 7 else DeviceOutcome.failure(d, DeviceErrorCode.TIMEOUT, "late")
                for n, d in enumerate(device_ids)]
    reports = [OutcomesReport.split(job, outcomes[i:i + 98])[0] for i in (0, 98)]
    with ThreadPoolExecutor(6) as pool:
        c = collaborators(jobs=jobs, job_devices=job_devices, clock=lambda: NOW)
        list(pool.map(lambda report: collect_outcomes(report, c), reports * 3))
    progress = job_devices.get_progress("job-1")
    assert (progress.completed, progress.failed, progress.pending) == (168, 28, 0)
    assert jobs.get("job-1").status is JobStatus.FAILED


def test_the_same_dispatch_message_delivered_at_once_sends_each_device_once(stores):
    jobs, job_devices = stores
    device_ids = [f"d-{n:04d}" for n in range(98)]
    job = running_job(jobs, job_devices, device_ids)
    hub, outcomes_queue = FakeHub(), FakeQueue()
    with ThreadPoolExecutor(8) as devices_pool:
        c = collaborators(jobs=jobs, job_devices=OneWriterPerJob(job_devices), hub=hub,
                          outcomes_queue=outcomes_queue, devices_pool=devices_pool, clock=lambda: NOW,
                          settings=Settings(dispatch_status_check_seconds=0))
        request = DispatchRequest.of(job, DeviceBatch(device_ids[0], device_ids[-1], 98))
        with ThreadPoolExecutor(4) as senders:
            results = list(senders.map(lambda _: send_batch(request, c), range(4)))
    assert sum(result.sent for result in results) == 98
    assert sorted(call[1] for call in hub.calls) == device_ids
    for report in outcomes_queue.take(OutcomesReport):
        collect_outcomes(report, c)
    assert job_devices.get_progress("job-1").completed == 98 and jobs.get("job-1").status is JobStatus.COMPLETED
