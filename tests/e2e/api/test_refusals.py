"""Every class of bad input is refused with IoT Central's error shape, naming the field, and a refused
request changes nothing (read back after each)."""
from __future__ import annotations

import json

import pytest

from .conftest import device_filter, job_body, unique

GROUP_DEVICES = ("vending-0001", "vending-0002", "edge-gateway-01")
BIG_PROPERTY = "x" * 4100
BIG_PAYLOAD = "x" * (128 * 1024 + 1)


@pytest.fixture(scope="module")
def group_id(api):
    group_id = unique("group")
    response = api.put(f"deviceGroups/{group_id}", {"displayName": "With edge", "filter": device_filter(*GROUP_DEVICES)})
    assert response.status_code == 200, response.text
    return group_id


@pytest.fixture(scope="module")
def corrupted_group_id(azurite):
    from azure.data.tables import TableServiceClient

    group_id = unique("group")
    table = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client("devicegroups")
    table.create_entity({"PartitionKey": "group", "RowKey": group_id, "displayName": "Broken",
                         "filter": "SELECT * FROM devices WHERE (("})
    return group_id


def _property(**changes) -> dict:
    return {"type": "property", "path": "fanSpeed", "value": 2, **changes}


# (name, body changes, status, error code, target)
BAD_JOB_BODIES = [
    ("missing group", {"group": None}, 400, "InvalidRequest", "group"),
    ("missing data", {"data": None}, 400, "InvalidRequest", "data"),
    ("empty data", {"data": []}, 400, "InvalidRequest", "data"),
    ("unknown field", {"colour": "red"}, 400, "InvalidRequest", "colour"),
    ("unknown field in an operation", {"data": [_property(priority=1)]}, 400, "InvalidRequest", "data[0].priority"),
    ("wrong type of name", {"displayName": 5}, 400, "InvalidRequest", "displayName"),
    ("wrong type of data", {"data": {"type": "property"}}, 400, "InvalidRequest", "data"),
    ("string for a number", {"data": [{"type": "command", "path": "echo", "responseTimeout": "30"}]}, 400,
     "InvalidRequest", "data[0].responseTimeout"),
    ("unknown operation type", {"data": [_property(type="firmware")]}, 400, "InvalidRequest", "data[0].type"),
    ("template migration is not supported", {"data": [{"type": "deviceTemplateMigration", "path": "x"}]}, 400,
     "InvalidRequest", "data[0].type"),
    ("bad path", {"data": [_property(path="fan speed")]}, 400, "InvalidRequest", "data[0].path"),
    ("bad model id", {"data": [_property(target="urn:thing")]}, 400, "InvalidRequest", "data[0].target"),
    ("oversize property value", {"data": [_property(value=BIG_PROPERTY)]}, 400, "InvalidRequest", "data[0].value"),
    ("oversize command payload", {"data": [{"type": "command", "path": "echo", "value": BIG_PAYLOAD}]}, 400,
     "InvalidRequest", "data[0].value"),
    ("too many operations", {"data": [_property(path=f"p{n}") for n in range(21)]}, 400, "InvalidRequest", "data"),
    ("bad device id", {"devices": ["bad/id"]}, 400, "InvalidRequest", "devices[0]"),
    ("duplicate device", {"devices": ["vending-0001", "vending-0001"]}, 400, "InvalidRequest", "devices"),
    ("unknown group", {"group": "no-such-group"}, 400, "DeviceGroupNotFound", "group"),
    ("device outside the group", {"devices": ["vending-0001", "vending-0999"]}, 400, "DeviceNotInGroup",
     "devices[1]"),
    ("IoT Edge device in the subset", {"devices": ["edge-gateway-01"]}, 400, "EdgeDeviceNotSupported", "devices[0]"),
    ("threshold per batch without batches", {"cancellationThreshold": {"type": "number", "value": 3, "batch": True}},
     400, "InvalidRequest", "cancellationThreshold.batch"),
    ("batch of no devices", {"batch": {"type": "number", "value": 0}}, 400, "InvalidRequest", "batch"),
    ("batch of part of a device", {"batch": {"type": "number", "value": 2.5}}, 400, "InvalidRequest", "batch"),
    ("batch above 100%", {"batch": {"type": "percentage", "value": 150}}, 400, "InvalidRequest", "batch"),
    ("minimum sample of none", {"cancellationThreshold": {"type": "number", "value": 3,
                                                          "minNumberOfExecutedDevices": 0}}, 400, "InvalidRequest",
     "cancellationThreshold.minNumberOfExecutedDevices"),
    ("threshold above 100%", {"cancellationThreshold": {"type": "percentage", "value": 101}}, 400,
     "InvalidRequest", "cancellationThreshold"),
]


