"""A job's rollout rate through the API of a dev host, Azurite and the simulator: its devices
receive their operation no faster than the rate (a correctness bound, not a speed assertion),
each once, and the counters add up."""
from __future__ import annotations

from datetime import datetime

from shared.domain.rollout_rate import batch_size
from tests.e2e.pipeline.conftest import assert_counts_add_up, log_of

VENDING = "SELECT * FROM devices WHERE tags.type = 'vending'"


def first_receipts(stack, device_ids: list[str]) -> list[float]:
    """Each device's receipt of its one twin update, in seconds from the first one, sorted."""
    times = []
    for device_id in device_ids:
        (patch,) = log_of(stack, device_id, "update_twin")  # each device once
        times.append(datetime.fromisoformat(patch["time"].replace("Z", "+00:00")).timestamp())
    return sorted(time - min(times) for time in times)


def busiest_minute(times: list[float]) -> int:
    return max(sum(1 for later in times[i:] if later < start + 60) for i, start in enumerate(times))


def test_a_rate_limited_job_s_devices_receive_no_faster_than_its_rate_and_each_once(stack, jobs):
    rate, devices = 240, [f"vending-{n:04d}" for n in range(1, 301)]  # 75 s of sending at 240/min
    job_id = jobs.start(jobs.group(VENDING), [{"type": "property", "path": "fanSpeed", "value": 5}],
                        devices=devices, rolloutRate={"maximumPerMinute": rate})
    job = jobs.wait_ended(job_id, timeout=300)

    assert job["status"] == "completed", job
    assert job["progress"] == {"total": 300, "pending": 0, "running": 0, "completed": 300, "failed": 0}
    assert_counts_add_up(job["progress"])
    assert job["rolloutRate"] == {"maximumPerMinute": rate}
    times = first_receipts(stack, devices)
    # The rate, plus the batch at a window's edge, plus what the queue's whole-second delays and
    # the host's polling (up to 2 s late, then all that is visible at once) can bunch together.
    slack = 3 * batch_size(rate)
    assert busiest_minute(times) <= rate + slack, times
