"""What the planner and the sender work with, passed in: repositories, the hub gateway, the
queues, a pool for devices, clocks and the pipeline's settings.

The queue triggers build the real ones once per process (`from_connections`); unit tests pass
in-memory fakes.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.clock import utc_now
from shared.connections import Connections
from shared.pacing import OneWriterPerJob
from shared.queues import MessageQueue
from shared.repositories import DeviceGroupRepository, JobDeviceRepository, JobRepository, ensure_tables
from shared.storage_names import DISPATCH_QUEUE, OUTCOMES_QUEUE, PLAN_QUEUE

from dispatcher.leftovers import sender_lease


@dataclass(frozen=True)
class Collaborators:
    jobs: object  # JobRepository or its in-memory fake
    job_devices: object
    groups: object
    hub: object  # HubGateway
    plan_queue: object  # anything with send(text, delay_seconds=0)
    dispatch_queue: object
    outcomes_queue: object
    devices_pool: Executor  # bounds how many devices one process sends to at once
    clock: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic
    plan_seconds: float = 120
    stall_seconds: float = 900
    status_check_seconds: float = 1
    sender_lease: timedelta | None = timedelta(minutes=11)  # see leftovers.sender_lease


def from_connections(connections: Connections) -> Collaborators:
    ensure_tables(connections.tables)
    settings = connections.settings
    return Collaborators(
        jobs=JobRepository(connections.tables),
        job_devices=OneWriterPerJob(JobDeviceRepository(connections.tables)),
        groups=DeviceGroupRepository(connections.tables), hub=connections.hub,
        plan_queue=MessageQueue(connections, PLAN_QUEUE), dispatch_queue=MessageQueue(connections, DISPATCH_QUEUE),
        outcomes_queue=MessageQueue(connections, OUTCOMES_QUEUE),
        devices_pool=ThreadPoolExecutor(settings.dispatch_concurrency, thread_name_prefix="device"),
        plan_seconds=settings.plan_seconds_per_invocation, stall_seconds=settings.dispatch_stall_seconds,
        status_check_seconds=settings.dispatch_status_check_seconds, sender_lease=sender_lease())
