"""Hardening tests: the product over HTTP, each module against a stack of its own (Azurite, the
simulator and a dev host, in subprocesses), with faults: hub throttling, outages, callers that
would spend the hub's quota."""
from __future__ import annotations

import uuid

import pytest
from azure.data.tables import UpdateMode

from local.azurite import start_azurite
from local.harness import Stack
from local.waiting import wait_for
from shared.repositories import ensure_tables
from shared.storage_names import DEVICE_GROUPS_TABLE, QUEUES
from tests.e2e.conftest import Api

ENDED = ("completed", "failed", "cancelled")
# The app's own defaults: one S1 unit's limits, for a simulator throttled like S1.
S1_PACING = {"HUB_TWIN_READS_PER_SECOND": "100", "HUB_TWIN_UPDATES_PER_SECOND": "50",
             "HUB_METHOD_UNITS_PER_SECOND": "40", "HUB_QUERIES_PER_MINUTE": "20"}


start_stack = Stack.started


def stop_storage(stack: Stack) -> None:
    """A storage outage: Azurite stops, and its ports refuse connections."""
    stack.azurite.stop()


def start_storage(stack: Stack) -> None:
    """Azurite again, on the same ports. It holds data in memory only, so it comes back empty:
    the app's tables and queues are made again, as the deployment would have them."""
    ports = stack.azurite.ports
    stack.azurite = start_azurite(ports["blob"], ports["queue"], ports["table"])
    ensure_tables(stack.tables)
    for name in QUEUES:
        stack.queue(name).create_queue()


class Client(Api):
    """The API as these tests use it, plus the stack behind it."""

    def __init__(self, stack: Stack):
        super().__init__(stack.host.base_url, stack.admin_token)
        self.stack = stack

    def group(self, filter_: str) -> str:
        group_id = "g-" + uuid.uuid4().hex[:10]
        response = self.put(f"deviceGroups/{group_id}", {"displayName": group_id, "filter": filter_})
        assert response.status_code == 200, response.text
        return group_id

    def stored_group(self, filter_: str) -> str:
        """A group saved earlier (written to its table as the API writes it), so no check of it
        is remembered."""
        group_id = "g-" + uuid.uuid4().hex[:10]
        table = self.stack.tables.get_table_client(DEVICE_GROUPS_TABLE)
        table.upsert_entity({"PartitionKey": "group", "RowKey": group_id, "displayName": group_id,
                             "filter": filter_}, mode=UpdateMode.REPLACE)
        return group_id

    def job_body(self, group_id: str, data: list[dict], **more) -> dict:
        return {"displayName": "hardening", "group": group_id, "data": data, **more}

    def start(self, group_id: str, data: list[dict], **more) -> str:
        job_id = "j-" + uuid.uuid4().hex[:10]
        response = self.put(f"jobs/{job_id}", self.job_body(group_id, data, **more))
        assert response.status_code == 200, response.text
        return job_id

    def job(self, job_id: str) -> dict:
        response = self.get(f"jobs/{job_id}")
        assert response.ok, response.text
        return response.json()

    def wait_ended(self, job_id: str, timeout: float = 300) -> dict:
        return wait_for(lambda: (job := self.job(job_id))["status"] in ENDED and job, timeout=timeout,
                        interval=0.5, what=f"job {job_id} to end")

    def wait_healthy(self, timeout: float = 60) -> dict:
        return wait_for(lambda: (r := self.get("health")).status_code == 200 and r.json(), timeout=timeout,
                        what="GET /api/health to answer 200")

    def log_of(self, device_id: str, operation: str) -> list[dict]:
        return self.stack.log_of(device_id, operation)


def device_filter(*device_ids: str) -> str:
    return "SELECT * FROM devices WHERE $id IN [" + ", ".join(f'"{d}"' for d in device_ids) + "]"


@pytest.fixture(scope="module")
def stack():
    """The module's own stack, with the app's defaults; a module that needs other settings
    defines its own `stack`."""
    stack = start_stack()
    yield stack
    stack.close()


@pytest.fixture
def client(stack) -> Client:
    """The API of a healthy stack whose simulator has forgotten earlier tests' faults and logs."""
    stack.hub.control.reset()
    client = Client(stack)
    client.wait_healthy()
    return client
