"""Each contract test runs twice: against Azurite and against the in-memory fakes.

Tests that are about Table Storage itself (ETags, raw keys) ask for the `table_*` fixtures.
"""
import uuid
from datetime import datetime, timezone

import pytest
from azure.data.tables import TableServiceClient

from shared.repositories import (ApiTokenRepository, AuditLog, DeviceGroupRepository, JobDeviceRepository,
                                 JobRepository, UserRepository, ensure_tables)
from shared.repositories.device_keys import PROGRESS_ROW_KEY, device_row_key
from shared.repositories.in_memory import (InMemoryApiTokenRepository, InMemoryAuditLog,
                                           InMemoryDeviceGroupRepository, InMemoryJobDeviceRepository,
                                           InMemoryJobRepository, InMemoryUserRepository)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def table_service(storage_connection_string) -> TableServiceClient:
    return TableServiceClient.from_connection_string(storage_connection_string)


@pytest.fixture
def table_name(table_service, unique_name) -> str:
    ensure_tables(table_service, [unique_name])
    return unique_name


@pytest.fixture
def table_job_devices(table_service, table_name) -> JobDeviceRepository:
    return JobDeviceRepository(table_service, table_name, pause=lambda attempt: None)


@pytest.fixture
def table_groups(table_service, table_name) -> DeviceGroupRepository:
    return DeviceGroupRepository(table_service, table_name)


@pytest.fixture(params=["azurite", "memory"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def jobs(backend, table_service, table_name):
    return JobRepository(table_service, table_name) if backend == "azurite" else InMemoryJobRepository()


@pytest.fixture
def job_devices(backend, table_job_devices):
    return table_job_devices if backend == "azurite" else InMemoryJobDeviceRepository()


@pytest.fixture
def groups(backend, table_groups):
    return table_groups if backend == "azurite" else InMemoryDeviceGroupRepository()


@pytest.fixture
def api_tokens(backend, table_service, table_name):
    return ApiTokenRepository(table_service, table_name) if backend == "azurite" else InMemoryApiTokenRepository()


@pytest.fixture
def users(backend, table_service, table_name):
    """Users in the same table as api_tokens, as in the app."""
    return UserRepository(table_service, table_name) if backend == "azurite" else InMemoryUserRepository()


@pytest.fixture
def audit_log(backend, table_service, table_name):
    return AuditLog(table_service, table_name) if backend == "azurite" else InMemoryAuditLog()


@pytest.fixture
def stored_rows(backend, table_service, table_name, job_devices):
    """What is stored for a job, by row key: each row's properties plus its etag."""
    if backend == "memory":
        return lambda job_id: _fake_rows(job_devices, job_id)
    table = table_service.get_table_client(table_name)
    return lambda job_id: {row["RowKey"]: {**row, "etag": row.metadata["etag"]}
                           for row in table.query_entities("PartitionKey eq @pk", parameters={"pk": job_id})}


def _fake_rows(job_devices, job_id) -> dict:
    rows = {device_row_key(device.device_id): {
        "status": device.status.value, "errorCode": device.error_code.value if device.error_code else None,
        "errorMessage": device.error_message, "etag": device.etag} for device in job_devices.iter_devices(job_id)}
    progress = job_devices.get_progress(job_id)
    if progress.as_dict() != dict.fromkeys(progress.as_dict(), 0):
        rows[PROGRESS_ROW_KEY] = progress.as_dict()
    return rows


@pytest.fixture
def job_id() -> str:
    return "job-" + uuid.uuid4().hex[:8]


@pytest.fixture
def scheduled_jobs(backend, table_service, table_name):
    from shared.repositories import ScheduledJobRepository
    from shared.repositories.in_memory import InMemoryScheduledJobRepository
    return ScheduledJobRepository(table_service, table_name) if backend == "azurite" else InMemoryScheduledJobRepository()
