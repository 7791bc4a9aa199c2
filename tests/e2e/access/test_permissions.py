"""The permission table, acted out: every endpoint that needs a caller, called by no credential,
by a token of each role, and by an expired, a revoked and a tampered token, answers as the table
says. Refused requests answer 401 (with WWW-Authenticate) or 403 in IoT Central's error shape,
change nothing (read back as an Administrator: groups, jobs, tokens, users, and what the hub and
its devices received) and each leaves one audit entry naming the action, the outcome and who the
credential claimed to be. Allowed requests pass the gate and get whatever the use case answers.

The expectations come from the code: the route's Action (read from the blueprint's triggers,
`route_actions`) and PERMISSIONS. A few cells written by hand from what each role is for check
the table itself. Every refused request is made before any allowed one (the refusal tests come
first in this module), against targets an allowed caller would change: a new group, a running
job to stop, a stopped job with a device still to send to, drafts to edit, run and delete, an
ended job with a failed device to rerun, a token and a user to delete."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from jobs_api.openapi import OPERATIONS
from shared.access import api_tokens
from shared.clock import utc_now
from shared.domain.access import ADMINISTRATOR, BUILDER, OPERATOR, ROLES, VIEWER, Role
from shared.repositories.access import ApiTokenRepository
from shared.settings import Settings
from shared.storage_names import QUEUES
from tests.e2e.access.conftest import (Client, assert_error, device_filter, fill, make_group, make_token, permitted,
                                       prepare_devices, route_actions)

ACTIONS = route_actions()
ENDPOINTS = [(operation.method, operation.path) for operation in OPERATIONS if not operation.public]
ROLE_ORDER = (VIEWER, BUILDER, OPERATOR, ADMINISTRATOR)  # allowed callers go in this order
ALLOWED_ANSWERS = {200, 201, 204, 400, 404, 409}

# The fixtures' devices, each group its own.
PERM_DEVICES = ["vending-0101", "vending-0102"]  # g-perm: drafts, new jobs
DOOMED_DEVICES = ["vending-0103"]
STOPPED_DEVICES = [f"vending-{n:04d}" for n in range(201, 218)]  # 17: one more than a host sends to at once
RUNNING_DEVICE = "vending-0301"  # offline: its command waits up to connectTimeout
ENDED_DEVICES = ["vending-0401", "vending-0402", "vending-0403"]  # the last one fails
WATCHED = PERM_DEVICES + DOOMED_DEVICES + STOPPED_DEVICES + [RUNNING_DEVICE] + ENDED_DEVICES
ECHO = [{"type": "command", "path": "echo", "value": {"from": "permissions"}}]

# Cells written by hand from what each role is for (IoT Central's roles, and our read-only
# Viewer): so that a wrong permission table fails here, not only the code that reads it.
HAND_WRITTEN = [
    (VIEWER, "get", "/jobs", True),
    (VIEWER, "get", "/jobs/{jobId}/report.csv", True),
    (VIEWER, "get", "/deviceGroups/{deviceGroupId}/devices", True),
    (VIEWER, "put", "/jobs/{jobId}", False),
    (VIEWER, "post", "/jobs/{jobId}/stop", False),
    (VIEWER, "put", "/deviceGroups/{deviceGroupId}", False),
    (BUILDER, "put", "/deviceGroups/{deviceGroupId}", True),
    (BUILDER, "delete", "/deviceGroups/{deviceGroupId}", True),
    (BUILDER, "post", "/jobs/{jobId}/stop", False),
    (BUILDER, "put", "/jobs/{jobId}", False),
    (BUILDER, "put", "/apiTokens/{tokenId}", False),
    (OPERATOR, "put", "/jobs/{jobId}", True),
    (OPERATOR, "post", "/jobs/{jobId}/stop", True),
    (OPERATOR, "put", "/jobs/{jobId}/rerun/{rerunId}", True),
    (OPERATOR, "put", "/deviceGroups/{deviceGroupId}", False),
    (OPERATOR, "put", "/apiTokens/{tokenId}", False),
    (OPERATOR, "put", "/users/{userId}", False),
    (OPERATOR, "get", "/auditLogs", False),
    (ADMINISTRATOR, "put", "/apiTokens/{tokenId}", True),
    (ADMINISTRATOR, "delete", "/users/{userId}", True),
    (ADMINISTRATOR, "get", "/auditLogs", True),
    (VIEWER, "get", "/scheduledJobs/{scheduledJobId}", True),
    (VIEWER, "put", "/scheduledJobs/{scheduledJobId}", False),
    (BUILDER, "delete", "/scheduledJobs/{scheduledJobId}", False),
    (OPERATOR, "put", "/scheduledJobs/{scheduledJobId}", True),
]


@dataclass(frozen=True)
class Credential:
    """A refused credential and how its refusal must look."""
    name: str
    authorization: str | None
    status: int
    token_id: str = ""  # 401: the token id it claims (unverified); 403: the token's id

    @property
    def code(self) -> str:
        return "Unauthorized" if self.status == 401 else "Forbidden"

    @property
    def outcome(self) -> str:
        return "unauthenticated" if self.status == 401 else "forbidden"

    def assert_audited_caller(self, caller: dict, role_ids: list[str]) -> None:
        if self.status == 403:
            assert caller == {"type": "apiToken", "id": self.token_id, "displayName": self.token_id,
                              "roles": role_ids}, self.name
            return
        # No verified caller: an id anyone can claim is shown, never taken for the caller's.
        assert (caller["type"], caller["id"], caller["roles"]) == ("anonymous", "", []), self.name
        if self.token_id:
            assert self.token_id in caller["displayName"], self.name
        else:
            assert caller["displayName"] == "unauthenticated", self.name


@dataclass(frozen=True)
class Call:
    """A request of an endpoint: `answer` is what its first allowed caller gets (the target is
    there to act on); `resource` what the audit log names as acted on (the path, without what is
    done to it: `jobs/j1` for `jobs/j1/stop`)."""
    path: str
    body: dict | None = None
    answer: int = 200
    resource: str = ""

    @property
    def audited(self) -> str:
        return self.resource or self.path


@dataclass
class World:
    stack: object
    admin: Client
    tokens: dict[str, str]  # role id -> token
    unauthenticated: list[Credential]
    calls: dict[tuple[str, str], "Call"]  # endpoint -> the request made of it
    revocation: list = field(default_factory=list)  # the revoked token's answers: before, the delete, after
    baseline: dict = field(default_factory=dict)  # the snapshot before any refused request

    def client(self, authorization: str | None) -> Client:
        return Client(self.stack.host.base_url, authorization)

    def refused(self, action) -> list[Credential]:
        by_role = [Credential(role.display_name, self.tokens[role.id], 403, token_id(role))
                   for role in ROLE_ORDER if not permitted(role, action)]
        return self.unauthenticated + by_role

    def snapshot(self) -> dict:
        """Everything a request could change, as an Administrator reads it, and what the hub did."""
        control = self.stack.hub.control
        return {"deviceGroups": self.admin.items("deviceGroups"), "jobs": self.admin.items("jobs"),
                "apiTokens": self.admin.items("apiTokens"), "users": self.admin.items("users"),
                "scheduledJobs": self.admin.items("scheduledJobs"),
                "queued": {name: self.stack.queue(name).get_queue_properties().approximate_message_count
                           for name in QUEUES},
                "hub calls": control.counters(),
                "device logs": {device_id: control.device_log(device_id) for device_id in WATCHED}}


def token_id(role: Role) -> str:
    return f"perm-{role.display_name.lower()}"


def tampered(token: str, field_name: str) -> str:
    """`token` with one character of its field `field_name` changed."""
    scheme, _, fields = token.partition(" ")
    pairs = [pair.split("=", 1) for pair in fields.split("&")]
    for pair in pairs:
        name, value = pair
        if name != field_name:
            continue
        if name == "sig":
            middle = len(value) // 2
            pair[1] = value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1:]
        elif name == "se":
            pair[1] = str(int(value[0]) + 1) + value[1:]  # a later expiry: the tempting change
        elif name == "skn":
            pair[1] = value[:-1] + "b"  # perm-tamper-a -> perm-tamper-b: another real token's id
    changed = scheme + " " + "&".join("=".join(pair) for pair in pairs)
    assert len(changed) == len(token) and sum(a != b for a, b in zip(changed, token)) == 1
    return changed


def expired_token(stack, record_id: str) -> str:
    """An Administrator's token whose record, written to storage, expired an hour ago."""
    now = utc_now()
    app = Settings.from_environ(stack.host.environ).app_name
    minted = api_tokens.mint(record_id, (ADMINISTRATOR.id,), now - timedelta(hours=1), app, now - timedelta(days=1),
                             created_by="system:e2e")
    ApiTokenRepository(stack.tables).add(minted.record)
    return minted.token


