"""A job whose only maintenance window opens soon: nothing is sent while it is closed (the
simulator's per-device logs stay empty, the job says what it waits for), then, once it opens,
every device gets the operation once and the job completes."""
from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

from local.waiting import wait_for
from tests.e2e.pipeline.conftest import assert_counts_add_up, log_of

KIOSKS = "SELECT * FROM devices WHERE tags.type = 'kiosk'"
LEAD_SECONDS = 20  # at least this long before the window opens: time to plan the job and see it wait


def next_minute_at_least(seconds: float) -> datetime:
    """The first whole minute (UTC) at least `seconds` from now: cron names whole minutes."""
    soonest = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return soonest.replace(second=0, microsecond=0) + timedelta(minutes=1)


def seconds_until(instant: datetime) -> float:
    return (instant - datetime.now(timezone.utc)).total_seconds()


def test_nothing_is_sent_until_the_only_window_opens_then_each_device_gets_the_operation_once(stack, jobs):
    stack.hub.control.set_fleet_behaviour(failure_probability=0)
    opening = next_minute_at_least(LEAD_SECONDS)
    window = {"cron": f"{opening.minute} {opening.hour} {opening.day} {opening.month} *", "durationMinutes": 10}
    value = random.randint(1000, 9999)
    job_id = jobs.start(jobs.group(KIOSKS), [{"type": "property", "path": "fanSpeed", "value": value}],
                        maintenanceWindows=[window], maintenanceTimeZone="UTC")

    waiting = f"Waiting for the maintenance window at {opening:%Y-%m-%dT%H:%M:%SZ}"

    def shown_waiting():
        job = jobs.get(job_id)
        return job if job.get("reason") == waiting else None

    job = wait_for(shown_waiting, timeout=max(seconds_until(opening) - 2, 1), interval=0.3,
                   what=f"job {job_id} to wait for its window")
    assert job["status"] == "running" and job["maintenanceWindows"] == [window], job
    assert job["maintenanceTimeZone"] == "UTC"
    devices = jobs.devices(job_id)
    assert len(devices) == 30 and {device["status"] for device in devices.values()} == {"pending"}

    # Closed until `opening`: nothing reaches a device. Look again just before it opens.
    time.sleep(max(seconds_until(opening) - 1.5, 0))
    assert datetime.now(timezone.utc) < opening
    assert all(log_of(stack, device_id, "update_twin") == [] for device_id in devices)
    early = jobs.get(job_id)
    assert (early["status"], early["reason"]) == ("running", waiting)
    assert early["progress"]["completed"] == early["progress"]["running"] == 0

    job = jobs.wait_ended(job_id, timeout=180)
    assert job["status"] == "completed" and "reason" not in job, job
    assert job["progress"] == {"total": 30, "pending": 0, "running": 0, "completed": 30, "failed": 0}
    assert_counts_add_up(job["progress"])
    for device_id in devices:
        patches = log_of(stack, device_id, "update_twin")
        assert [entry["desired"] for entry in patches] == [{"fanSpeed": value}], device_id
        assert datetime.fromisoformat(patches[0]["time"].replace("Z", "+00:00")) >= opening, device_id
    ended = datetime.fromisoformat(job["end"].replace("Z", "+00:00"))
    assert ended >= opening
