"""Jobs over HTTP: create and run, drafts, edit, copy, delete, list, devices, state refusals.

The pipeline may move a job on from `pending` at any time, so a started job is only
checked to be `pending` or later; transitions that need a running job are covered by the unit
tests, and by test_stop_and_resume_a_running_job once the pipeline exists.
"""
from __future__ import annotations

from local.waiting import wait_for

from .conftest import STARTED_OR_LATER, device_filter, job_body, unique


def test_put_creates_and_starts_a_job(api, make_group):
    group_id, job_id = make_group(), unique("job")
    body = job_body(group_id, description="fan to 2",
                    data=[{"type": "PropertyJobData", "path": "fanSpeed", "value": 2,
                           "target": "dtmi:contoso:RefrigeratedVendingMachine;1"},
                          {"type": "command", "path": "thermostat1.getMaxMinReport", "value": {"since": "x"}}])
    created = api.put(f"jobs/{job_id}?api-version=2022-07-31", body)
    assert created.status_code == 200, created.text
    job = created.json()
    assert job["id"] == job_id and job["status"] in STARTED_OR_LATER
    assert [item["type"] for item in job["data"]] == ["property", "command"]  # the spec's names
    assert set(job["progress"]) == {"total", "pending", "running", "completed", "failed"}
    assert created.headers["ETag"]

    fetched = api.get(f"jobs/{job_id}").json()
    assert fetched["displayName"] == "Set fan speed" and fetched["group"] == group_id
    assert fetched["status"] in STARTED_OR_LATER


def test_the_same_job_id_twice_is_a_conflict(api, make_group):
    group_id, job_id = make_group(), unique("job")
    assert api.put(f"jobs/{job_id}", job_body(group_id)).status_code == 200
    again = api.put(f"jobs/{job_id}", job_body(group_id, displayName="other"))
    assert again.status_code == 409
    assert api.get(f"jobs/{job_id}").json()["displayName"] == "Set fan speed"


def test_a_draft_is_saved_edited_run_and_cannot_run_twice(api, make_group):
    group_id = make_group()
    saved = api.post("jobs", job_body(group_id))
    assert saved.status_code == 201, saved.text
    draft = saved.json()
    assert draft["status"] == "draft" and saved.headers["Location"].endswith(f"/api/jobs/{draft['id']}")

    edited = api.patch(f"jobs/{draft['id']}", {"displayName": "Renamed", "devices": ["vending-0002"]})
    assert edited.status_code == 200, edited.text
    assert edited.json()["displayName"] == "Renamed" and edited.json()["devices"] == ["vending-0002"]

    stale = api.post(f"jobs/{draft['id']}/run", headers={"If-Match": saved.headers["ETag"]})
    assert stale.status_code == 412
    assert api.get(f"jobs/{draft['id']}").json()["status"] == "draft"

    ran = api.post(f"jobs/{draft['id']}/run", headers={"If-Match": edited.headers["ETag"]})
    assert ran.status_code == 200, ran.text
    assert ran.json()["status"] in STARTED_OR_LATER
    twice = api.post(f"jobs/{draft['id']}/run")
    assert twice.status_code == 409 and twice.headers["x-ms-error-code"] == "InvalidJobState"


def test_post_with_run_true_starts_at_once(api, make_group):
    created = api.post("jobs", job_body(make_group(), run=True))
    assert created.status_code == 201, created.text
    assert created.json()["status"] in STARTED_OR_LATER


def test_editing_a_started_job_is_a_conflict(api, make_group):
    job_id = unique("job")
    api.put(f"jobs/{job_id}", job_body(make_group()))
    refused = api.patch(f"jobs/{job_id}", {"displayName": "nope"})
    assert refused.status_code == 409
    assert api.get(f"jobs/{job_id}").json()["displayName"] == "Set fan speed"


def test_copy_makes_a_new_draft_and_leaves_the_source(api, make_group):
    job_id = unique("job")
    api.put(f"jobs/{job_id}", job_body(make_group(), displayName="Reboot all"))
    copied = api.post(f"jobs/{job_id}/copy")
    assert copied.status_code == 201, copied.text
    assert copied.json()["displayName"] == "Reboot all Copy" and copied.json()["status"] == "draft"
    assert copied.json()["id"] != job_id
    assert api.get(f"jobs/{job_id}").json()["displayName"] == "Reboot all"