@pytest.fixture(scope="module")
def world(stack, admin) -> World:
    tokens = {role.id: make_token(admin, token_id(role), role) for role in ROLES}

    revoked = make_token(admin, "perm-revoked", ADMINISTRATOR)
    revoked_client = Client(stack.host.base_url, revoked)
    revocation = [revoked_client.get("apiTokens"), admin.delete("apiTokens/perm-revoked"),
                  revoked_client.get("apiTokens")]

    tamper_base = make_token(admin, "perm-tamper-a", ADMINISTRATOR)
    make_token(admin, "perm-tamper-b", ADMINISTRATOR)
    assert Client(stack.host.base_url, tamper_base).get("apiTokens").status_code == 200  # valid before the change
    unauthenticated = [
        Credential("no credential", None, 401),
        Credential("expired", expired_token(stack, "perm-expired"), 401, "perm-expired"),
        Credential("revoked", revoked, 401, "perm-revoked"),
        Credential("tampered sig", tampered(tamper_base, "sig"), 401, "perm-tamper-a"),
        Credential("tampered se", tampered(tamper_base, "se"), 401, "perm-tamper-a"),
        Credential("tampered skn", tampered(tamper_base, "skn"), 401, "perm-tamper-b"),
    ]

    make_token(admin, "perm-victim", VIEWER)
    for user_id in ("u-perm", "u-victim"):
        response = admin.put(f"users/{user_id}", {"type": "email", "email": f"{user_id}@contoso.com",
                                                  "roles": [{"role": VIEWER.id}]})
        assert response.status_code == 200, response.text

    # Devices and groups, then the jobs in the states the requests need.
    prepare_devices(stack, WATCHED)
    prepare_devices(stack, STOPPED_DEVICES, latency="fixed:3000")
    stack.hub.control.set_behaviour(ENDED_DEVICES[-1], failure_probability=1.0)
    stack.hub.control.set_online(RUNNING_DEVICE, False)
    for group_id, devices in (("g-perm", PERM_DEVICES), ("g-doomed", DOOMED_DEVICES), ("g-stopped", STOPPED_DEVICES),
                              ("g-running", [RUNNING_DEVICE]), ("g-ended", ENDED_DEVICES)):
        make_group(admin, group_id, devices)

    assert admin.put("jobs/j-ended", {"displayName": "ended", "group": "g-ended", "data": ECHO}).status_code == 200
    ended = admin.wait_ended("j-ended")
    assert ended["progress"]["failed"] == 1 and ended["progress"]["completed"] == 2, ended

    made = admin.put("jobs/j-stopped", {"displayName": "stopped", "group": "g-stopped", "data": ECHO})
    assert made.status_code == 200, made.text
    admin.wait_job("j-stopped", lambda job: job["status"] == "running", "to run", timeout=30)
    assert admin.post("jobs/j-stopped/stop").status_code == 204
    frozen = admin.wait_job("j-stopped", lambda job: job["status"] == "stopped" and job["progress"]["running"] == 0,
                            "to settle with nothing in flight", timeout=30)
    assert frozen["progress"]["pending"] >= 1, frozen  # a device a resume would send to

    waiting = [{"type": "command", "path": "echo", "value": 1, "connectTimeout": 300}]
    made = admin.put("jobs/j-running", {"displayName": "running", "group": "g-running", "data": waiting})
    assert made.status_code == 200, made.text
    admin.wait_job("j-running", lambda job: job["status"] == "running" and job["progress"]["running"] == 1,
                   "to have its device in flight", timeout=30)

    drafts = {}
    for name in ("edit", "delete", "run"):
        response = admin.post("jobs", {"displayName": f"draft to {name}", "group": "g-perm", "data": ECHO})
        assert response.status_code == 201, response.text
        drafts[name] = response.json()["id"]

    # Scheduled jobs whose first run is a day away: nothing runs while the table is acted out.
    def scheduled(name: str) -> dict:
        start = (utc_now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"displayName": name, "group": "g-perm", "data": ECHO, "schedule": {"start": start, "recurrence": "daily"}}

    for scheduled_id in ("sj-perm", "sj-doomed"):
        response = admin.put(f"scheduledJobs/{scheduled_id}", scheduled(scheduled_id))
        assert response.status_code == 200, response.text

    expiry = (utc_now() + timedelta(days=1)).isoformat()
    calls = {
        ("get", "/deviceGroups"): Call("deviceGroups"),
        ("get", "/deviceGroups/{deviceGroupId}"): Call("deviceGroups/g-perm"),
        ("put", "/deviceGroups/{deviceGroupId}"): Call(
            "deviceGroups/g-new", {"displayName": "new", "filter": device_filter(*PERM_DEVICES)}),
        ("patch", "/deviceGroups/{deviceGroupId}"): Call("deviceGroups/g-perm", {"displayName": "patched"}),
        ("delete", "/deviceGroups/{deviceGroupId}"): Call("deviceGroups/g-doomed", answer=204),
        ("get", "/deviceGroups/{deviceGroupId}/devices"): Call("deviceGroups/g-perm/devices",
                                                                resource="deviceGroups/g-perm"),
        ("get", "/jobs"): Call("jobs"),
        ("post", "/jobs"): Call("jobs", {"displayName": "a draft", "group": "g-perm", "data": ECHO}, 201),
        ("get", "/jobs/{jobId}"): Call("jobs/j-ended"),
        ("put", "/jobs/{jobId}"): Call("jobs/j-new", {"displayName": "new", "group": "g-perm", "data": ECHO}),
        ("patch", "/jobs/{jobId}"): Call(f"jobs/{drafts['edit']}", {"displayName": "edited"}),
        ("delete", "/jobs/{jobId}"): Call(f"jobs/{drafts['delete']}", answer=204),
        ("post", "/jobs/{jobId}/run"): Call(f"jobs/{drafts['run']}/run", resource=f"jobs/{drafts['run']}"),
        ("post", "/jobs/{jobId}/preview"): Call(f"jobs/{drafts['edit']}/preview", resource=f"jobs/{drafts['edit']}"),
        ("post", "/jobs/{jobId}/stop"): Call("jobs/j-running/stop", answer=204, resource="jobs/j-running"),
        ("post", "/jobs/{jobId}/resume"): Call("jobs/j-stopped/resume", answer=204, resource="jobs/j-stopped"),
        ("post", "/jobs/{jobId}/copy"): Call("jobs/j-ended/copy", answer=201, resource="jobs/j-ended"),
        ("get", "/jobs/{jobId}/devices"): Call("jobs/j-ended/devices", resource="jobs/j-ended"),
        ("put", "/jobs/{jobId}/rerun/{rerunId}"): Call("jobs/j-ended/rerun/j-rerun", resource="jobs/j-ended"),
        ("get", "/jobs/{jobId}/report.csv"): Call("jobs/j-ended/report.csv", resource="jobs/j-ended"),
        ("get", "/history"): Call("history"),
        # Nothing is archived yet: the first allowed caller is told so.
        ("get", "/history/{jobId}/report.csv"): Call("history/j-ended/report.csv", answer=404,
                                                      resource="history/j-ended"),
        ("get", "/roles"): Call("roles"),
        ("get", "/roles/{roleId}"): Call(f"roles/{OPERATOR.id}"),
        ("get", "/apiTokens"): Call("apiTokens"),
        ("get", "/apiTokens/{tokenId}"): Call("apiTokens/perm-viewer"),
        ("put", "/apiTokens/{tokenId}"): Call("apiTokens/perm-new", {"roles": [{"role": ADMINISTRATOR.id}],
                                                                     "expiry": expiry}),
        ("delete", "/apiTokens/{tokenId}"): Call("apiTokens/perm-victim", answer=204),
        ("get", "/users"): Call("users"),
        ("get", "/users/{userId}"): Call("users/u-perm"),
        ("put", "/users/{userId}"): Call("users/u-new", {"type": "email", "email": "u-new@contoso.com",
                                                         "roles": [{"role": ADMINISTRATOR.id}]}),
        ("delete", "/users/{userId}"): Call("users/u-victim", answer=204),
        ("get", "/auditLogs"): Call("auditLogs"),
        ("get", "/scheduledJobs"): Call("scheduledJobs"),
        ("get", "/scheduledJobs/{scheduledJobId}"): Call("scheduledJobs/sj-perm"),
        ("put", "/scheduledJobs/{scheduledJobId}"): Call("scheduledJobs/sj-new", scheduled("new")),
        ("patch", "/scheduledJobs/{scheduledJobId}"): Call("scheduledJobs/sj-perm", {"displayName": "patched"}),
        ("delete", "/scheduledJobs/{scheduledJobId}"): Call("scheduledJobs/sj-doomed", answer=204),
        ("get", "/scheduledJobs/{scheduledJobId}/jobs"): Call("scheduledJobs/sj-perm/jobs",
                                                               resource="scheduledJobs/sj-perm"),
    }
    world = World(stack, admin, tokens, unauthenticated, calls, revocation)
    world.baseline = world.snapshot()
    yield world
    stack.hub.control.set_online(RUNNING_DEVICE, True)  # its command answers: the host stops at once


