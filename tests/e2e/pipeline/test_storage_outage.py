"""Storage out of reach for half a minute in the middle of a command job: senders keep what they
learned and report it once storage is back, so no device whose outcome was known ends
`OutcomeUnknown`, and no command is sent twice."""
from __future__ import annotations

import time
import uuid

import pytest

from local.waiting import wait_for
from tests.e2e.conftest import Api
from tests.e2e.pipeline.conftest import assert_counts_add_up, devices_of, log_of

WEST = "SELECT * FROM devices WHERE tags.type = 'vending' AND tags.region = 'west' AND connectionState = 'Connected'"
OUTAGE_SECONDS = 35


@pytest.mark.parametrize("down", [("Table", "Queue", "Blob"), ("Table",)], ids=["all storage", "tables only"])
def test_an_outage_shorter_than_the_lease_turns_no_known_outcome_unknown(stack, jobs, proxied_host, down):
    host, proxies = proxied_host(down)  # with the queues up, collectors fail until the host would give up
    api = Api(host.base_url, stack.admin_token)
    stack.hub.control.set_fleet_behaviour(failure_probability=0, latency="fixed:300")
    group = "g-" + uuid.uuid4().hex[:10]
    assert api.put(f"deviceGroups/{group}", {"displayName": group, "filter": WEST}).status_code == 200
    job_id = "outage-" + uuid.uuid4().hex[:8]
    created = api.put(f"jobs/{job_id}", {"displayName": "Outage", "group": group,
                                         "data": [{"type": "command", "path": "echo", "value": "once"}]})
    assert created.status_code == 200, created.text
    wait_for(lambda: (progress := api.get(f"jobs/{job_id}").json()["progress"])["completed"] >= 30
             and progress["running"] > 0, timeout=60, interval=0.1, what="devices in flight")

    for proxy in proxies:
        proxy.refuse()
    # The outage's length is the fault being injected, not a wait for something to happen.
    time.sleep(OUTAGE_SECONDS)
    for proxy in proxies:
        proxy.accept()

    job = wait_for(lambda: (body := api.get(f"jobs/{job_id}").json())["status"] in ("completed", "failed") and body,
                   timeout=180, interval=0.5, what="the job to end")
    devices = devices_of(api, job_id)
    unknown = [device for device in devices.values() if device.get("errorCode") == "OutcomeUnknown"]
    assert unknown == [] and job["status"] == "completed", (job, unknown[:5])
    assert_counts_add_up(job["progress"])
    assert len(devices) == job["progress"]["total"] > 100
    for device_id in devices:
        assert len(log_of(stack, device_id, "invoke_device_method")) == 1, device_id
    log = host.log_path.read_text(errors="replace")
    assert "could not read its status" in log  # the outage did hit senders at work

