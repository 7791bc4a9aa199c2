"""In-memory repositories and archive, and a clock the tests set."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.job_archive import InMemoryArchiveStore, JobArchive
from shared.repositories.in_memory import InMemoryJobDeviceRepository, InMemoryJobRepository

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc)
RETENTION_DAYS = 30
LONG_AGO = NOW - timedelta(days=45)  # a month ago and more: October 2026
RECENTLY = NOW - timedelta(days=2)


@pytest.fixture
def jobs():
    return InMemoryJobRepository()


@pytest.fixture
def job_devices():
    return InMemoryJobDeviceRepository()


@pytest.fixture
def store():
    return InMemoryArchiveStore(block_size=64)


@pytest.fixture
def archive(store):
    return JobArchive(store)
