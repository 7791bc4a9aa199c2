"""The device groups page: a group made with its query and its devices previewed, the query
edited and the preview following it, refusals said in words naming the field, a corrupted group's
message (and its query fixed), read only for roles that may not change groups, and no serious
accessibility violation (axe-core)."""
from __future__ import annotations

from playwright.sync_api import expect

from shared.domain.access import BUILDER, OPERATOR
from tests.e2e.console.conftest import axe_violations, device_filter, make_token, unique


def open_groups(console, token: str):
    page = console.open(token)
    page.get_by_role("link", name="Device groups", exact=True).click()
    expect(page.get_by_role("heading", name="Device groups", exact=True)).to_be_visible()
    return page


def preview_ids(page) -> list[str]:
    return sorted(page.locator("table.group-devices tbody tr td:nth-child(2)").all_inner_texts())


def find_in_list(page, name: str):
    """The list's row of the group `name`, loading more pages until it is there."""
    page.get_by_label("Search by name").fill(name)
    row = page.locator("table.groups tbody tr").filter(has_text=name)
    more = page.get_by_role("button", name="Load more device groups")
    while row.count() == 0 and more.is_visible():
        more.click()
        expect(more).to_be_enabled()
    expect(row).to_have_count(1)
    return row


def test_a_group_is_made_with_its_query_its_devices_previewed_and_its_query_edited(console, api, devices, admin_token):
    ids = devices(3)
    page = open_groups(console, admin_token)
    name = unique("West fridges")

    page.get_by_role("button", name="New device group").click()
    expect(page.get_by_role("heading", name="New device group")).to_be_focused()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description").fill("The first two, for now")
    page.get_by_label("Query").fill(device_filter(ids[:2]))
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    expect(page.locator("table.group-devices tbody tr")).to_have_count(2)
    assert preview_ids(page) == ids[:2]
    expect(page.get_by_text("2 devices on this page (all of them).")).to_be_visible()
    group_id = page.url.split("#/groups/", 1)[1]
    saved = api.get(f"deviceGroups/{group_id}").json()
    assert (saved["displayName"], saved["filter"], saved["description"]) == (name, device_filter(ids[:2]),
                                                                              "The first two, for now")
    assert group_id.startswith("west-fridges-")  # made from the name

    page.get_by_label("Query").fill(device_filter(ids))
    page.get_by_label("Description").fill("")
    page.get_by_role("button", name="Save").click()

    expect(page.locator("table.group-devices tbody tr")).to_have_count(3)
    assert preview_ids(page) == ids
    edited = api.get(f"deviceGroups/{group_id}").json()
    assert edited["filter"] == device_filter(ids) and edited.get("description") is None
    assert [d["id"] for d in api.get(f"deviceGroups/{group_id}/devices").json()["value"]] == ids

    page.get_by_role("link", name="Back to device groups").click()
    row = find_in_list(page, name)
    expect(row).to_contain_text(device_filter(ids))
    row.get_by_role("link", name=name).click()
    expect(page.get_by_label("Query")).to_have_value(device_filter(ids))


