"""The dev host killed with SIGKILL in the middle of a job, then started again.

The messages the dead host held stay invisible for the host's 10-minute receive visibility, so
here the stall watchdog (DISPATCH_STALL_SECONDS, shortened for the test) is what recovers the
job: leftover `running` devices fail as OutcomeUnknown (commands are never sent twice), the
pending ones are batched again."""
from __future__ import annotations

from tests.e2e.pipeline.conftest import assert_counts_add_up, log_of
from local.waiting import wait_for

GROUP = "SELECT * FROM devices WHERE tags.type = 'vending' AND connectionState = 'Connected'"


def test_a_job_survives_its_host_being_killed_and_no_command_runs_twice(stack, jobs, host_settings):
    host_settings(DISPATCH_STALL_SECONDS="5")
    stack.hub.control.set_fleet_behaviour(failure_probability=0, latency="fixed:150")
    job_id = jobs.start(jobs.group(GROUP), [{"type": "command", "path": "echo", "value": "kill-test"}])
    wait_for(lambda: jobs.get(job_id)["progress"]["completed"] >= 150, timeout=60, what="some progress")
    stack.host.kill()
    at_kill = stack.job_devices.get_progress(job_id)
    assert at_kill.pending + at_kill.running > 0, "the job ended before the kill; slow the devices down"
    stack.host.start()
    job = jobs.wait_ended(job_id, timeout=150)
    progress = job["progress"]
    assert_counts_add_up(progress)
    assert progress["pending"] == progress["running"] == 0 and progress["completed"] + progress["failed"] == progress["total"]
    for device_id, device in jobs.devices(job_id).items():
        calls = len(log_of(stack, device_id, "invoke_device_method"))
        assert calls <= 1, f"{device_id} got the command {calls} times"
        if device["status"] == "completed":
            assert calls == 1, device_id
        else:
            assert device["errorCode"] == "OutcomeUnknown", device
