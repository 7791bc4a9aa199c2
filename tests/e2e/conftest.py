"""The whole product over HTTP: Azurite, the IoT Hub simulator with the demo fleet, and the
dev host running the unchanged function_app.py. One stack per test session."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from local.functions_host import start_host
from local.iothub_sim import start_simulator
from local.stack import LOCAL_APP_SETTINGS

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
            **LOCAL_APP_SETTINGS}


@pytest.fixture(scope="session")
def app_host(app_environment):
    host = start_host(str(PROJECT_ROOT), port=0, environ=app_environment)
    yield host
    host.stop()


class Api:
    """A thin HTTP client for the product's API; returns requests.Response objects."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()

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
def api(app_host) -> Api:
    return Api(app_host.base_url)

