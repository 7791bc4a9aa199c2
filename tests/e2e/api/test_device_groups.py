"""Device groups over HTTP: IoT Central's resource, paging, ETags, corrupted groups."""
from __future__ import annotations

from .conftest import device_filter, unique


def test_put_get_list_and_delete_a_group(api):
    group_id = unique("group")
    body = {"displayName": "West vending", "filter": 'SELECT * FROM devices WHERE tags.region = "west"',
            "description": "every vending machine in the west"}
    created = api.put(f"deviceGroups/{group_id}?api-version=2022-07-31", body)
    assert created.status_code == 200, created.text
    assert created.json()["id"] == group_id and created.json()["corrupted"] is False
    assert created.headers["ETag"] == created.json()["etag"]

    fetched = api.get(f"deviceGroups/{group_id}").json()
    assert {key: fetched[key] for key in body} == body

    listed = api.get("deviceGroups", params={"maxpagesize": 1000}).json()["value"]
    assert group_id in [group["id"] for group in listed]

    assert api.delete(f"deviceGroups/{group_id}").status_code == 204
    assert api.get(f"deviceGroups/{group_id}").status_code == 404
    assert api.delete(f"deviceGroups/{group_id}").status_code == 404


def test_group_devices_are_paged_with_full_next_links(api, make_group):
    group_id = make_group(device_filter("vending-0001", "vending-0002", "vending-0003"))
    first = api.get(f"deviceGroups/{group_id}/devices", params={"maxpagesize": 2})
    assert first.status_code == 200, first.text
    assert [device["id"] for device in first.json()["value"]] == ["vending-0001", "vending-0002"]
    next_link = first.json()["nextLink"]
    assert next_link.startswith(api.url("")) and ("$skiptoken" in next_link or "%24skiptoken" in next_link)

    second = api.session.get(next_link).json()
    assert [device["id"] for device in second["value"]] == ["vending-0003"]
    assert "nextLink" not in second
    assert second["value"][0]["template"] == "dtmi:contoso:RefrigeratedVendingMachine;1"


def test_central_system_fields_and_double_quotes_select_devices(api, make_group):
    group_id = make_group('SELECT * FROM devices WHERE $template = "dtmi:com:example:TemperatureController;2" '
                          'AND $id = "thermostat-001"')
    devices = api.get(f"deviceGroups/{group_id}/devices").json()["value"]
    assert [device["id"] for device in devices] == ["thermostat-001"]


def test_if_match_guards_replace_and_delete(api, make_group):
    group_id = make_group()
    etag = api.get(f"deviceGroups/{group_id}").headers["ETag"]
    body = {"displayName": "Renamed", "filter": device_filter("vending-0004")}

    stale = api.put(f"deviceGroups/{group_id}", body, headers={"If-Match": 'W/"stale"'})
    assert stale.status_code == 412 and stale.headers["x-ms-error-code"] == "PreconditionFailed"
    assert api.get(f"deviceGroups/{group_id}").json()["displayName"] == "Test group"
    assert api.delete(f"deviceGroups/{group_id}", headers={"If-Match": 'W/"stale"'}).status_code == 412

    replaced = api.put(f"deviceGroups/{group_id}", body, headers={"If-Match": etag})
    assert replaced.status_code == 200 and replaced.json()["displayName"] == "Renamed"
    assert replaced.headers["ETag"] != etag


def test_patch_merges_fields(api, make_group):
    group_id = make_group()
    patched = api.patch(f"deviceGroups/{group_id}", {"description": "now described"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["description"] == "now described" and patched.json()["displayName"] == "Test group"


def test_a_filter_iot_hub_refuses_is_refused_and_nothing_is_saved(api):
    group_id = unique("group")
    refused = api.put(f"deviceGroups/{group_id}", {"displayName": "x", "filter": "SELECT * FROM devices WHERE (("})
    assert refused.status_code == 400
    assert refused.json()["error"]["target"] == "filter"
    assert api.get(f"deviceGroups/{group_id}").status_code == 404


def test_a_corrupted_group_says_so_and_has_no_devices(api, group_table):
    group_id = unique("group")
    # Stored as an older version could have stored it; the hub no longer accepts the query.
    group_table.create_entity({"PartitionKey": "group", "RowKey": group_id, "displayName": "Old",
                               "filter": "SELECT * FROM devices WHERE (("})
    group = api.get(f"deviceGroups/{group_id}")
    assert group.status_code == 200
    assert group.json()["corrupted"] is True and "IoT Hub" in group.json()["corruptionReason"]

    devices = api.get(f"deviceGroups/{group_id}/devices").json()
    assert devices["value"] == [] and devices["corrupted"] is True


def test_an_unreadable_group_is_corrupted_too(api, group_table):
    group_id = unique("group")
    group_table.create_entity({"PartitionKey": "group", "RowKey": group_id, "displayName": "No filter"})
    listed = {group["id"]: group for group in api.get("deviceGroups", params={"maxpagesize": 1000}).json()["value"]}
    assert listed[group_id]["corrupted"] is True
    assert api.get(f"deviceGroups/{group_id}/devices").json()["corrupted"] is True
