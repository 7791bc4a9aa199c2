"""Access end to end: who may call the API and what they may do, through the whole stack
(Azurite, the simulator with the demo fleet, the dev host running the unchanged function_app.py,
each in a subprocess). One stack per module; a module's `HOST_SETTINGS` are its host's settings.

What a route requires is read from the blueprint itself (`route_actions`): each trigger is called
with `respond` replaced by a probe that records the Action it names, so the expectations of these
tests follow the code's own route-to-action mapping and the permission table, never a copy."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
import requests

from local.harness import Stack
from local.waiting import wait_for
from shared.domain.access import PERMISSIONS, Action, Role
from tests.e2e.conftest import Api

ENDED = ("completed", "failed", "cancelled")
_PARAMETER = re.compile(r"\{(\w+)\}")


class Client(Api):
    """The API as one caller sees it; `credential` is sent as Authorization (None: nothing)."""

    def __init__(self, base_url: str, credential: str | None = None, **headers: str):
        super().__init__(base_url, credential)
        self.session.headers.update(headers)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else super().url(path)  # a nextLink is absolute

    def items(self, path: str, **params) -> list[dict]:
        """Every item of a list, following each nextLink to the end."""
        found, url = [], path
        while url:
            response = self.get(url, params=params)
            assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:300]}"
            body = response.json()
            found.extend(body["value"])
            url, params = body.get("nextLink"), {}
        return found

    def job(self, job_id: str) -> dict:
        response = self.get(f"jobs/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_job(self, job_id: str, condition, what: str, timeout: float = 60) -> dict:
        return wait_for(lambda: condition(job := self.job(job_id)) and job, timeout=timeout, interval=0.2,
                        what=f"job {job_id} {what}")

    def wait_ended(self, job_id: str, timeout: float = 120) -> dict:
        return self.wait_job(job_id, lambda job: job["status"] in ENDED, "to end", timeout)

    def audit(self, **params: str) -> list[dict]:
        """Audit entries, newest first, through every page."""
        return self.items("auditLogs", **params)


def make_token(admin: Client, token_id: str, role: Role, days: int = 1) -> str:
    """An API token made as an Administrator makes one (PUT /apiTokens/{id}); its string is in that answer only."""
    expiry = (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()
    response = admin.put(f"apiTokens/{token_id}", {"roles": [{"role": role.id}], "expiry": expiry})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == token_id and body["roles"] == [{"role": role.id}]
    assert body["token"].startswith("SharedAccessSignature sr=") and f"&skn={token_id}&" in body["token"]
    return body["token"]


def device_filter(*device_ids: str) -> str:
    return "SELECT * FROM devices WHERE $id IN [" + ", ".join(f'"{d}"' for d in device_ids) + "]"


def make_group(client: Client, group_id: str, device_ids: list[str]) -> str:
    response = client.put(f"deviceGroups/{group_id}", {"displayName": group_id, "filter": device_filter(*device_ids)})
    assert response.status_code == 200, response.text
    return group_id


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def fill(template: str, **values: str) -> str:
    """An OpenAPI path (`/jobs/{jobId}`) with its parameters given, relative to /api."""
    return _PARAMETER.sub(lambda m: values.get(m.group(1), "x-1"), template).lstrip("/")


def assert_error(response: requests.Response, status: int, code: str) -> dict:
    """IoT Central's error shape, with the code in x-ms-error-code and the request id in both."""
    where = f"{response.request.method} {response.request.path_url}"
    assert response.status_code == status, f"{where}: {response.status_code} {response.text[:300]}"
    error = response.json()["error"]
    assert error["code"] == code == response.headers["x-ms-error-code"], where
    assert error["message"] and error["time"], where
    assert error["requestId"] == response.headers["x-ms-request-id"], where
    if status == 401:
        assert "SharedAccessSignature" in response.headers["WWW-Authenticate"], where
    return error


def route_actions() -> dict[tuple[str, str], Action | None]:
    """(method, OpenAPI path) → the Action the blueprint's trigger passes to `respond`, for
    every route that names one (the public ones answer before asking who calls)."""
    import azure.functions as func

    import jobs_api.blueprint as blueprint
    from jobs_api.openapi import OPERATIONS

    public = {(operation.method, operation.path) for operation in OPERATIONS if operation.public}
    app = func.FunctionApp()
    app.register_functions(blueprint.bp)

    class Named(Exception):
        def __init__(self, permission):
            self.permission = permission

    def probe(req, permission, action):
        raise Named(permission)

    found: dict[tuple[str, str], Action | None] = {}
    with mock.patch.object(blueprint, "respond", probe):
        for function in app.get_functions():
            trigger = function.get_trigger()
            for method in trigger.methods or ():  # the catch-all has none: it is public
                key = (method.value.lower(), "/" + trigger.route)
                if key in public:
                    continue
                request = func.HttpRequest(method.value, f"http://127.0.0.1/api/{trigger.route}", headers={},
                                           body=b"", route_params={})
                with pytest.raises(Named) as named:
                    function.get_user_function()(request)
                found[key] = named.value.permission
    return found


def permitted(role: Role, action: Action) -> bool:
    return action in PERMISSIONS.get(role.id, frozenset())


@pytest.fixture(scope="module")
def stack(request):
    """The module's own stack; its host runs with the module's HOST_SETTINGS."""
    stack = Stack.started(**getattr(request.module, "HOST_SETTINGS", {}))
    yield stack
    stack.close()


@pytest.fixture(scope="module")
def admin(stack) -> Client:
    """The stack's Administrator API token (written to storage as `python -m shared.access.admin_token` does)."""
    return Client(stack.host.base_url, stack.admin_token)


def prepare_devices(stack: Stack, device_ids: list[str], **behaviour) -> None:
    """Connected, with the given behaviour (failure_probability 0 unless said)."""
    control = stack.hub.control
    for device_id in device_ids:
        control.set_online(device_id, True)
        control.set_behaviour(device_id, **{"failure_probability": 0, **behaviour})


def received(stack: Stack, device_id: str, operation: str = "invoke_device_method") -> list[dict]:
    return stack.log_of(device_id, operation)
