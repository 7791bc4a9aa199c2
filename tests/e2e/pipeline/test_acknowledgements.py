"""Acknowledged completion through the API of a dev host, Azurite and the simulator, whose
Plug and Play devices acknowledge writable properties (`ac`/`av`/`ad`): devices that
acknowledge complete (late ones too), devices that reject fail with their `ad` text, devices
that never answer fail with Timeout; each device is written once and the counters add up."""
from __future__ import annotations

from datetime import datetime

from tests.e2e.pipeline.conftest import assert_counts_add_up, log_of

VENDING = "SELECT * FROM devices WHERE tags.type = 'vending'"
DEVICES = [f"vending-{n:04d}" for n in range(901, 911)]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def fan_speed(value: int) -> list[dict]:
    return [{"type": "property", "path": "fanSpeed", "value": value, "completion": "acknowledged"}]


def test_acknowledging_devices_complete_and_silent_ones_time_out(stack, jobs):
    silent, late = DEVICES[:3], DEVICES[3:5]
    for device_id in DEVICES:
        stack.hub.control.set_online(device_id, device_id not in silent)
    for device_id in late:
        stack.hub.control.set_behaviour(device_id, ack_delay="fixed:15000")
    try:
        job_id = jobs.start(jobs.group(VENDING), fan_speed(4), devices=DEVICES, timeout={"inProgressMinutes": 1})
        job = jobs.wait_ended(job_id, timeout=180)
    finally:
        for device_id in late:
            stack.hub.control.set_behaviour(device_id, ack_delay="uniform:20,80")
    assert job["status"] == "failed", job
    assert job["progress"] == {"total": 10, "pending": 0, "running": 0, "completed": 7, "failed": 3}
    assert job["data"][0]["completion"] == "acknowledged" and job["timeout"] == {"inProgressMinutes": 1}
    devices = jobs.devices(job_id)
    for device_id in DEVICES:
        (write,) = log_of(stack, device_id, "update_twin")  # written once, whatever the wait
        if device_id in silent:
            assert (devices[device_id]["status"], devices[device_id]["errorCode"]) == ("failed", "Timeout")
            assert devices[device_id]["errorMessage"] == (
                f"The device did not acknowledge desired version {write['desiredVersion']} within 1 minutes.")
        else:
            assert devices[device_id]["status"] == "completed", devices[device_id]
        if device_id in late:  # completed once the acknowledgement came, not when written
            waited = at(devices[device_id]["time"]) - at(write["time"])
            assert waited.total_seconds() >= 15, (device_id, waited)


def test_rejecting_devices_fail_with_the_devices_own_words(stack, jobs):
    for device_id in DEVICES:
        stack.hub.control.set_online(device_id, True)
    job_id = jobs.start(jobs.group(VENDING), fan_speed(9), devices=DEVICES[:4])
    job = jobs.wait_ended(job_id, timeout=60)
    assert job["status"] == "failed", job
    assert_counts_add_up(job["progress"])
    assert job["progress"]["failed"] == 4
    devices = jobs.devices(job_id)
    assert {(d["errorCode"], d["errorMessage"]) for d in devices.values()} == {
        ("DeviceRejected", "The device rejected fanSpeed (ac 400): rejected: out of range 0..5")}
    assert [len(log_of(stack, d, "update_twin")) for d in DEVICES[:4]] == [1] * 4


def test_a_written_property_completes_as_before_without_completion(stack, jobs):
    for device_id in DEVICES:
        stack.hub.control.set_online(device_id, device_id != DEVICES[0])
    job_id = jobs.start(jobs.group(VENDING), [{"type": "property", "path": "fanSpeed", "value": 9}],
                        devices=DEVICES[:4])
    job = jobs.wait_ended(job_id, timeout=60)
    assert job["status"] == "completed" and job["progress"]["completed"] == 4, job  # written is done
