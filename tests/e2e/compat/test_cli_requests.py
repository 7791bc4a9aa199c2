"""What IoT Central's clients send, through the HTTPS proxy: unknown paths and methods answer in
the error shape; `organizations`, URN templates, `$provisioned` / `$simulated` and the CLI's string
booleans are understood; a pending job stops at once; a retried create does nothing twice."""
from __future__ import annotations

import pytest

from local.waiting import wait_for
from shared.storage_names import DISPATCH_QUEUE, PLAN_QUEUE

VENDING = ("vending-0001", "vending-0002", "vending-0003")
VENDING_MODEL = "dtmi:contoso:RefrigeratedVendingMachine;1"
URN_TEMPLATE = "urn:1dgygpt7t:modelDefinition:02uwtefvdy"  # IoT Central's "create a job" example


def in_(*device_ids: str) -> str:
    return "SELECT * FROM devices WHERE $id IN [" + ", ".join(f'"{d}"' for d in device_ids) + "]"


def fan(value: int, **more) -> list[dict]:
    return [{"type": "property", "path": "fanSpeed", "value": value, **more}]


def assert_error(response, status: int, code: str, target: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["x-ms-error-code"] == code
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["requestId"] and error["time"], error
    if target is not None:
        assert error.get("target") == target or target in error["message"], error
    return error


# Unknown paths and methods

UNKNOWN_PATHS = ["dashboards", "deviceTemplates/t-1", "scheduledJobs/nightly/jobs/x", "devices",
                 "devices/vending-0001", "deviceTemplates", "organizations", "jobs/j-1/unknown", "jobs/j-1/devices/x",
                 "deviceGroups/g-1/devices/vending-0001", "history/j-1", "history/j-1/report.json",
                 "openapi.yaml", "health/deep", "jobs/j-1/rerun", "a/b/c/d/e/f/g", "%2e%2e/admin"]
WRONG_METHODS = [("DELETE", "jobs"), ("PUT", "jobs"), ("PATCH", "deviceGroups"), ("POST", "deviceGroups/g-1"),
                 ("GET", "jobs/j-1/stop"), ("PUT", "jobs/j-1/resume"), ("DELETE", "jobs/j-1/devices"),
                 ("POST", "jobs/j-1/rerun/r-1"), ("POST", "history"), ("DELETE", "health"), ("PUT", "openapi.json"),
                 ("POST", "jobs/j-1/report.csv")]


@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "PATCH", "DELETE"])
def test_a_path_the_api_does_not_serve_is_404_in_the_error_shape(central, method):
    for path in UNKNOWN_PATHS:
        error = assert_error(central.request(method, path, json={} if method in ("PUT", "POST", "PATCH") else None),
                             404, "NotFound")
        assert "/api/" in error["message"], error


def test_a_method_a_path_does_not_serve_is_405_with_allow(central):
    for method, path in WRONG_METHODS:
        response = central.request(method, path)
        assert_error(response, 405, "MethodNotAllowed")
        allowed = [name.strip() for name in response.headers["Allow"].split(",")]
        assert allowed and method not in allowed, (path, allowed)
        for other in allowed:  # each method Allow names is served there (whatever the answer, not 405)
            assert central.request(other, path).status_code != 405, (other, path)


# organizations

def test_organizations_are_stored_returned_and_copied_and_two_are_refused(central):
    group_id = central.group(in_(*VENDING), organizations=["seattle"])
    group = central.get(f"deviceGroups/{group_id}").json()
    assert group["organizations"] == ["seattle"]
    assert len(central.items(f"deviceGroups/{group_id}/devices")) == 3  # devices in IoT Hub have no organization

    job_id = central.start(group_id, fan(1), organizations=["seattle"])
    assert central.job(job_id)["organizations"] == ["seattle"]
    copied = central.post(f"jobs/{job_id}/copy")
    assert copied.status_code == 201, copied.text
    assert copied.json()["organizations"] == ["seattle"]

    two = ["seattle", "redmond"]
    assert_error(central.put("deviceGroups/g-two-orgs", {"displayName": "Two", "filter": in_(*VENDING),
                                                        "organizations": two}), 400, "InvalidRequest", "organizations")
    assert_error(central.put("jobs/j-two-orgs", {"group": group_id, "data": fan(1), "organizations": two}),
                 400, "InvalidRequest", "organizations")
    assert central.get("deviceGroups/g-two-orgs").status_code == 404
    assert central.get("jobs/j-two-orgs").status_code == 404


# Templates and system fields

def test_a_urn_target_is_accepted_and_devices_of_another_model_fail_with_model_mismatch(stack, central):
    group_id = central.group(in_(*VENDING))
    job_id = central.start(group_id, fan(2, target=URN_TEMPLATE))
    assert central.job(job_id)["data"][0]["target"] == URN_TEMPLATE
    job = central.wait_ended(job_id)
    assert job["progress"]["failed"] == 3, job
    for device in central.items(f"jobs/{job_id}/devices"):
        assert device["status"] == "failed" and device["errorCode"] == "ModelMismatch", device
        assert VENDING_MODEL in device["errorMessage"] or URN_TEMPLATE in device["errorMessage"], device
    for device_id in VENDING:
        assert not stack.log_of(device_id, "update_twin")


