"""IoT Central's published request examples for device groups and jobs (REST API 2022-07-31, the
`examples/` of its public specification), sent verbatim through the HTTPS proxy: each answers the
example's status, and its response holds every field of the example's response with the example's
value (ours adds fields, such as `etag` and `progress`). Where an example needs a resource that
another example does not make, the test makes it first, and says so."""
from __future__ import annotations

import pytest

from .conftest import CentralClient

EXAMPLE_GROUP = "475cad48-b7ff-4a09-b51e-1a9021385453"
EXAMPLE_FILTER = 'SELECT * FROM devices WHERE $template = "dtmi:modelDefinition:dtdlv2" AND $provisioned = true'
EXAMPLE_DATA = [{"type": "property", "target": "urn:1dgygpt7t:modelDefinition:02uwtefvdy",
                 "path": "componentName.propertyName", "value": "updated value"}]
EXAMPLE_JOB = {"id": "myJobId", "displayName": "My Job", "group": EXAMPLE_GROUP, "data": EXAMPLE_DATA}

# devicegroups_create.json, devicegroups_update.json, devicegroups_get.json,
# devicegroups_getdevices.json, devicegroups_delete.json
GROUP_CREATE = {
    "request": {"displayName": "Device group 1", "description": "Custom device group.", "filter": EXAMPLE_FILTER,
                "organizations": ["seattle"]},
    "response": {"id": "group1", "displayName": "Device group 1", "description": "Custom device group.",
                 "filter": EXAMPLE_FILTER, "organizations": ["seattle"]}}
GROUP_UPDATE = {
    "request": {"displayName": "New group name"},
    "response": {"id": "group1", "displayName": "New group name", "description": "Custom device group.",
                 "filter": EXAMPLE_FILTER, "organizations": ["seattle"]}}
GROUP_GET = {
    "response": {"id": EXAMPLE_GROUP, "displayName": "DeviceGroupEntry1",
                 "description": "This is a default device group containing all the devices for this particular "
                                "Device Template.",
                 "filter": EXAMPLE_FILTER, "organizations": ["seattle"]}}
GROUP_DEVICE = {"id": "CheckoutThermostat", "displayName": "CheckoutThermostat",
                "template": "dtmi:contoso:testDeviceTemplate;1", "simulated": True, "provisioned": True,
                "enabled": True}
# jobs_create.json, jobs_get.json, jobs_devices.json, jobs_resume.json, jobs_rerun.json
JOB_CREATE = {"request": {key: value for key, value in EXAMPLE_JOB.items() if key != "id"},
              "response": {**EXAMPLE_JOB, "status": "running"}}
JOB_RERUN = {"response": {**EXAMPLE_JOB, "id": "myJobRerunId", "status": "running"}}


def assert_holds(answer: dict, example: dict, *, but: tuple[str, ...] = ()) -> None:
    """Every field of the example's response, with its value (except those in `but`)."""
    for name, value in example.items():
        assert name in answer, f"{name} missing from {answer}"
        if name not in but:
            assert answer[name] == value, f"{name}: {answer[name]!r}, the example says {value!r}"