def endpoint_id(endpoint: tuple[str, str]) -> str:
    return f"{endpoint[0].upper()} {endpoint[1]}"


def test_public_endpoints_and_unknown_paths_answer_without_a_credential(stack):
    """First, before the fixtures of the table: health asks the hub, and the table's checks count its calls."""
    anonymous = Client(stack.host.base_url)
    assert anonymous.get("health").status_code == 200
    assert anonymous.get("openapi.json").status_code == 200
    assert_error(anonymous.get("no/such/thing"), 404, "NotFound")


def test_every_endpoint_names_an_action_and_has_a_request_here(world):
    assert sorted(ACTIONS) == sorted(ENDPOINTS)
    assert all(action is not None for action in ACTIONS.values())
    assert sorted(world.calls) == sorted(ENDPOINTS)


def test_the_refused_credentials_are_refused_for_what_was_done_to_them(world):
    before, deleted, after = world.revocation
    assert before.status_code == 200 and deleted.status_code == 204
    assert assert_error(after, 401, "Unauthorized")["message"] == "The API token is not valid."  # the very next one
    listed = {token["id"]: token for token in world.admin.items("apiTokens")}
    assert "perm-revoked" not in listed
    assert datetime.fromisoformat(listed["perm-expired"]["expiry"]) < utc_now()  # stored, and expired
    by_name = {credential.name: credential for credential in world.unauthenticated}
    expired = world.client(by_name["expired"].authorization).get("jobs")
    assert assert_error(expired, 401, "Unauthorized")["message"] == "The API token has expired."
    for name in ("tampered sig", "tampered se", "tampered skn"):
        response = world.client(by_name[name].authorization).get("jobs")
        assert assert_error(response, 401, "Unauthorized")["message"] == "The API token is not valid.", name


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
def test_refused_requests_change_nothing_and_are_audited(world, endpoint):
    method, _ = endpoint
    action, call = ACTIONS[endpoint], world.calls[endpoint]
    before = world.snapshot()
    sent = []
    for credential in world.refused(action):
        response = world.client(credential.authorization).request(method.upper(), call.path, json=call.body)
        assert_error(response, credential.status, credential.code)
        if credential.status == 403:
            assert action.value in response.json()["error"]["message"]
        sent.append((credential, response.headers["x-ms-request-id"]))

    assert world.snapshot() == before

    entries = world.admin.audit(resource=call.audited)
    for credential, request_id in sent:
        matching = [entry for entry in entries if entry["requestId"] == request_id]
        assert len(matching) == 1, f"{credential.name}: {len(matching)} audit entries for {request_id}"
        entry = matching[0]
        assert (entry["action"], entry["resource"], entry["outcome"], entry["code"]) == \
               (action.value, call.audited, credential.outcome, credential.code), credential.name
        role_ids = [role.id for role in ROLES if token_id(role) == credential.token_id]
        credential.assert_audited_caller(entry["caller"], role_ids)


