"""A job stopped with devices in flight, deleted, and made again under the same id: the first
job's queued messages must not act on the second, whose every device gets its own command once."""
from __future__ import annotations

import uuid

import pytest

from local.waiting import wait_for
from tests.e2e.pipeline.conftest import assert_counts_add_up, log_of

WEST_CONNECTED = ("SELECT * FROM devices WHERE tags.type = 'vending' AND tags.region = 'west' "
                  "AND connectionState = 'Connected'")


def echo(value: str) -> list[dict]:
    return [{"type": "command", "path": "echo", "value": value}]


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_a_new_job_under_a_deleted_job_s_id_gets_only_its_own_operations(stack, jobs, attempt):
    stack.hub.control.set_fleet_behaviour(failure_probability=0, latency="fixed:200")
    group = jobs.group(WEST_CONNECTED)
    job_id = "reused-" + uuid.uuid4().hex[:8]
    first = jobs.api.put(f"jobs/{job_id}", {"displayName": "First", "group": group, "data": echo("first")})
    assert first.status_code == 200, first.text
    wait_for(lambda: (progress := jobs.get(job_id)["progress"])["completed"] >= 20 and progress["running"] > 0,
             timeout=60, interval=0.1, what="devices of the first job in flight")
    assert jobs.action(job_id, "stop").status_code == 204
    assert jobs.api.delete(f"jobs/{job_id}").status_code == 204

    second = jobs.api.put(f"jobs/{job_id}", {"displayName": "Second", "group": group, "data": echo("second")})
    assert second.status_code == 200, second.text
    job = jobs.wait_ended(job_id, timeout=180)

    devices = jobs.devices(job_id)
    received = {device_id: [entry for entry in log_of(stack, device_id, "invoke_device_method")
                            if entry["payload"] == "second"] for device_id in devices}
    assert job["status"] == "completed", job
    assert_counts_add_up(job["progress"])
    assert job["progress"]["completed"] == job["progress"]["total"] == len(devices) > 100, job
    for device_id, commands in received.items():
        assert len(commands) == 1, (device_id, commands)  # the second job's command, exactly once
        assert devices[device_id]["status"] == "completed", devices[device_id]
