"""A one-time schedule makes exactly one job, at its time and not before, which runs on its
devices once; with two dev hosts on one storage account (each with its own scheduler), still
exactly one."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

from local.harness import HostProcess
from local.waiting import wait_for
from tests.e2e.hardening.conftest import device_filter

DEVICES = ("vending-0001", "vending-0002", "vending-0003")
LEAD_SECONDS = 20


def _schedule_once(client, group_id: str, value: int) -> tuple[str, datetime]:
    start = (datetime.now(timezone.utc) + timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)
    job_id = "sj-" + uuid.uuid4().hex[:8]
    response = client.put(f"scheduledJobs/{job_id}", {
        "displayName": "Fan at a time", "group": group_id,
        "data": [{"type": "property", "path": "fanSpeed", "value": value}],
        "schedule": {"start": start.isoformat().replace("+00:00", "Z")}})
    assert response.status_code == 200, response.text
    assert response.json()["nextRuns"] == [start.isoformat().replace("+00:00", "Z")]
    return job_id, start


def _run_when_it_is_time(client, job_id: str, start: datetime) -> dict:
    run_id = f"{job_id}-run-1"
    while datetime.now(timezone.utc) < start - timedelta(seconds=1):
        assert client.get(f"jobs/{run_id}").status_code == 404, "the run started before its time"
        time.sleep(1)
    run = wait_for(lambda: (r := client.get(f"jobs/{run_id}")).ok and r.json(), timeout=30, interval=0.5,
                   what=f"the run {run_id}")
    assert datetime.fromisoformat(run["created"]) >= start
    return client.wait_ended(run_id, timeout=60)


def _assert_one_run_each_device_once(client, job_id: str, run: dict, value: int) -> None:
    assert run["status"] == "completed" and run["scheduledJobId"] == job_id, run
    assert run["progress"]["completed"] == len(DEVICES)
    runs = client.get(f"scheduledJobs/{job_id}/jobs").json()["value"]
    assert [job["id"] for job in runs] == [run["id"]]
    for device_id in DEVICES:
        patches = [entry["desired"] for entry in client.log_of(device_id, "update_twin")]
        assert patches == [{"fanSpeed": value}], device_id
    scheduled = client.get(f"scheduledJobs/{job_id}").json()
    assert (scheduled["completed"], scheduled["missed"], scheduled["nextRuns"]) == (True, 0, [])


def test_a_one_time_schedule_makes_one_job_at_its_time(client):
    group_id = client.group(device_filter(*DEVICES))
    job_id, start = _schedule_once(client, group_id, 4)
    run = _run_when_it_is_time(client, job_id, start)
    time.sleep(3)  # more ticks pass: none makes another run
    _assert_one_run_each_device_once(client, job_id, run, 4)


def test_two_hosts_on_one_storage_account_make_one_job(client, stack):
    second = HostProcess(dict(stack.host.environ)).start()
    try:
        group_id = client.group(device_filter(*DEVICES))
        job_id, start = _schedule_once(client, group_id, 6)
        run = _run_when_it_is_time(client, job_id, start)
        time.sleep(3)
        _assert_one_run_each_device_once(client, job_id, run, 6)
        assert "start_scheduled_jobs" in second.log_path.read_text(errors="replace")  # its scheduler ticked too
    finally:
        second.stop()
