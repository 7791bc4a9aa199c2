"""Rollout batches through the API of a dev host, Azurite and the simulator: one batch at a
time, per-batch thresholds with and without a minimum sample, pausing after each batch."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from tests.e2e.pipeline.conftest import assert_counts_add_up, log_of
from local.waiting import wait_for

VENDING = "SELECT * FROM devices WHERE tags.type = 'vending'"
KIOSK = "SELECT * FROM devices WHERE tags.type = 'kiosk'"
KIOSKS = [f"kiosk-{n:03d}" for n in range(1, 31)]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def kiosks_online_but(stack, offline: set[str]) -> None:
    stack.hub.control.set_fleet_behaviour(failure_probability=0)
    for device_id in KIOSKS:
        stack.hub.control.set_online(device_id, device_id not in offline)


def test_batch_n_plus_1_receives_nothing_before_every_device_of_batch_n_finished(stack, jobs):
    job_id = jobs.start(jobs.group(VENDING), [{"type": "property", "path": "fanSpeed", "value": 4}],
                        batch={"type": "number", "value": 100})
    job = jobs.wait_ended(job_id, timeout=300)
    assert job["status"] == "completed", job
    assert job["progress"] == {"total": 1000, "pending": 0, "running": 0, "completed": 1000, "failed": 0}
    assert [(b["index"], b["status"], b["total"], b["completed"]) for b in job["batches"]] == [
        (n, "completed", 100, 100) for n in range(1, 11)]

    devices = jobs.devices(job_id)
    by_batch: dict[int, list[str]] = {}
    for device_id in sorted(devices):
        by_batch.setdefault(devices[device_id]["batch"], []).append(device_id)
    assert sorted(by_batch) == list(range(1, 11)) and {len(ids) for ids in by_batch.values()} == {100}
    received = {}
    for device_id in devices:
        (patch,) = log_of(stack, device_id, "update_twin")  # each device once
        received[device_id] = at(patch["time"])
    for number in range(1, 10):
        last_finished = max(at(devices[device_id]["time"]) for device_id in by_batch[number])
        first_received_next = min(received[device_id] for device_id in by_batch[number + 1])
        assert last_finished <= first_received_next, number

    report = jobs.api.get(f"jobs/{job_id}/report.csv")
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"), newline="")))
    table = rows[rows.index([]) + 1:]
    assert table[0][-1] == "Batch"
    assert {row[0]: int(row[-1]) for row in table[1:]} == {d: device["batch"] for d, device in devices.items()}


def test_a_per_batch_threshold_cancels_the_job_at_the_batch_that_passes_it(stack, jobs):
    offline = {"kiosk-011", "kiosk-012", "kiosk-013", "kiosk-014"}  # batch 2 of 3
    kiosks_online_but(stack, offline)
    job_id = jobs.start(jobs.group(KIOSK), [{"type": "command", "path": "echo", "value": "wave"}],
                        batch={"type": "number", "value": 10},
                        cancellationThreshold={"type": "number", "value": 2, "batch": True})
    job = jobs.wait_ended(job_id)
    assert job["status"] == "cancelled" and job["reason"].startswith("4 devices of batch 2 failed"), job
    assert [b["status"] for b in job["batches"]] == ["completed", "failed", "cancelled"]
    assert_counts_add_up(job["progress"])
    assert (job["progress"]["completed"], job["progress"]["failed"], job["progress"]["pending"]) == (16, 4, 10)
    for device_id in KIOSKS:
        calls = log_of(stack, device_id, "invoke_device_method")
        assert len(calls) == (0 if device_id >= "kiosk-021" else 1), device_id  # offline ones: the attempt


def test_with_a_minimum_sample_the_same_early_failures_do_not_cancel(stack, jobs):
    offline = {"kiosk-011", "kiosk-012", "kiosk-013", "kiosk-014"}
    kiosks_online_but(stack, offline)
    job_id = jobs.start(jobs.group(KIOSK), [{"type": "command", "path": "echo", "value": "wave"}],
                        batch={"type": "number", "value": 10},
                        cancellationThreshold={"type": "number", "value": 2, "batch": True,
                                               "minNumberOfExecutedDevices": 25})
    job = jobs.wait_ended(job_id)
    assert job["status"] == "failed" and "reason" not in job, job
    assert job["progress"] == {"total": 30, "pending": 0, "running": 0, "completed": 26, "failed": 4}
    assert job["cancellationThreshold"]["minNumberOfExecutedDevices"] == 25
    assert [b["status"] for b in job["batches"]] == ["completed", "failed", "completed"]
    devices = jobs.devices(job_id)
    for device_id in KIOSKS:
        assert len(log_of(stack, device_id, "invoke_device_method")) == 1, device_id  # offline ones: the attempt
        if device_id in offline:
            assert devices[device_id]["errorCode"] == "DeviceNotOnline"


def test_pause_after_each_batch_waits_for_a_resume_before_the_next(stack, jobs):
    kiosks_online_but(stack, set())
    job_id = jobs.start(jobs.group(KIOSK), [{"type": "command", "path": "echo", "value": "step"}],
                        batch={"type": "number", "value": 15, "pauseAfterEach": True})
    paused = wait_for(lambda: (job := jobs.get(job_id))["status"] == "stopped" and job, timeout=60,
                      what="the job to pause after batch 1")
    assert paused["reason"] == "Paused after batch 1 of 2; resume to send to batch 2.", paused
    assert paused["lastStoppedBy"] == {"type": "system", "id": "rollout", "displayName": "Rollout batches"}
    assert [(b["status"], b["completed"], b["pending"]) for b in paused["batches"]] == [
        ("completed", 15, 0), ("pending", 0, 15)]
    assert [len(log_of(stack, device_id, "invoke_device_method")) for device_id in KIOSKS] == [1] * 15 + [0] * 15

    resumed = jobs.action(job_id, "resume")
    assert resumed.ok, resumed.text
    job = jobs.wait_ended(job_id)
    assert job["status"] == "completed" and "reason" not in job, job
    assert job["progress"]["completed"] == 30 and [b["status"] for b in job["batches"]] == ["completed"] * 2
    assert [len(log_of(stack, device_id, "invoke_device_method")) for device_id in KIOSKS] == [1] * 30
