"""Helpers for the API's end-to-end tests: unique ids, groups and jobs on the demo fleet."""
from __future__ import annotations

import uuid

import pytest
from azure.data.tables import TableServiceClient

from shared.storage_names import DEVICE_GROUPS_TABLE

STARTED_OR_LATER = {"pending", "running", "completed", "failed"}


@pytest.fixture(scope="session")
def app_environment(app_environment) -> dict[str, str]:
    """The e2e stack's, with hub query pacing off: the simulator runs unthrottled (sku none), and
    the API asks the hub on every group read and job start. Only effective when these tests start
    the session's stack; see the report (tests/e2e/conftest.py should set it for everyone)."""
    return {**app_environment, "HUB_QUERIES_PER_MINUTE": "0"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def device_filter(*device_ids: str) -> str:
    listed = ", ".join(f'"{device_id}"' for device_id in device_ids)
    return f"SELECT * FROM devices WHERE $id IN [{listed}]"


@pytest.fixture
def make_group(api):
    """PUT a group (default: three vending machines) and return its id."""
    def make(filter: str | None = None, display_name: str = "Test group") -> str:
        group_id = unique("group")
        body = {"displayName": display_name,
                "filter": filter or device_filter("vending-0001", "vending-0002", "vending-0003")}
        response = api.put(f"deviceGroups/{group_id}", body)
        assert response.status_code == 200, response.text
        return group_id
    return make


def job_body(group_id: str, **changes) -> dict:
    body = {"displayName": "Set fan speed", "group": group_id,
            "data": [{"type": "property", "path": "fanSpeed", "value": 2}]}
    body.update(changes)
    return body


@pytest.fixture
def group_table(azurite):
    """The devicegroups table itself, to store what the API would refuse (a corrupted group)."""
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    return service.get_table_client(DEVICE_GROUPS_TABLE)
