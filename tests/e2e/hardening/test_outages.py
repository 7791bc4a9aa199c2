"""Outages answer 503 ServiceUnavailable with Retry-After in the error shape, at once: storage
stopped, and IoT Hub answering 503 to queries."""
from __future__ import annotations

import time


from .conftest import device_filter, start_storage, stop_storage

FAN_SPEED = [{"type": "property", "path": "fanSpeed", "value": 1}]


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["x-ms-error-code"] == "ServiceUnavailable"
    assert int(response.headers["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["code"] == "ServiceUnavailable" and error["requestId"] and error["time"]
    assert not any(sign in error["message"] for sign in ("Error", "http", "Connection", "0x")), error["message"]


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_hub_answering_503_to_queries_makes_job_starts_and_group_reads_answer_503(stack, client):
    group_id = client.stored_group(device_filter("vending-0001", "vending-0002"))  # no verdict kept yet
    stack.hub.control.inject_fault("query", count=1000, status=503)
    try:
        started, started_seconds = timed(lambda: client.put("jobs/j-hub-503", client.job_body(group_id, FAN_SPEED)))
        read, read_seconds = timed(lambda: client.get(f"deviceGroups/{group_id}"))
        asked = stack.hub.control.counters()["query_iot_hub"]["calls"]
    finally:
        stack.hub.control.clear_faults()
    print(f"\nhub answering 503 to queries: PUT /jobs answered {started.status_code} in {started_seconds:.1f} s, "
          f"GET /deviceGroups/{{id}} {read.status_code} in {read_seconds:.1f} s; {asked} queries sent")
    assert_unavailable(started)
    assert_unavailable(read)
    assert asked <= 6  # a few attempts each, within the caller's deadline
    assert client.get("jobs/j-hub-503").status_code == 404  # nothing was changed


def test_a_storage_outage_answers_503_at_once(stack, client):
    group_id = client.group(device_filter("vending-0001"))
    job_id = client.start(group_id, FAN_SPEED)
    client.wait_ended(job_id)
    stop_storage(stack)
    try:
        answers = {what: timed(call) for what, call in {
            "GET /jobs/{id}": lambda: client.get(f"jobs/{job_id}"),
            "GET /jobs": lambda: client.get("jobs"),
            "GET /deviceGroups/{id}": lambda: client.get(f"deviceGroups/{group_id}"),
            "PUT /jobs/{id}": lambda: client.put("jobs/j-outage", client.job_body(group_id, FAN_SPEED)),
            "POST /jobs/{id}/stop": lambda: client.post(f"jobs/{job_id}/stop"),
        }.items()}
    finally:
        start_storage(stack)
    print("\nstorage stopped: " + ", ".join(f"{what} {response.status_code} in {seconds:.1f} s"
                                             for what, (response, seconds) in answers.items()))
    for response, _ in answers.values():
        assert_unavailable(response)
    client.wait_healthy()
