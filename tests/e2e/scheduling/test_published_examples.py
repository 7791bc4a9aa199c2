"""IoT Central's published scheduled job examples (REST API 2022-07-31, `scheduledjobs_*.json` of
its public specification) sent verbatim: each answers the example's status and holds every
field of the example's response. The create example answers another `target` than its request
sent; a faithful server echoes the request's, which is what is asserted. Our schedule also
carries `timeZone` (UTC unless given)."""
from __future__ import annotations

import pytest

EXAMPLE_GROUP = "ad86219f-d224-48ad-a29b-b593a4e4bb38"
CREATE_REQUEST = {"displayName": "New Scheduled Job", "description": "", "group": EXAMPLE_GROUP,
                  "data": [{"type": "command", "target": "dtmi:modelDefinition:test;1", "path": "Reboot",
                            "value": None}],
                  "schedule": {"start": "2022-05-24T22:29:01Z", "recurrence": "daily"}}
CREATE_RESPONSE = {"id": "newScheduledJobId", "displayName": "New Scheduled Job", "description": "",
                   "group": EXAMPLE_GROUP,
                   "data": [{"type": "command", "target": "dtmi:modelDefinition:test;1", "path": "Reboot"}],
                   "schedule": {"start": "2022-05-24T22:29:01Z", "recurrence": "daily"}, "enabled": True,
                   "completed": False}
UPDATE_REQUEST = {"schedule": {"start": "2022-05-24T22:29:01Z", "recurrence": "weekly"}}
UPDATE_RESPONSE = {**CREATE_RESPONSE, "schedule": {"start": "2022-05-24T22:29:01Z", "recurrence": "weekly"}}


def assert_holds(answer: dict, example: dict) -> None:
    for name, value in example.items():
        assert name in answer, f"{name} missing from {answer}"
        if name == "schedule":
            assert {key: answer[name][key] for key in value} == value and answer[name]["timeZone"] == "UTC"
        else:
            assert answer[name] == value, f"{name}: {answer[name]!r}, the example says {value!r}"
    assert answer["etag"]


@pytest.fixture
def example_group(client):
    # Made first: the group the examples name (any filter; the examples do not show it).
    response = client.put(f"deviceGroups/{EXAMPLE_GROUP}", {"displayName": "Example group",
                                                             "filter": "SELECT * FROM devices WHERE $id = \"none\""})
    assert response.status_code == 200, response.text
    return EXAMPLE_GROUP


def test_the_scheduled_job_examples(client, example_group):
    params = {"api-version": "2022-07-31"}
    created = client.put("scheduledJobs/newScheduledJobId", CREATE_REQUEST, params=params)  # scheduledjobs_create.json
    assert created.status_code == 200, created.text
    assert_holds(created.json(), CREATE_RESPONSE)

    got = client.get("scheduledJobs/newScheduledJobId", params=params)  # scheduledjobs_get.json
    assert got.status_code == 200, got.text
    assert_holds(got.json(), CREATE_RESPONSE)
    assert len(got.json()["nextRuns"]) == 5

    updated = client.patch("scheduledJobs/newScheduledJobId", UPDATE_REQUEST, params=params,
                           headers={"Content-Type": "application/merge-patch+json"})  # scheduledjobs_update.json
    assert updated.status_code == 200, updated.text
    assert_holds(updated.json(), UPDATE_RESPONSE)

    listed = client.get("scheduledJobs", params=params)  # scheduledjobs_list.json
    assert listed.status_code == 200, listed.text
    (entry,) = [job for job in listed.json()["value"] if job["id"] == "newScheduledJobId"]
    assert_holds(entry, UPDATE_RESPONSE)

    deleted = client.delete("scheduledJobs/newScheduledJobId", params=params)  # scheduledjobs_delete.json
    assert deleted.status_code == 204, deleted.text
    assert client.get("scheduledJobs/newScheduledJobId").status_code == 404


def test_bad_input_gets_the_error_shape_naming_the_field(client, example_group):
    for body, target in [({**CREATE_REQUEST, "maintenanceWindows": [{"cron": "0 2 * *", "durationMinutes": 60}]},
                          "maintenanceWindows[0].cron"),
                         ({**CREATE_REQUEST, "maintenanceWindow": []}, "maintenanceWindow"),
                         ({**CREATE_REQUEST, "schedule": {"start": "2022-05-24T22:29:01Z"}}, "schedule.start"),
                         ({**CREATE_REQUEST, "schedule": {"start": "2022-05-24", "recurrence": "daily"}},
                          "schedule.start"),
                         ({**CREATE_REQUEST, "group": "missing"}, "group")]:
        response = client.put("scheduledJobs/refused", body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["target"] == target, response.text
    assert client.get("scheduledJobs/refused").status_code == 404
