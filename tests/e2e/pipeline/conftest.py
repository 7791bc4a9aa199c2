"""End-to-end tests of the pipeline: jobs made and watched through the HTTP API of a dev host
in a subprocess, checked against the simulator's per-device logs."""
from __future__ import annotations

import uuid

import pytest
import requests

from tests.e2e.conftest import Api
from local.harness import Stack
from local.waiting import wait_for

ENDED = ("completed", "failed", "cancelled")


class Jobs:
    """The product's API as these tests use it."""

    def __init__(self, stack: Stack):
        self.stack = stack

    @property
    def api(self) -> Api:
        return Api(self.stack.host.base_url)

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
        found, url = {}, f"jobs/{job_id}/devices"
        while url:
            body = self.api.get(url).json()
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
    """Restart the dev host with other settings for one test; the fast ones come back after."""
    changed = []

    def restart(**settings: str):
        changed.append(settings)
        stack.host.restart(**settings)

    yield restart
    if changed:
        from local.harness import FAST_SETTINGS
        stack.host.restart(**FAST_SETTINGS)


def executed(stack: Stack, function: str) -> int:
    """How many invocations of `function` the host has finished so far (its log lines)."""
    return stack.host.log_path.read_text(errors="replace").count(f"Executed 'Functions.{function}'")


def log_of(stack: Stack, device_id: str, operation: str) -> list[dict]:
    return [entry for entry in stack.hub.control.device_log(device_id) if entry["operation"] == operation]