def test_all_the_refusals_together_changed_nothing(world):
    """After every refused request (the tests above), as before the first one: nothing a refusal
    set going (a queued message, a hub call) changed anything later either. And no refusal is
    filed under the token it claimed to be."""
    assert world.snapshot() == world.baseline
    for claimed in ("perm-expired", "perm-revoked", "perm-tamper-a", "perm-tamper-b"):
        assert world.admin.audit(caller=claimed) == [], claimed


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
def test_allowed_requests_pass_the_gate(world, endpoint):
    method, _ = endpoint
    action, call = ACTIONS[endpoint], world.calls[endpoint]
    allowed = [role for role in ROLE_ORDER if permitted(role, action)]
    assert ADMINISTRATOR in allowed
    for index, role in enumerate(allowed):
        response = world.client(world.tokens[role.id]).request(method.upper(), call.path, json=call.body)
        where = f"{role.display_name} {method.upper()} {call.path}: {response.status_code} {response.text[:300]}"
        assert response.status_code in ALLOWED_ANSWERS, where
        if index == 0:  # the first allowed caller finds the target as the refused ones did
            assert response.status_code == call.answer, where
        if response.status_code >= 400:
            assert response.json()["error"]["code"] not in ("Unauthorized", "Forbidden"), where


@pytest.mark.parametrize("cell", HAND_WRITTEN,
                         ids=lambda cell: f"{cell[0].display_name} {cell[1].upper()} {cell[2]} {cell[3]}")
def test_hand_written_cells_agree_with_the_table_and_the_api(world, cell):
    role, method, template, allowed = cell
    assert permitted(role, ACTIONS[(method, template)]) is allowed
    ids = {"deviceGroupId": "g-hand", "jobId": "j-hand", "rerunId": "j-hand-again", "tokenId": "perm-hand",
           "userId": "u-hand"}
    path = fill(template, **ids)
    bodies = {("put", "/deviceGroups/{deviceGroupId}"): {"displayName": "hand", "filter": device_filter(*PERM_DEVICES)},
              ("put", "/jobs/{jobId}"): {"displayName": "hand", "group": "g-perm", "data": ECHO},
              ("put", "/apiTokens/{tokenId}"): {"roles": [{"role": VIEWER.id}]}}
    response = world.client(world.tokens[role.id]).request(method.upper(), path, json=bodies.get((method, template)))
    if allowed:
        assert response.status_code in ALLOWED_ANSWERS, response.text
    else:
        assert_error(response, 403, "Forbidden")
