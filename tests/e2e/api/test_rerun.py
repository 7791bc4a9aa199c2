"""Rerun (IoT Central's `PUT /jobs/{id}/rerun/{rerunId}`): the job's operations again, as a new
job, on exactly the devices that failed in it, checked against what each simulated device got."""
from __future__ import annotations

import pytest

from local.waiting import wait_for
from tests.e2e.api.conftest import device_filter, unique

ECHO = [{"type": "command", "path": "echo", "value": {"note": "rerun"}}]


@pytest.fixture
def devices(hub):
    """Four simulated devices of this test's own, answering every command, two of them offline."""
    manager = hub.registry_manager()
    ids = [unique("rerun") for _ in range(4)]
    for device_id in ids:
        manager.create_device_with_sas(device_id, None, None, "enabled")
        # Other tests change the whole fleet's behaviour; these devices never fail on their own.
        hub.control.set_behaviour(device_id, failure_probability=0, latency="fixed:10")
    for device_id in ids[:2]:
        hub.control.set_online(device_id, False)
    yield ids
    for device_id in ids:
        manager.delete_device(device_id)


def ended(api, job_id: str) -> dict:
    return wait_for(lambda: (job := api.get(f"jobs/{job_id}").json())["status"] in ("completed", "failed") and job,
                    timeout=60, what=f"job {job_id} to end")


def echoes(hub, device_id: str) -> int:
    """Echo commands the device received and answered (the log also holds calls made while it was offline)."""
    return sum(1 for entry in hub.control.device_log(device_id)
               if entry.get("methodName") == "echo" and entry.get("result") == 200)


def test_a_rerun_runs_the_operations_again_on_the_failed_devices_only(api, hub, devices):
    group_id = unique("group")
    assert api.put(f"deviceGroups/{group_id}", {"displayName": "Rerun", "filter": device_filter(*devices)}).ok
    job_id, rerun_id = unique("job"), unique("rerun")
    assert api.put(f"jobs/{job_id}", {"displayName": "Echo", "group": group_id, "data": ECHO}).ok
    source = ended(api, job_id)
    assert source["status"] == "failed" and source["progress"]["failed"] == 2
    for device_id in devices[:2]:
        hub.control.set_online(device_id, True)

    response = api.put(f"jobs/{job_id}/rerun/{rerun_id}")

    assert response.status_code == 200, response.text
    assert response.json()["rerunOf"] == job_id and response.json()["data"] == ECHO
    rerun = ended(api, rerun_id)
    assert rerun["status"] == "completed" and rerun["progress"]["total"] == 2
    listed = api.get(f"jobs/{rerun_id}/devices").json()["value"]
    assert sorted(row["id"] for row in listed) == sorted(devices[:2])
    assert [echoes(hub, device_id) for device_id in devices] == [1, 1, 1, 1]  # each device ran it once
    assert api.get(f"jobs/{job_id}").json()["progress"] == source["progress"]  # the source is unchanged


def test_a_rerun_is_refused_when_nothing_failed_or_the_job_has_not_ended(api, hub, devices, make_group):
    group_id = make_group(device_filter(*devices[2:]))
    job_id = unique("job")
    assert api.put(f"jobs/{job_id}", {"displayName": "Echo", "group": group_id, "data": ECHO}).ok
    assert ended(api, job_id)["status"] == "completed"
    draft = api.post("jobs", {"displayName": "Draft", "group": group_id, "data": ECHO}).json()["id"]

    nothing_failed = api.put(f"jobs/{job_id}/rerun/{unique('rerun')}")
    not_ended = api.put(f"jobs/{draft}/rerun/{unique('rerun')}")
    taken_id = api.put(f"jobs/{job_id}/rerun/{draft}")
    bad_id = api.put(f"jobs/{job_id}/rerun/not%20valid")
    unknown = api.put(f"jobs/{unique('missing')}/rerun/{unique('rerun')}")

    assert (nothing_failed.status_code, nothing_failed.headers["x-ms-error-code"]) == (409, "InvalidJobState")
    assert (not_ended.status_code, not_ended.headers["x-ms-error-code"]) == (409, "InvalidJobState")
    assert taken_id.status_code == 409 and taken_id.headers["x-ms-error-code"] in ("InvalidJobState", "AlreadyExists")
    assert (bad_id.status_code, bad_id.json()["error"]["target"]) == (400, "rerunId")
    assert unknown.status_code == 404
    assert [echoes(hub, device_id) for device_id in devices[2:]] == [1, 1]  # no refused rerun sent anything