@pytest.mark.parametrize("name, changes, status, code, target", BAD_JOB_BODIES, ids=[case[0] for case in BAD_JOB_BODIES])
def test_a_bad_job_is_refused_naming_the_field_and_not_created(api, group_id, name, changes, status, code, target):
    body = {key: value for key, value in job_body(group_id, **changes).items() if value is not None}
    job_id = unique("job")
    response = api.put(f"jobs/{job_id}", body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code == response.headers["x-ms-error-code"]
    assert error["target"] == target and error["message"]
    assert api.get(f"jobs/{job_id}").status_code == 404


def test_a_job_on_a_corrupted_group_is_refused(api, corrupted_group_id):
    job_id = unique("job")
    response = api.put(f"jobs/{job_id}", job_body(corrupted_group_id))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "DeviceGroupCorrupted"
    assert "corrupted" in response.json()["error"]["message"]
    assert api.get(f"jobs/{job_id}").status_code == 404


def test_malformed_json_and_an_empty_body_are_refused(api):
    job_id = unique("job")
    for body in (b'{"displayName": ', b"", b"\xff\xfe"):
        response = api.request("PUT", f"jobs/{job_id}", data=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and response.json()["error"]["code"] == "InvalidJson"
    not_an_object = api.put(f"jobs/{job_id}", ["a"])
    assert not_an_object.status_code == 400
    assert api.get(f"jobs/{job_id}").status_code == 404


def test_a_body_over_the_limit_is_413(api, group_id):
    job_id = unique("job")
    body = json.dumps(job_body(group_id, description="x" * (1024 * 1024))).encode()
    response = api.request("PUT", f"jobs/{job_id}", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.headers["x-ms-error-code"] == "RequestEntityTooLarge"
    assert api.get(f"jobs/{job_id}").status_code == 404


def test_bad_ids_in_the_path_are_400_naming_the_parameter(api, group_id):
    bad = "bad.id"
    for method, path in (("PUT", f"jobs/{bad}"), ("GET", f"jobs/{bad}"), ("GET", f"deviceGroups/{bad}"),
                         ("PUT", f"deviceGroups/{bad}")):
        body = job_body(group_id) if path.startswith("jobs") else {"displayName": "x", "filter": device_filter("a")}
        response = api.request(method, path, json=body if method == "PUT" else None)
        assert response.status_code == 400, (method, path, response.text)
        assert response.json()["error"]["target"] in ("jobId", "deviceGroupId")
    assert api.get("jobs/" + "a" * 256).status_code == 400


def test_unknown_ids_are_404(api):
    for path in ("jobs/nope-1", "jobs/nope-1/report.csv", "deviceGroups/nope-1", "deviceGroups/nope-1/devices"):
        response = api.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "NotFound", path


def test_api_version_is_optional_but_must_be_ours(api):
    assert api.get("jobs").status_code == 200
    assert api.get("jobs", params={"api-version": "2022-07-31"}).status_code == 200
    wrong = api.get("jobs", params={"api-version": "1999-01-01"})
    assert wrong.status_code == 400 and wrong.json()["error"]["target"] == "api-version"


def test_bad_paging_parameters_are_400(api):
    assert api.get("jobs", params={"maxpagesize": "0"}).status_code == 400
    assert api.get("jobs", params={"$top": "many"}).status_code == 400
    assert api.get("jobs", params={"$skiptoken": "not-a-token"}).status_code == 400


def test_refused_draft_requests_change_nothing(api, group_id):
    before = _job_ids(api)
    assert api.post("jobs", job_body(group_id, run="yes")).status_code == 400
    assert api.post("jobs", job_body(group_id, data=[_property(type="firmware")])).status_code == 400
    assert api.post("jobs", job_body(group_id, run=True, devices=["edge-gateway-01"])).status_code == 400
    assert _job_ids(api) == before

    draft = api.post("jobs", job_body(group_id)).json()
    for patch in ({"data": []}, {"status": "running"}, {"devices": ["bad/id"]}, {"group": 7}):
        assert api.patch(f"jobs/{draft['id']}", patch).status_code == 400, patch
    with_subset = api.patch(f"jobs/{draft['id']}", {"devices": ["vending-0999"]})
    assert with_subset.status_code == 200
    refused_run = api.post(f"jobs/{draft['id']}/run")
    assert refused_run.status_code == 400 and refused_run.json()["error"]["code"] == "DeviceNotInGroup"
    after = api.get(f"jobs/{draft['id']}").json()
    assert after["status"] == "draft" and after["etag"] == with_subset.json()["etag"]


def test_refused_group_requests_change_nothing(api, group_id):
    before = api.get(f"deviceGroups/{group_id}").json()
    for body in ({"displayName": "x"}, {"displayName": "x", "filter": "DELETE FROM devices"},
                 {"displayName": "x", "filter": "SELECT * FROM devices WHERE $displayName = \"a\""},
                 {"displayName": "x", "filter": device_filter("a"), "organizations": ["o", "p"]}):
        response = api.put(f"deviceGroups/{group_id}", body)
        assert response.status_code == 400, body
    assert api.get(f"deviceGroups/{group_id}").json() == before


def _job_ids(api) -> set[str]:
    response = api.get("jobs", params={"maxpagesize": 1000}).json()
    assert "nextLink" not in response
    return {job["id"] for job in response["value"]}
