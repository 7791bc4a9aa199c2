"""What every stage works with, passed in as one `Collaborators`: the stores, the hub, the
queues, the archive, a pool for devices, clocks and the settings.

Each trigger takes the process's one set from the composition root (`shared.bootstrap`); unit
tests build their own with in-memory stores and fakes. The fields are typed by what the stages
use of them (the protocols below), so a fake says what it stands in for.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from shared.clock import utc_now
from shared.domain.access import Caller
from shared.domain.devices import DevicePage
from shared.domain.groups import DeviceGroup
from shared.host_config import HostConfig
from shared.hub_gateway import DeviceSummary, ExportState, MethodResult
from shared.job_archive import JobArchive
from shared.registry_exports import RegistryExports
from shared.repositories.access import ApiTokenStore, UserStore
from shared.repositories.audit_log import AuditLogStore
from shared.repositories.job_devices import AbstractJobDeviceRepository
from shared.repositories.jobs import JobStore
from shared.repositories.scheduled_jobs import ScheduledJobStore
from shared.settings import Settings


SYSTEM = Caller.system("app")


class GroupStore(Protocol):
    def save(self, group: DeviceGroup, if_match: str | None = None) -> DeviceGroup: ...
    def get(self, group_id: str) -> DeviceGroup: ...
    def delete(self, group_id: str) -> None: ...
    def list(self) -> list[DeviceGroup]: ...
    def count(self) -> int: ...


class Hub(Protocol):
    """The IoT Hub gateway (shared.hub_gateway.HubGateway)."""
    def query_devices(self, query: str, continuation: str | None = None,
                      page_size: int = 100) -> DevicePage[DeviceSummary]: ...
    def patch_desired(self, device_id: str, desired: dict) -> None: ...
    def patch_tags(self, device_id: str, tags: dict) -> None: ...
    def invoke_method(self, device_id: str, method_name: str, payload: object = None, response_timeout: int = 30,
                      connect_timeout: int = 0) -> MethodResult: ...
    def export_devices(self, container_url: str, blob_name: str) -> str: ...
    def export_state(self, job_id: str) -> ExportState: ...


class MessageSender(Protocol):
    """One of the app's queues (shared.queues.MessageQueue)."""
    def send(self, text: str, delay_seconds: float = 0) -> None: ...


class DevicePool(Protocol):
    """Runs devices concurrently, bounded per process (a concurrent.futures.Executor)."""
    def map(self, function: Callable, items: Iterable) -> Iterator: ...


class SerialPool:
    """One device at a time, in the caller's thread: for tests and single-threaded tools."""

    def map(self, function: Callable, items: Iterable) -> Iterator:
        return iter([function(item) for item in items])


@dataclass(frozen=True)
class Collaborators:
    jobs: JobStore
    job_devices: AbstractJobDeviceRepository
    groups: GroupStore
    hub: Hub
    plan_queue: MessageSender
    dispatch_queue: MessageSender
    outcomes_queue: MessageSender
    archive: JobArchive | None = None  # jobs purged after the history window
    registry_exports: RegistryExports | None = None  # where IoT Hub exports its registry for planning
    scheduled_jobs: ScheduledJobStore | None = None  # IoT Central's scheduled jobs; the scheduler starts their runs
    # Access (the HTTP API's): API tokens, role assignments, the audit log.
    api_tokens: ApiTokenStore | None = None
    users: UserStore | None = None
    audit_log: AuditLogStore | None = None
    devices_pool: DevicePool = field(default_factory=SerialPool)
    settings: Settings = field(default_factory=Settings)
    host: HostConfig = field(default_factory=HostConfig.read)  # host.json, as the host applies it
    caller: Caller = SYSTEM  # who the request is from (an HTTP caller); the app itself for triggers
    clock: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    @property
    def exports_on(self) -> bool:
        """Whether planning may ask IoT Hub for registry exports (PLAN_FROM_REGISTRY_EXPORT, and a
        container for them)."""
        return self.settings.plan_from_registry_export and self.registry_exports is not None
