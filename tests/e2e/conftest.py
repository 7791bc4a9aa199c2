"""The whole product over HTTP: Azurite, the IoT Hub simulator with the demo fleet, and the
dev host running the unchanged function_app.py. One stack per test session."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from azure.data.tables import TableServiceClient

from local.functions_host import start_host
from local.iothub_sim import start_simulator
from local.stack import LOCAL_APP_SETTINGS
from shared.access.admin_token import create_token
from shared.repositories import ensure_tables
from shared.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def hub():
    """The simulator in its own process, unthrottled; tests that change devices restore them."""
    with start_simulator(fleet="demo", seed=1, sku="none", in_subprocess=True) as simulator:
        yield simulator


@pytest.fixture(scope="session")
def app_environment(azurite, hub) -> dict[str, str]:
    return {"AzureWebJobsStorage": azurite.connection_string,
            "IOTHUB_CONNECTION_STRING": hub.connection_string,
            "REQUESTS_CA_BUNDLE": hub.ca_bundle,
            "NO_PROXY": "localhost,127.0.0.1",
            # The simulator is unthrottled here; pacing queries at S1's 20 a minute would only slow the tests.
            "HUB_QUERIES_PER_MINUTE": "0",
            # The tests are one caller, faster than any: the per-caller limit has a test of its own.
            "API_REQUESTS_PER_SECOND": "10000", "API_REQUEST_BURST": "100000",
            **LOCAL_APP_SETTINGS}


@pytest.fixture(scope="session")
def app_host(app_environment):
    host = start_host(str(PROJECT_ROOT), port=0, environ=app_environment)
    yield host
    host.stop()


class Api:
    """A thin HTTP client for the product's API; returns requests.Response objects."""

    def __init__(self, base_url: str, token: str | None = None):
        """`token`: the caller's credential, sent in Authorization with every request."""
        self.base_url = base_url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = token

    def url(self, path: str) -> str:
        return f"{self.base_url}/api/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.url(path), timeout=60, **kwargs)

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def put(self, path: str, body=None, **kwargs):
        return self.request("PUT", path, json=body, **kwargs)

    def post(self, path: str, body=None, **kwargs):
        return self.request("POST", path, json=body, **kwargs)

    def patch(self, path: str, body=None, **kwargs):
        return self.request("PATCH", path, json=body, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture(scope="session")
def admin_token(azurite, app_environment) -> str:
    """An Administrator API token of the session's app, made as `python -m shared.access.admin_token` makes one."""
    tables = TableServiceClient.from_connection_string(azurite.connection_string)
    ensure_tables(tables)
    return create_token(tables, Settings.from_environ(app_environment), "e2e-admin", days=2, created_by="system:e2e")


@pytest.fixture(scope="session")
def api(app_host, admin_token) -> Api:
    return Api(app_host.base_url, admin_token)