def test_a_draft_can_be_deleted_and_a_stop_or_resume_of_it_is_refused(api, make_group):
    draft = api.post("jobs", job_body(make_group())).json()
    assert api.post(f"jobs/{draft['id']}/stop").status_code == 409
    assert api.post(f"jobs/{draft['id']}/resume").status_code == 409
    assert api.delete(f"jobs/{draft['id']}", headers={"If-Match": 'W/"stale"'}).status_code == 412
    assert api.delete(f"jobs/{draft['id']}").status_code == 204
    assert api.get(f"jobs/{draft['id']}").status_code == 404
    for action in ("stop", "resume", "run", "copy"):
        assert api.post(f"jobs/{draft['id']}/{action}").status_code == 404


def test_list_shows_recent_jobs_newest_first(api, make_group):
    group_id = make_group()
    older = api.post("jobs", job_body(group_id)).json()["id"]
    newer = api.post("jobs", job_body(group_id)).json()["id"]
    listed = [job["id"] for job in _all_pages(api, "jobs?maxpagesize=5")]
    assert listed.index(newer) < listed.index(older)


def test_job_devices_are_listed_and_filtered(api, make_group):
    job_id = unique("job")
    api.put(f"jobs/{job_id}", job_body(make_group()))
    page = api.get(f"jobs/{job_id}/devices", params={"status": "failed"})
    assert page.status_code == 200 and all(device["status"] == "failed" for device in page.json()["value"])
    assert api.get(f"jobs/{job_id}/devices", params={"status": "exploded"}).status_code == 400
    assert api.get(f"jobs/{unique('job')}/devices").status_code == 404


def test_stop_resume_and_delete_of_running_stopped_and_ended_jobs(api, hub, make_group):
    hub.control.set_fleet_behaviour(latency="fixed:2000")
    try:
        group_id = make_group(device_filter(*[f"vending-{n:04d}" for n in range(10, 50)]))
        body = job_body(group_id, data=[{"type": "command", "path": "echo", "value": 1}])
        resumed, deleted = unique("job"), unique("job")
        for job_id in (resumed, deleted):
            assert api.put(f"jobs/{job_id}", body).status_code == 200
        for job_id in (resumed, deleted):
            _wait_status(api, job_id, "running")
            assert api.delete(f"jobs/{job_id}").status_code == 409
            assert api.post(f"jobs/{job_id}/resume").status_code == 204  # runs already: a retry is no error
            assert _status(api, job_id) == "running"
            assert api.post(f"jobs/{job_id}/stop").status_code == 204
            assert _status(api, job_id) == "stopped"
            assert api.post(f"jobs/{job_id}/stop").status_code == 204  # a retried stop
            assert _status(api, job_id) == "stopped"

        assert api.delete(f"jobs/{deleted}").status_code == 204
        assert api.get(f"jobs/{deleted}").status_code == 404

        assert api.post(f"jobs/{resumed}/resume").status_code == 204
        assert _status(api, resumed) in {"running", "completed", "failed"}
        wait_for(lambda: _status(api, resumed) in ("completed", "failed"), timeout=60, what="the resumed job to end")
        progress = api.get(f"jobs/{resumed}").json()["progress"]
        assert progress["total"] == 40 == progress["completed"] + progress["failed"]
        assert api.post(f"jobs/{resumed}/resume").status_code == 409
        assert api.post(f"jobs/{resumed}/stop").status_code == 409
        assert api.post(f"jobs/{resumed}/copy").status_code == 201
        assert api.delete(f"jobs/{resumed}").status_code == 204
    finally:
        hub.control.set_fleet_behaviour(latency="lognormal:60,0.5,1500")


def _wait_status(api, job_id: str, status: str) -> None:
    wait_for(lambda: _status(api, job_id) == status, timeout=30, what=f"job {job_id} {status}")


def _status(api, job_id: str) -> str:
    return api.get(f"jobs/{job_id}").json().get("status")


def _all_pages(api, path: str) -> list[dict]:
    response = api.get(path).json()
    items = list(response["value"])
    while "nextLink" in response:
        response = api.session.get(response["nextLink"]).json()
        items += response["value"]
    return items