def test_refusals_are_said_in_words_naming_the_field(console, api, devices, make_group, admin_token):
    ids = devices(1)
    taken_id, _ = make_group(ids)
    page = open_groups(console, admin_token)
    page.get_by_role("button", name="New device group").click()
    name = unique("Refused")

    # IoT Hub refuses the query: nothing is saved, and the Query field says why.
    page.get_by_label("Name", exact=True).fill(name)
    group_id = page.get_by_label("Group ID")
    wanted = unique("refused")
    group_id.fill(wanted)
    query = page.get_by_label("Query")
    query.fill("SELECT * FROM devices WHERE ((")
    page.get_by_role("button", name="Save").click()
    alert = page.get_by_role("alert").filter(has_text="The service refused the request.")
    expect(alert).to_contain_text("Query:")
    expect(alert).to_contain_text("InvalidFilter")
    expect(query).to_have_attribute("aria-invalid", "true")
    expect(query).to_be_focused()
    assert api.get(f"deviceGroups/{wanted}").status_code == 404

    # An id in use is not replaced.
    query.fill(device_filter(ids))
    group_id.fill(taken_id)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Group ID: a device group with this id exists already")
    expect(group_id).to_have_attribute("aria-invalid", "true")
    expect(group_id).to_be_focused()
    assert api.get(f"deviceGroups/{taken_id}").json()["displayName"] != name

    # Checked before anything is sent.
    group_id.fill("no spaces allowed")
    page.get_by_label("Name", exact=True).fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Some fields need attention")
    expect(page.get_by_text("Enter a name.")).to_be_visible()
    expect(page.get_by_text("Use only letters, digits, - and _")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_be_focused()

    page.get_by_label("Name", exact=True).fill("x" * 300)
    group_id.fill(wanted)
    page.get_by_role("button", name="Save").click()
    alert = page.get_by_role("alert").filter(has_text="The service refused the request.")
    expect(alert).to_contain_text("Name: String should have at most 255 characters")
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    assert api.get(f"deviceGroups/{wanted}").status_code == 404


def test_a_corrupted_group_says_so_shows_no_devices_and_is_fixed_by_its_query(console, api, devices, group_table,
                                                                               admin_token):
    ids = devices(2)
    group_id = unique("group")
    name = unique("Old query")
    # Stored as an older version could have stored it; IoT Hub no longer accepts the query.
    group_table.create_entity({"PartitionKey": "group", "RowKey": group_id, "displayName": name,
                               "filter": "SELECT * FROM devices WHERE (("})
    page = open_groups(console, admin_token)
    # The list asks IoT Hub nothing (GET /deviceGroups); the group's own page does.
    find_in_list(page, name).get_by_role("link", name=name).click()

    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("This device group is corrupted, so it has no devices")
    expect(page.get_by_text("No devices: the group is corrupted.")).to_be_visible()
    expect(page.locator("table.group-devices")).to_be_hidden()

    page.get_by_label("Query").fill(device_filter(ids))
    page.get_by_role("button", name="Save").click()

    expect(page.locator("table.group-devices tbody tr")).to_have_count(2)
    assert preview_ids(page) == ids
    expect(page.get_by_role("alert").filter(has_text="corrupted")).to_have_count(0)
    assert api.get(f"deviceGroups/{group_id}").json()["corrupted"] is False


def test_only_roles_that_may_change_groups_see_new_and_save(console, second_console, api, devices, make_group):
    ids = devices(1)
    group_id, name = make_group(ids)
    page = open_groups(console, make_token(api, OPERATOR))
    expect(page.get_by_role("button", name="New device group")).to_have_count(0)
    page.goto(f"{console.url}#/groups/{group_id}")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.locator("table.group-devices tbody tr")).to_have_count(1)
    expect(page.get_by_text(device_filter(ids))).to_be_visible()
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.get_by_label("Query")).to_have_count(0)

    builder = open_groups(second_console, make_token(api, BUILDER))
    expect(builder.get_by_role("button", name="New device group")).to_be_visible()
    expect(builder.get_by_role("button", name="New", exact=True)).to_have_count(0)  # jobs are not a Builder's
    builder.goto(f"{second_console.url}#/groups/{group_id}")
    expect(builder.get_by_label("Query")).to_have_value(device_filter(ids))


def test_no_serious_accessibility_violations_on_the_groups_pages(axe_console, api, devices, make_group, admin_token):
    ids = devices(2)
    group_id, _ = make_group(ids)
    page = open_groups(axe_console, admin_token)
    expect(page.locator("table.groups tbody tr").first).to_be_visible()
    assert axe_violations(page) == [], "device groups page"
    page.get_by_role("button", name="New device group").click()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Enter a name.")).to_be_visible()
    assert axe_violations(page) == [], "new device group form, a field in error"
    page.goto(f"{axe_console.url}#/groups/{group_id}")
    expect(page.locator("table.group-devices tbody tr")).to_have_count(2)
    assert axe_violations(page) == [], "a group and its devices"
