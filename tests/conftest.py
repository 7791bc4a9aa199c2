"""Fixtures shared by every test tier.

Integration and end-to-end tests start their own Azurite on free ports, so a running
`make run` never disturbs them and they never disturb it.
"""
from __future__ import annotations

import uuid

import pytest

from local.azurite import Azurite, start_azurite


@pytest.fixture(scope="session")
def azurite() -> Azurite:
    server = start_azurite()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def storage_connection_string(azurite: Azurite) -> str:
    return azurite.connection_string


@pytest.fixture
def unique_name() -> str:
    """A fresh name for a queue, table or container (lower-case letters and digits)."""
    return "t" + uuid.uuid4().hex[:20]
