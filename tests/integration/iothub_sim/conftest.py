"""One in-process simulator for the whole module set, reset before every test.

Tests drive it only through the real `IoTHubRegistryManager` (SDK retries off) and its control API.
"""
from __future__ import annotations

import os
import uuid

import pytest

from local.iothub_sim import SimulatorHandle, start_simulator


@pytest.fixture(scope="session", autouse=True)
def no_proxy_for_loopback():
    """A configured HTTPS proxy must not intercept calls to the local simulator."""
    previous = os.environ.get("NO_PROXY")
    os.environ["NO_PROXY"] = "localhost,127.0.0.1"
    yield
    if previous is None:
        os.environ.pop("NO_PROXY", None)
    else:
        os.environ["NO_PROXY"] = previous


@pytest.fixture(scope="session")
def sim_state_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("iothub-sim-state"))


@pytest.fixture(scope="session")
def hub_session(sim_state_dir) -> SimulatorHandle:
    handle = start_simulator(fleet="demo", seed=1, sku="none", latency="fixed:5", failure_probability=0,
                             state_dir=sim_state_dir)
    yield handle
    handle.stop()


@pytest.fixture
def hub(hub_session: SimulatorHandle) -> SimulatorHandle:
    hub_session.control.reset()
    hub_session.control.set_fleet_behaviour(ack_delay="fixed:10", reboot_seconds=0.5)
    return hub_session


@pytest.fixture
def registry(hub: SimulatorHandle):
    return hub.registry_manager()


@pytest.fixture
def device_id(registry) -> str:
    """A freshly created (online, generic) device."""
    new_id = "t-" + uuid.uuid4().hex[:12]
    registry.create_device_with_sas(new_id, None, None, "enabled")
    return new_id