@pytest.mark.parametrize("condition, selected", [
    ("$provisioned = true", VENDING), ("$provisioned = false", ()), ("$provisioned != false", VENDING),
    ("$simulated = false", VENDING), ("$simulated = true", ()), ("$simulated <> true", VENDING)])
def test_provisioned_and_simulated_select_as_documented(central, condition, selected):
    group_id = central.group(f'{in_(*VENDING)} AND $template = "{VENDING_MODEL}" AND {condition}')
    assert sorted(device["id"] for device in central.items(f"deviceGroups/{group_id}/devices")) == list(selected)


@pytest.mark.parametrize("condition", ["$provisioned > 0", "$provisioned = 'yes'", "$simulated IN [true]"])
def test_other_uses_of_provisioned_and_simulated_are_refused_saying_what_to_write(central, condition):
    error = assert_error(central.put("deviceGroups/g-odd-system-field",
                                     {"displayName": "Odd", "filter": f"{in_(*VENDING)} AND {condition}"}),
                         400, "InvalidRequest", "filter")
    assert "true" in error["message"] and "false" in error["message"], error
    assert central.get("deviceGroups/g-odd-system-field").status_code == 404


# The CLI's string booleans

def test_a_cancellation_threshold_batch_sent_as_a_string_reads_as_the_boolean(central):
    group_id = central.group(in_(*VENDING))
    threshold = {"type": "percentage", "value": 50, "batch": "false"}
    job_id = central.start(group_id, fan(3), cancellationThreshold=threshold)
    assert central.job(job_id)["cancellationThreshold"] == {**threshold, "batch": False}
    assert central.wait_ended(job_id)["status"] == "completed"

    for odd in ("no", "False ", 0, None):
        refused = central.put("jobs/j-odd-batch", {"group": group_id, "data": fan(3),
                                                   "cancellationThreshold": {**threshold, "batch": odd}})
        assert_error(refused, 400, "InvalidRequest", "cancellationThreshold.batch")
        assert central.get("jobs/j-odd-batch").status_code == 404


# Stop and resume

def test_a_pending_job_stops_at_once_sends_nothing_until_resumed_and_then_runs_every_device_once(stack, central):
    group_id = central.group("SELECT * FROM devices WHERE tags.type = 'kiosk'")
    stack.hub.control.inject_fault("query", count=3, latency_ms=2_000)  # planning takes a while
    planned = executed(stack, "plan_job")
    job_id = central.start(group_id, fan(41))
    assert central.job(job_id)["status"] == "pending"

    for _ in range(2):  # a retried stop answers as the first did
        assert central.post(f"jobs/{job_id}/stop").status_code == 204
    assert central.job(job_id)["status"] == "stopped"
    # A queue's count includes messages being processed: both empty, the planner is done and nothing waits to be sent.
    wait_for(lambda: executed(stack, "plan_job") > planned and not queued(stack, PLAN_QUEUE)
             and not queued(stack, DISPATCH_QUEUE), timeout=60, what="planning to be over and nothing to be queued")
    kiosks = [f"kiosk-{n:03d}" for n in range(1, 31)]
    assert not [device_id for device_id in kiosks if received(stack, device_id, 41)], "sent while stopped"
    assert central.job(job_id)["status"] == "stopped"

    assert central.post(f"jobs/{job_id}/resume").status_code == 204
    assert central.post(f"jobs/{job_id}/resume").status_code == 204  # resuming a pending or running job: no-op
    job = central.wait_ended(job_id)
    assert job["status"] == "completed" and job["progress"]["completed"] == 30, job
    assert all(len(received(stack, device_id, 41)) == 1 for device_id in kiosks)


def received(stack, device_id: str, value: int) -> list[dict]:
    return [entry for entry in stack.log_of(device_id, "update_twin")
            if entry.get("desired", {}).get("fanSpeed") == value]


def executed(stack, function: str) -> int:
    """How many invocations of `function` the host has finished, from its log."""
    return stack.host.log_path.read_text(errors="replace").count(f"Executed 'Functions.{function}'")


def queued(stack, name: str) -> int:
    return stack.queue(name).get_queue_properties().approximate_message_count


# Retries

def test_a_retried_put_answers_the_same_resource_and_does_nothing_twice(stack, central):
    group_body = {"displayName": "Retried", "filter": in_(*VENDING)}
    first_group = central.put("deviceGroups/g-retried", group_body)
    again_group = central.put("deviceGroups/g-retried", group_body)
    assert first_group.status_code == again_group.status_code == 200, again_group.text
    assert again_group.json()["displayName"] == "Retried"

    body = {"displayName": "Retried job", "group": "g-retried", "data": fan(52)}
    first = central.put("jobs/j-retried", body)
    again = central.put("jobs/j-retried", body)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json()["id"] == "j-retried" and again.json()["data"] == first.json()["data"]
    assert central.wait_ended("j-retried")["progress"] == {"total": 3, "pending": 0, "running": 0,
                                                           "completed": 3, "failed": 0}
    assert central.put("jobs/j-retried", body).status_code == 200  # after it ended too: the same job
    assert all(len(received(stack, device_id, 52)) == 1 for device_id in VENDING)

    other = central.put("jobs/j-retried", {**body, "data": fan(53)})
    assert_error(other, 409, "AlreadyExists")
    assert not any(received(stack, device_id, 53) for device_id in VENDING)

