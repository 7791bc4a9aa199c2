"""What the use cases work with, passed in: repositories, the hub gateway, the plan queue, a clock.

The HTTP triggers build the real ones (`from_connections`); unit tests pass in-memory fakes.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from shared.clock import utc_now
from shared.connections import Connections
from shared.job_archive import JobArchive
from shared.queues import MessageQueue
from shared.repositories import DeviceGroupRepository, JobDeviceRepository, JobRepository, ensure_tables
from shared.storage_names import PLAN_QUEUE

DEFAULT_HISTORY_DAYS = 30


@dataclass(frozen=True)
class Collaborators:
    jobs: object  # JobRepository or its in-memory fake
    job_devices: object
    groups: object
    hub: object  # HubGateway
    plan_queue: object  # anything with send(text)
    clock: Callable[[], datetime] = utc_now
    history_days: int = DEFAULT_HISTORY_DAYS
    archive: object = None  # JobArchive: jobs purged after the history window


class LazyHub:
    """The hub gateway, built on first use: requests that never ask the hub work without it."""

    def __init__(self, connections: Connections):
        self._connections = connections

    def query_devices(self, query: str, continuation: str | None = None, page_size: int = 100):
        return self._connections.hub.query_devices(query, continuation, page_size)



def from_connections(connections: Connections) -> Collaborators:
    _ensure_tables_once(connections)
    # JOB_HISTORY_RETENTION_DAYS is retention's setting; the listing shows the same window.
    days = connections.settings.job_history_retention_days
    return Collaborators(jobs=JobRepository(connections.tables), job_devices=JobDeviceRepository(connections.tables),
                         groups=DeviceGroupRepository(connections.tables), hub=LazyHub(connections),
                         plan_queue=MessageQueue(connections, PLAN_QUEUE), history_days=days, archive=_archive(connections))


@lru_cache(maxsize=8)
def _archive(connections: Connections) -> JobArchive:
    archive = JobArchive.in_blob_storage(connections.blobs)
    archive.ensure_container()
    return archive


@lru_cache(maxsize=8)
def _ensure_tables_once(connections: Connections) -> None:
    ensure_tables(connections.tables)
