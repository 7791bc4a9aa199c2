"""A job is never left pending: one whose planning cannot run (Table storage refusing
connections right after the job was made, until its plan message went to poison) is planned
again by its watchdog once storage is back; and a pending job can be stopped or deleted."""
from __future__ import annotations

import base64
import uuid

from azure.core.exceptions import ResourceNotFoundError

from local.waiting import wait_for
from tests.e2e.conftest import Api
from tests.e2e.pipeline.conftest import assert_counts_add_up, devices_of, log_of

WEST = "SELECT * FROM devices WHERE tags.type = 'vending' AND tags.region = 'west' AND connectionState = 'Connected'"
STALL_SECONDS = 15


def poisoned(stack) -> list[str]:
    try:
        messages = stack.queue("jobs-plan-poison").peek_messages(max_messages=32)
        return [base64.b64decode(message.content).decode() for message in messages]
    except ResourceNotFoundError:
        return []  # nothing went to poison yet



def test_a_job_whose_plan_message_went_to_poison_is_planned_again_once_storage_is_back(stack, jobs, proxied_host):
    host, (proxy,) = proxied_host(("Table",), DISPATCH_STALL_SECONDS=str(STALL_SECONDS))  # queues stay up
    api = Api(host.base_url, stack.admin_token)
    stack.hub.control.set_fleet_behaviour(failure_probability=0)
    group = "g-" + uuid.uuid4().hex[:10]
    assert api.put(f"deviceGroups/{group}", {"displayName": group, "filter": WEST}).status_code == 200
    job_id = "stuck-" + uuid.uuid4().hex[:8]
    created = api.put(f"jobs/{job_id}", {"displayName": "Stuck", "group": group,
                                         "data": [{"type": "command", "path": "echo", "value": "once"}]})
    assert created.status_code == 200 and created.json()["status"] == "pending", created.text
    proxy.refuse()  # tables refuse connections: every delivery of the plan message fails
    try:
        wait_for(lambda: any(job_id in text for text in poisoned(stack)), timeout=240, interval=1,
                 what="the plan message to go to poison")
    finally:
        proxy.accept()
    assert api.get(f"jobs/{job_id}").json()["status"] == "pending"  # what was stuck for good before

    job = wait_for(lambda: (body := api.get(f"jobs/{job_id}").json())["status"] in ("completed", "failed") and body,
                   timeout=STALL_SECONDS * 4 + 120, interval=0.5, what="the watchdog to plan the job again")
    assert job["status"] == "completed", job
    assert_counts_add_up(job["progress"])
    devices = devices_of(api, job_id)
    assert len(devices) == job["progress"]["total"] > 100
    for device_id in devices:
        assert len(log_of(stack, device_id, "invoke_device_method")) == 1, device_id


def test_a_pending_job_is_stopped_or_deleted_at_once(stack, jobs):
    group = jobs.group("SELECT * FROM devices WHERE tags.type = 'vending'")  # a thousand devices to plan
    stopped = jobs.start(group, [{"type": "property", "path": "fanSpeed", "value": 1}])
    assert jobs.get(stopped)["status"] == "pending"
    assert jobs.action(stopped, "stop").status_code == 204
    deleted = jobs.start(group, [{"type": "property", "path": "fanSpeed", "value": 1}])
    assert jobs.api.delete(f"jobs/{deleted}").status_code == 204
    assert jobs.api.get(f"jobs/{deleted}").status_code == 404

    assert jobs.action(stopped, "resume").status_code == 204  # planned anew from the start
    job = jobs.wait_ended(stopped, timeout=180)
    assert job["status"] == "completed" and job["progress"]["completed"] == job["progress"]["total"] == 1000, job
