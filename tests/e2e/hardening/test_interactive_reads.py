"""Reads made for HTTP callers cannot starve a job: with the simulator throttled like one S1 unit
(20 queries a minute) and the app at its default pacing, thirty reads of as many groups get their
share of the query budget (the rest answer 429 with Retry-After), and a job started meanwhile
reaches its devices as soon as it would without them."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from local.waiting import wait_for

from .conftest import S1_PACING, Client, device_filter, start_stack

DEVICES = ("vending-0001", "vending-0002", "vending-0003")
READS = 30
# Far above what planning takes, far below what it took when thirty reads queued ahead of it.
PLANNING_DEADLINE_SECONDS = 20


@pytest.fixture(scope="module")
def stack():
    stack = start_stack(sku="S1", **S1_PACING)
    yield stack
    stack.close()


def first_reached(client: Client, value: int, deadline: float) -> float:
    """When the first of DEVICES received the job's patch (the simulator's clock), waiting at most
    until `deadline` (time.monotonic)."""
    def reached():
        times = [_seconds(entry["time"]) for device_id in DEVICES for entry in client.log_of(device_id, "update_twin")
                 if entry["desired"] == {"fanSpeed": value}]
        return min(times) if times else None
    return wait_for(reached, timeout=max(0.0, deadline - time.monotonic()), interval=0.1,
                    what="the job's first device to get its patch")


def _seconds(stamp) -> float:
    return stamp if isinstance(stamp, (int, float)) else datetime.fromisoformat(stamp).timestamp()


def queries_sent(control) -> int:
    return control.counters().get("query_iot_hub", {}).get("calls", 0)


def start_job(client: Client, group_id: str, value: int) -> tuple[str, float, float]:
    """(job id, wall time the request was sent, its deadline on time.monotonic)."""
    sent_wall, deadline = time.time(), time.monotonic() + PLANNING_DEADLINE_SECONDS
    job_id = client.start(group_id, [{"type": "property", "path": "fanSpeed", "value": value}])
    return job_id, sent_wall, deadline


def test_thirty_group_reads_do_not_starve_a_job_s_planning(stack):
    client = Client(stack)
    control = stack.hub.control
    control.reset()  # S1 buckets full
    group_id = client.group(device_filter(*DEVICES))

    job_id, sent, deadline = start_job(client, group_id, 1)
    alone = first_reached(client, 1, deadline) - sent
    assert client.wait_ended(job_id)["status"] == "completed"

    # Groups saved earlier, each with a filter of its own, so every read asks the hub.
    groups = [client.stored_group(f"SELECT * FROM devices WHERE tags.site = \"site-{n:02d}\"")
              for n in range(1, READS + 1)]
    before = queries_sent(control)
    with ThreadPoolExecutor(READS) as pool:
        reads = [pool.submit(Client(stack).get, f"deviceGroups/{group}") for group in groups]
        # The reads are under way (at least their share has reached the hub) before the job starts.
        wait_for(lambda: queries_sent(control) >= before + 3, timeout=30, what="the reads to reach the hub")
        job_id, sent, deadline = start_job(client, group_id, 2)
        with_reads = first_reached(client, 2, deadline) - sent
        answers = [read.result() for read in reads]
    job = client.wait_ended(job_id)

    statuses = sorted(answer.status_code for answer in answers)
    queries = control.counters()["query_iot_hub"]["byStatus"]
    print(f"\nfirst device reached {alone:.1f} s after PUT /jobs alone, {with_reads:.1f} s with {READS} group reads "
          f"at once; reads answered {statuses.count(200)}×200, {statuses.count(429)}×429; hub queries {queries}")
    assert job["status"] == "completed" and job["progress"]["completed"] == len(DEVICES), job
    for device_id in DEVICES:
        patches = [entry["desired"] for entry in client.log_of(device_id, "update_twin")]
        assert patches == [{"fanSpeed": 1}, {"fanSpeed": 2}], device_id
    assert set(statuses) <= {200, 429} and 200 in statuses, statuses
    for answer in answers:
        if answer.status_code == 429:
            assert answer.json()["error"]["code"] == "TooManyRequests" and int(answer.headers["Retry-After"]) > 0
        else:
            assert answer.json()["corrupted"] is False
    assert "429" not in queries  # the app stayed within the hub's limit
