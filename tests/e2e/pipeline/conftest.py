"""End-to-end tests of the pipeline: jobs made and watched through the HTTP API of a dev host
in a subprocess, checked against the simulator's per-device logs."""
from __future__ import annotations

import re
import uuid

import pytest
import requests

from local.fault_proxy import FaultProxy
from local.harness import HostProcess, Stack
from local.waiting import wait_for
from tests.e2e.conftest import Api

ENDED = ("completed", "failed", "cancelled")


class Jobs:
    """The product's API as these tests use it."""

    def __init__(self, stack: Stack):
        self.stack = stack

    @property
    def api(self) -> Api:
        return Api(self.stack.host.base_url, self.stack.admin_token)

    def group(self, filter_: str) -> str:
        group_id = "g-" + uuid.uuid4().hex[:10]
        response = self.api.put(f"deviceGroups/{group_id}", {"displayName": group_id, "filter": filter_})
        assert response.status_code in (200, 201), response.text
        return group_id

    def start(self, group_id: str, data: list[dict], devices: list[str] | None = None, **more) -> str:
        job_id = "j-" + uuid.uuid4().hex[:10]
        body = {"displayName": job_id, "group": group_id, "data": data, **more}
        if devices is not None:
            body["devices"] = devices
        response = self.api.put(f"jobs/{job_id}", body)
        assert response.status_code in (200, 201), response.text
        return job_id

    def get(self, job_id: str) -> dict:
        response = self.api.get(f"jobs/{job_id}")
        assert response.ok, response.text
        return response.json()

    def action(self, job_id: str, name: str) -> requests.Response:
        return self.api.post(f"jobs/{job_id}/{name}")

    def wait_ended(self, job_id: str, timeout: float = 120) -> dict:
        return wait_for(lambda: (job := self.get(job_id))["status"] in ENDED and job, timeout=timeout,
                        interval=0.3, what=f"job {job_id} to end")

    def devices(self, job_id: str) -> dict[str, dict]:
        return devices_of(self.api, job_id)


def devices_of(api: Api, job_id: str) -> dict[str, dict]:
    """Every device of the job, by id, through the API's pages."""
    found, url = {}, f"jobs/{job_id}/devices"
    while url:
        body = api.get(url).json()
        found.update({device["id"]: device for device in body["value"]})
        url = body.get("nextLink")
        if url:
            url = url.split("/api/", 1)[1]
    return found


@pytest.fixture(scope="session")
def stack():
    stack = Stack()
    stack.host.start()
    yield stack
    stack.close()


@pytest.fixture
def jobs(stack) -> Jobs:
    stack.hub.control.reset()
    return Jobs(stack)


def assert_counts_add_up(progress: dict) -> None:
    assert progress["pending"] + progress["running"] + progress["completed"] + progress["failed"] == progress["total"]


@pytest.fixture
def host_settings(stack):
    """Restart the dev host with other settings for one test; the session's settings come back after."""
    original, changed = dict(stack.host.environ), []

    def restart(**settings: str):
        changed.append(settings)
        stack.host.restart(**settings)

    yield restart
    if changed:
        stack.host.stop()
        stack.host.environ = original
        stack.host.start()


def executed(stack: Stack, function: str) -> int:
    """How many invocations of `function` the host has finished so far (its log lines)."""
    return stack.host.log_path.read_text(errors="replace").count(f"Executed 'Functions.{function}'")


def log_of(stack: Stack, device_id: str, operation: str) -> list[dict]:
    return stack.log_of(device_id, operation)


@pytest.fixture
def proxied_host(stack):
    """`start(services, **settings)`: a dev host whose storage endpoints of `services` (Table,
    Queue, Blob) run through FaultProxy instances, returned with them; the session's host is
    stopped meanwhile, so that one alone takes the messages."""
    started: list[tuple[HostProcess, list[FaultProxy]]] = []

    def start(services: tuple[str, ...], **settings: str) -> tuple[HostProcess, list[FaultProxy]]:
        connection, proxies = stack.host.environ["AzureWebJobsStorage"], []
        for service in services:
            port = int(re.search(rf"{service}Endpoint=http://127\.0\.0\.1:(\d+)/", connection).group(1))
            proxies.append(FaultProxy(port))
            connection = connection.replace(f"{service}Endpoint=http://127.0.0.1:{port}/",
                                            f"{service}Endpoint=http://127.0.0.1:{proxies[-1].port}/")
        stack.host.stop()
        host = HostProcess({**stack.host.environ, "AzureWebJobsStorage": connection, **settings}).start()
        started.append((host, proxies))
        return host, proxies

    yield start
    for host, proxies in started:
        host.stop()
        for proxy in proxies:
            proxy.close()
    if started:
        stack.host.start()
