"""Retries by failure class through the API of a dev host, Azurite and the simulator: kiosks
offline when the job starts and online 20 s later complete on their second attempt; a command
the device rejected is tried again only when DeviceRejected is listed; no command reaches a
device twice when its first attempt got through."""
from __future__ import annotations

import csv
import io
import time
from datetime import datetime

from local.waiting import wait_for
from tests.e2e.pipeline.conftest import assert_counts_add_up, log_of

KIOSK = "SELECT * FROM devices WHERE tags.type = 'kiosk'"
KIOSKS = [f"kiosk-{n:03d}" for n in range(1, 31)]
ECHO = [{"type": "command", "path": "echo", "value": "hello"}]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_devices_offline_then_online_after_20_s_complete_on_a_retry(stack, jobs):
    offline = KIOSKS[:10]
    stack.hub.control.set_fleet_behaviour(failure_probability=0)
    for device_id in KIOSKS:
        stack.hub.control.set_online(device_id, device_id not in offline)
    started = time.monotonic()
    # Backoff from 50 s less up to half for jitter: the retry comes 25-50 s after the first attempt.
    job_id = jobs.start(jobs.group(KIOSK), ECHO, retry={"criteria": [{"failureType": "DeviceNotOnline",
                                                                       "numberOfRetries": 3}],
                                                         "backoff": {"initialSeconds": 50, "maximumSeconds": 60}})

    waiting = wait_for(lambda: (job := jobs.get(job_id))["progress"]["completed"] == 20 and job, timeout=60,
                       what="the online kiosks to complete")
    assert waiting["status"] == "running" and waiting["progress"]["pending"] == 10, waiting
    first = jobs.devices(job_id)
    assert {(first[d]["status"], first[d]["attempts"], first[d]["errorCode"]) for d in offline} == {
        ("pending", 1, "DeviceNotOnline")}
    wait_for(lambda: time.monotonic() - started >= 20, timeout=30, what="20 s since the job started")
    for device_id in offline:
        stack.hub.control.set_online(device_id, True)

    job = jobs.wait_ended(job_id, timeout=120)
    assert job["status"] == "completed", job
    assert job["progress"] == {"total": 30, "pending": 0, "running": 0, "completed": 30, "failed": 0}
    assert job["retry"]["criteria"] == [{"failureType": "DeviceNotOnline", "numberOfRetries": 3}]
    devices = jobs.devices(job_id)
    for device_id in KIOSKS:
        calls = log_of(stack, device_id, "invoke_device_method")
        expected = 2 if device_id in offline else 1
        assert (devices[device_id]["status"], devices[device_id]["attempts"], len(calls)) == (
            "completed", expected, expected), device_id
        assert "errorCode" not in devices[device_id]
        if device_id in offline:  # the retry waited for its backoff
            assert (at(calls[1]["time"]) - at(calls[0]["time"])).total_seconds() >= 25 - 1, calls

    report = jobs.api.get(f"jobs/{job_id}/report.csv")
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"), newline="")))
    assert ["Retry", "DeviceNotOnline", "3 retries"] in rows
    table = rows[rows.index([]) + 1:]
    assert table[0][-2:] == ["Attempts", "Last attempt time"]
    assert {row[0]: int(row[-2]) for row in table[1:]} == {d: devices[d]["attempts"] for d in KIOSKS}


def test_a_rejected_command_is_retried_only_when_device_rejected_is_listed(stack, jobs):
    rejecting = KIOSKS[:5]
    stack.hub.control.set_fleet_behaviour(failure_probability=0)
    for device_id in KIOSKS:
        stack.hub.control.set_online(device_id, True)
    for device_id in rejecting:
        stack.hub.control.set_behaviour(device_id, failure_probability=1.0)
    try:
        group = jobs.group(KIOSK)
        every_class = jobs.start(group, ECHO, retry={"criteria": [{"failureType": "all", "numberOfRetries": 3}],
                                                     "backoff": {"initialSeconds": 1}})
        job = jobs.wait_ended(every_class)
        assert job["status"] == "failed" and job["progress"]["failed"] == 5, job
        devices = jobs.devices(every_class)
        assert {(devices[d]["errorCode"], devices[d]["attempts"]) for d in rejecting} == {("DeviceRejected", 1)}
        assert [len(log_of(stack, d, "invoke_device_method")) for d in KIOSKS] == [1] * 30

        by_name = jobs.start(group, ECHO, retry={"criteria": [{"failureType": "DeviceRejected", "numberOfRetries": 1}],
                                                 "backoff": {"initialSeconds": 1}})
        job = jobs.wait_ended(by_name)
        assert job["status"] == "failed", job
        assert_counts_add_up(job["progress"])
        assert (job["progress"]["completed"], job["progress"]["failed"]) == (25, 5)
        devices = jobs.devices(by_name)
        assert {(devices[d]["errorCode"], devices[d]["attempts"]) for d in rejecting} == {("DeviceRejected", 2)}
        assert [len(log_of(stack, d, "invoke_device_method")) for d in KIOSKS] == [3] * 5 + [2] * 25
    finally:
        for device_id in rejecting:
            stack.hub.control.set_behaviour(device_id, failure_probability=0.0)


def test_a_retry_that_names_no_known_class_is_refused_naming_the_field(jobs):
    response = jobs.api.put("jobs/j-bad-retry", {
        "group": jobs.group(KIOSK), "data": ECHO,
        "retry": {"criteria": [{"failureType": "DeviceNotOnline", "numberOfRetries": 11}]}})
    assert response.status_code == 400, response.text
    assert "retry.criteria[0].numberOfRetries" in response.text
    assert jobs.api.get("jobs/j-bad-retry").status_code == 404
