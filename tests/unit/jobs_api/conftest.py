"""Use cases over the in-memory repositories, a fake hub and a fake plan queue (tests/fakes.py)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from jobs_api.models import JobDefinition
from shared.collaborators import Collaborators
from shared.domain.groups import DeviceGroup
from shared.hub_gateway import DeviceSummary
from shared.repositories.in_memory import InMemoryDeviceGroupRepository
from tests.fakes import START, FakeClock, FakeHub, collaborators

NOW = START


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub([DeviceSummary("vending-0001"), DeviceSummary("vending-0002"),
                    DeviceSummary("edge-gateway-01", is_edge=True)])


@pytest.fixture
def ctx(hub) -> Collaborators:
    groups = InMemoryDeviceGroupRepository()
    groups.save(DeviceGroup("west", "West", 'SELECT * FROM devices WHERE tags.region = "west"'))
    return collaborators(groups=groups, hub=hub, clock=FakeClock(step=timedelta(seconds=1)))


def definition(**changes) -> JobDefinition:
    body = {"displayName": "Fan", "group": "west", "data": [{"type": "property", "path": "fanSpeed", "value": 2}]}
    body.update(changes)
    return JobDefinition.model_validate(body)
