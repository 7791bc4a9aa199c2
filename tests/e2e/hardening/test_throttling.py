"""A 429 is the hub asking to slow down, not a device failure: a storm of them during a tags
job on the 1,000 vending machines fails no device, and each device gets its update once."""
from __future__ import annotations

import time

import pytest

from .conftest import S1_PACING, Client, start_stack

VENDING = "SELECT * FROM devices WHERE tags.type = 'vending'"
STORM = 500


@pytest.fixture(scope="module")
def stack():
    stack = start_stack(**S1_PACING)  # the app's own pacing; the simulator adds only the storm
    yield stack
    stack.close()


def test_a_429_storm_during_a_tags_job_fails_no_device_and_updates_each_once(stack):
    client = Client(stack)
    stack.hub.control.reset()
    group_id = client.group(VENDING)
    stack.hub.control.inject_fault("twinUpdate", count=STORM, status=429)
    started = time.monotonic()
    job_id = client.start(group_id, [{"type": "cloudProperty", "path": "note", "value": "storm"}])
    job = client.wait_ended(job_id, timeout=540)
    seconds = time.monotonic() - started
    answers = stack.hub.control.counters()["update_twin"]["byStatus"]
    throttled = int(job["progress"]["failed"])
    print(f"\n{STORM} twin updates answered 429 during a 1,000-device tags job: {job['status']} in {seconds:.0f} s, "
          f"{throttled} devices failed; hub answers {answers}")
    assert stack.hub.control.faults() == []  # the whole storm was met
    assert job["status"] == "completed" and job["progress"]["completed"] == 1000, job
    assert int(answers["200"]) == 1000
    for n in range(1, 1001):
        device_id = f"vending-{n:04d}"
        assert [entry["tags"] for entry in client.log_of(device_id, "update_twin")] == [{"note": "storm"}], device_id
