"""An Operator's API token, made by an Administrator with PUT /apiTokens, drives a whole job:
create and run it, stop it, resume it, watch it end, download its results, copy it and rerun it on
the devices that failed. A Builder makes the group (an Operator may not), every device gets the
command exactly once from the job (and the failed ones once more from the rerun), the jobs name
the token as who made, stopped and resumed them, and the audit log holds each change under the
token's id, newest first, with the request id each answer carried."""
from __future__ import annotations

import csv
import io

import pytest

from shared.domain.access import BUILDER, OPERATOR
from tests.e2e.access.conftest import (Client, assert_error, device_filter, make_token, prepare_devices, received,
                                       unique)

# Read the job's status before every device, so a stop holds back every device not yet started.
HOST_SETTINGS = {"DISPATCH_STATUS_CHECK_SECONDS": "0"}

DEVICES = [f"vending-{n:04d}" for n in range(601, 649)]  # 48: three rounds of 16 at once
FAILING = DEVICES[-2:]
COMMAND = [{"type": "command", "path": "echo", "value": {"from": "operator"}}]


@pytest.fixture(scope="module")
def operator(stack, admin) -> tuple[str, Client]:
    token_id = unique("operator")
    client = Client(stack.host.base_url, make_token(admin, token_id, OPERATOR))
    shown = admin.get(f"apiTokens/{token_id}")
    assert shown.status_code == 200 and "token" not in shown.json()  # the token string was given once
    return token_id, client


def commands_received(stack, device_id: str) -> int:
    return sum(1 for entry in received(stack, device_id) if entry.get("payload") == COMMAND[0]["value"])


def test_an_operator_token_drives_a_whole_job(stack, admin, operator):
    token_id, op = operator
    me = {"type": "apiToken", "id": token_id, "displayName": token_id}
    changes = []  # (action, resource, outcome, request id), in the order made

    def change(response, status: int, action: str, resource: str, outcome: str = "succeeded"):
        assert response.status_code == status, f"{resource}: {response.status_code} {response.text[:300]}"
        changes.append((action, resource, outcome, response.headers["x-ms-request-id"]))
        return response

    prepare_devices(stack, DEVICES, latency="fixed:2000")
    for device_id in FAILING:
        stack.hub.control.set_behaviour(device_id, failure_probability=1.0)
    group_id, job_id, rerun_id = unique("g-op"), unique("j-op"), unique("j-op-again")
    group = {"displayName": "operator's devices", "filter": device_filter(*DEVICES)}

    # Operators run jobs on groups; they do not make them.
    refused = op.put(f"deviceGroups/{group_id}", group)
    assert_error(refused, 403, "Forbidden")
    change(refused, 403, "deviceGroups.manage", f"deviceGroups/{group_id}", "forbidden")
    assert admin.get(f"deviceGroups/{group_id}").status_code == 404
    builder = Client(stack.host.base_url, make_token(admin, unique("builder"), BUILDER))
    assert builder.put(f"deviceGroups/{group_id}", group).status_code == 200

    created = change(op.put(f"jobs/{job_id}", {"displayName": "operator's job", "group": group_id, "data": COMMAND}),
                     200, "jobs.create", f"jobs/{job_id}").json()
    assert created["createdBy"] == me
    op.wait_job(job_id, lambda job: job["status"] == "running", "to run", timeout=30)
    change(op.post(f"jobs/{job_id}/stop"), 204, "jobs.stop", f"jobs/{job_id}")
    frozen = op.wait_job(job_id, lambda job: job["status"] == "stopped" and job["progress"]["running"] == 0,
                         "to settle, stopped", timeout=30)
    progress = frozen["progress"]
    assert progress["pending"] > 0, frozen  # the stop held devices back
    assert sum(commands_received(stack, device_id) for device_id in DEVICES) == \
           progress["completed"] + progress["failed"]
    assert frozen["lastStoppedBy"] == me and "lastResumedBy" not in frozen

    change(op.post(f"jobs/{job_id}/resume"), 204, "jobs.resume", f"jobs/{job_id}")
    ended = op.wait_ended(job_id)
    assert ended["progress"] == {"total": 48, "pending": 0, "running": 0, "completed": 46, "failed": 2}, ended
    assert (ended["createdBy"], ended["lastStoppedBy"], ended["lastResumedBy"]) == (me, me, me)
    failed = {device["id"] for device in op.items(f"jobs/{job_id}/devices", status="failed")}
    assert failed == set(FAILING)

    report = op.get(f"jobs/{job_id}/report.csv")
    assert report.status_code == 200 and report.headers["Content-Type"].startswith("text/csv")
    lines = report.content.decode("utf-8-sig").split("\r\n")
    header = lines.index("Device ID,Status,Error code,Error message,Time,Deleted")
    rows = {row[0]: row for row in csv.reader(io.StringIO("\r\n".join(lines[header + 1:]))) if row}
    assert sorted(rows) == DEVICES
    assert {device_id for device_id, row in rows.items() if row[1] == "failed"} == set(FAILING)

    copied = op.post(f"jobs/{job_id}/copy")
    copy = copied.json()
    assert copied.headers["Location"].endswith(f"/api/jobs/{copy['id']}")
    change(copied, 201, "jobs.copy", f"jobs/{copy['id']}")  # the new draft is what was made
    assert copy["status"] == "draft" and copy["createdBy"] == me and copy["group"] == group_id

    for device_id in FAILING:  # what failed was transient: the rerun succeeds
        stack.hub.control.set_behaviour(device_id, failure_probability=0)
    rerun = change(op.put(f"jobs/{job_id}/rerun/{rerun_id}"), 200, "jobs.rerun", f"jobs/{job_id}")
    assert rerun.json()["rerunOf"] == job_id and rerun.json()["createdBy"] == me
    again = op.wait_ended(rerun_id)
    assert again["progress"] == {"total": 2, "pending": 0, "running": 0, "completed": 2, "failed": 0}, again

    for device_id in DEVICES:
        assert commands_received(stack, device_id) == (2 if device_id in FAILING else 1), device_id

    entries = admin.audit(caller=token_id)
    assert [(e["action"], e["resource"], e["outcome"], e["requestId"]) for e in entries] == changes[::-1]
    assert [e["time"] for e in entries] == sorted((e["time"] for e in entries), reverse=True)
    assert all(e["caller"] == {"type": "apiToken", "id": token_id, "displayName": token_id,
                               "roles": [OPERATOR.id]} for e in entries)
    # What was done to the job, whoever did it, is under the job's own path.
    about_the_job = [(e["action"], e["requestId"]) for e in admin.audit(resource=f"jobs/{job_id}")]
    assert about_the_job == [(action, request_id) for action, resource, _, request_id in changes[::-1]
                             if resource == f"jobs/{job_id}"]
    assert [action for action, _ in about_the_job] == ["jobs.rerun", "jobs.resume", "jobs.stop", "jobs.create"]