def test_the_device_group_examples(central: CentralClient):
    created = central.put("deviceGroups/group1", GROUP_CREATE["request"])
    assert created.status_code == 200, created.text
    assert_holds(created.json(), GROUP_CREATE["response"])

    updated = central.patch("deviceGroups/group1", GROUP_UPDATE["request"])
    assert updated.status_code == 200, updated.text
    assert_holds(updated.json(), GROUP_UPDATE["response"])

    # Made first: the group devicegroups_get.json reads, as its response describes it.
    made = central.put(f"deviceGroups/{EXAMPLE_GROUP}", {k: v for k, v in GROUP_GET["response"].items() if k != "id"})
    assert made.status_code == 200, made.text
    got = central.get(f"deviceGroups/{EXAMPLE_GROUP}")
    assert got.status_code == 200, got.text
    assert_holds(got.json(), GROUP_GET["response"])
    devices = central.get(f"deviceGroups/{EXAMPLE_GROUP}/devices")  # no device of that template here
    assert devices.status_code == 200 and devices.json()["value"] == [], devices.text

    # Made first: "myGroupId", over devices this hub has (the example's device is IoT Central's own).
    assert central.put("deviceGroups/myGroupId", {"displayName": "Vending machines",
                                                  "filter": "SELECT * FROM devices WHERE tags.type = 'vending'"}
                       ).status_code == 200
    page = central.get("deviceGroups/myGroupId/devices", params={"$top": 1})
    assert page.status_code == 200, page.text
    [device] = page.json()["value"]
    assert {name: type(value) for name, value in device.items() if name in GROUP_DEVICE} == \
        {name: type(value) for name, value in GROUP_DEVICE.items()}
    assert device["id"].startswith("vending-") and device["template"] == "dtmi:contoso:RefrigeratedVendingMachine;1"
    assert (device["provisioned"], device["simulated"], device["enabled"]) == (True, False, True)
    assert page.json()["nextLink"].startswith(central.url("deviceGroups/myGroupId/devices?"))

    deleted = central.delete(f"deviceGroups/{EXAMPLE_GROUP}")
    assert deleted.status_code == 204 and not deleted.content
    assert central.get(f"deviceGroups/{EXAMPLE_GROUP}").status_code == 404


@pytest.fixture
def example_group(central: CentralClient) -> str:
    """Made first: the group the job examples name, holding three vending machines of this hub."""
    response = central.put(f"deviceGroups/{EXAMPLE_GROUP}", {
        "displayName": "Example job's group",
        "filter": 'SELECT * FROM devices WHERE $id IN ["vending-0001", "vending-0002", "vending-0003"]'})
    assert response.status_code == 200, response.text
    return EXAMPLE_GROUP


def test_the_job_examples(central: CentralClient, example_group):
    created = central.put("jobs/myJobId", JOB_CREATE["request"])
    assert created.status_code == 200, created.text
    # Just made, the job is pending (IoT Central's docs) or running (the example), or, as here,
    # already done: the three devices are of another model than the example's URN.
    assert_holds(created.json(), JOB_CREATE["response"], but=("status",))
    assert created.json()["status"] in ("pending", "running", "completed", "failed")

    got = central.get("jobs/myJobId")
    assert got.status_code == 200, got.text
    assert_holds(got.json(), JOB_CREATE["response"], but=("status",))

    job = central.wait_ended("myJobId")
    devices = central.get("jobs/myJobId/devices")
    assert devices.status_code == 200, devices.text
    assert sorted(device["id"] for device in devices.json()["value"]) == ["vending-0001", "vending-0002",
                                                                          "vending-0003"]
    assert {device["status"] for device in devices.json()["value"]} == {"failed"}  # ModelMismatch
    assert job["progress"]["failed"] == 3

    rerun = central.put("jobs/myJobId/rerun/myJobRerunId")
    assert rerun.status_code == 200, rerun.text
    assert_holds(rerun.json(), JOB_RERUN["response"], but=("status",))
    central.wait_ended("myJobRerunId")


def test_the_stop_and_resume_examples(stack, central: CentralClient, example_group):
    # Made first: a job still pending (the hub answers its queries slowly), to stop; stop has no
    # example of its own, and answers 204 as resume does.
    stack.hub.control.inject_fault("query", count=3, latency_ms=2_000)
    created = central.put("jobs/myStoppedJobId", {**JOB_CREATE["request"], "displayName": "My stopped job"})
    assert created.status_code == 200, created.text
    stopped = central.post("jobs/myStoppedJobId/stop")
    assert stopped.status_code == 204 and not stopped.content, stopped.text
    assert central.job("myStoppedJobId")["status"] == "stopped"
    resumed = central.post("jobs/myStoppedJobId/resume")
    assert resumed.status_code == 204 and not resumed.content, resumed.text
    assert central.wait_ended("myStoppedJobId")["progress"]["total"] == 3
