"""Table repositories and a job-history archive over Azurite, in tables and a container of each test's own."""
from __future__ import annotations

import uuid

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from shared.job_archive import JobArchive
from shared.repositories import JobDeviceRepository, JobRepository, ensure_tables

SMALL_BLOCKS = 4096  # a few hundred devices already span several blocks


def fresh_name() -> str:
    return "t" + uuid.uuid4().hex[:20]


@pytest.fixture(scope="session")
def table_service(storage_connection_string) -> TableServiceClient:
    return TableServiceClient.from_connection_string(storage_connection_string)


@pytest.fixture(scope="session")
def blob_service(storage_connection_string) -> BlobServiceClient:
    return BlobServiceClient.from_connection_string(storage_connection_string)


@pytest.fixture
def jobs(table_service) -> JobRepository:
    name = fresh_name()
    ensure_tables(table_service, [name])
    return JobRepository(table_service, name)


@pytest.fixture
def job_devices_table(table_service) -> str:
    name = fresh_name()
    ensure_tables(table_service, [name])
    return name


@pytest.fixture
def job_devices(table_service, job_devices_table) -> JobDeviceRepository:
    return JobDeviceRepository(table_service, job_devices_table, pause=lambda attempt: None)


@pytest.fixture
def container(blob_service):
    client = blob_service.get_container_client(fresh_name())
    yield client
    client.delete_container()


@pytest.fixture
def archive(blob_service, container) -> JobArchive:
    archive = JobArchive.in_blob_storage(blob_service, container.container_name, block_size=SMALL_BLOCKS)
    archive.ensure_container()
    return archive
