"""Use cases over the in-memory repositories, a fake hub and a fake plan queue."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from jobs_api.collaborators import Collaborators
from jobs_api.models import JobDefinition
from shared.domain.groups import DeviceGroup
from shared.hub_gateway import INVALID_QUERY, DevicePage, DeviceSummary, HubFailure
from shared.repositories.in_memory import (InMemoryDeviceGroupRepository, InMemoryJobDeviceRepository,
                                           InMemoryJobRepository)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
_IN_LIST = re.compile(r"deviceId IN \[(.*)\]")


class FakeHub:
    """Group members by id; a query with `((` is one IoT Hub refuses."""

    def __init__(self, devices: list[DeviceSummary]):
        self.devices = {device.device_id: device for device in devices}
        self.queries: list[str] = []
        self.failure: HubFailure | None = None

    def query_devices(self, query: str, continuation: str | None = None, page_size: int = 100) -> DevicePage:
        self.queries.append(query)
        if self.failure:
            raise self.failure
        if "((" in query:
            raise HubFailure(INVALID_QUERY, "syntax error near ((", 400)
        listed = _IN_LIST.search(query)
        wanted = set(re.findall(r"'((?:[^'\\]|\\.)*)'", listed.group(1))) if listed else None
        found = [device for device_id, device in sorted(self.devices.items())
                 if wanted is None or device_id.replace("'", "\\'") in wanted]
        return DevicePage(found[:page_size], None)


class FakeQueue:
    def __init__(self):
        self.messages: list[str] = []
        self.broken = False

    def send(self, text: str) -> None:
        if self.broken:
            raise ConnectionError("queue service unreachable")
        self.messages.append(text)


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub([DeviceSummary("vending-0001"), DeviceSummary("vending-0002"),
                    DeviceSummary("edge-gateway-01", is_edge=True)])


@pytest.fixture
def ctx(hub) -> Collaborators:
    groups = InMemoryDeviceGroupRepository()
    groups.save(DeviceGroup("west", "West", 'SELECT * FROM devices WHERE tags.region = "west"'))
    return Collaborators(jobs=InMemoryJobRepository(), job_devices=InMemoryJobDeviceRepository(), groups=groups,
                         hub=hub, plan_queue=FakeQueue(), clock=Clock())


def definition(**changes) -> JobDefinition:
    body = {"displayName": "Fan", "group": "west", "data": [{"type": "property", "path": "fanSpeed", "value": 2}]}
    body.update(changes)
    return JobDefinition.model_validate(body)
