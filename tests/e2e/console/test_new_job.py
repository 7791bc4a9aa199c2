"""The job form: a property job on devices picked with checkboxes, run and watched to the end;
a draft saved, reopened from the jobs page and run; refusals said in words, naming the field."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.console.conftest import job, job_devices, desired_patches, screenshot, unique, wait_ended


def choose_group(page, group_name: str) -> None:
    page.get_by_label("Device group").select_option(label=group_name)


def test_a_property_job_on_devices_picked_with_checkboxes_runs_to_completion(console, api, hub, devices, make_group,
                                                                                 admin_token):
    ids = devices(4)
    group_id, group_name = make_group([*ids, "edge-gateway-01"])
    page = console.open(admin_token)
    name = unique("Fan speed 4")

    page.get_by_role("button", name="New", exact=True).click()
    expect(page.get_by_role("heading", name="New job")).to_be_visible()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description").fill("Two of the four, picked by hand")
    choose_group(page, group_name)
    # Every device of the group is chosen until the operator picks some; an IoT Edge device never is.
    for device_id in ids:
        expect(page.get_by_role("checkbox", name=device_id, exact=True)).to_be_checked()
    edge = page.get_by_role("checkbox", name="edge-gateway-01", exact=True)
    expect(edge).to_be_disabled()
    expect(edge).not_to_be_checked()
    expect(page.get_by_text("IoT Edge device: jobs cannot target it")).to_be_visible()
    page.get_by_role("checkbox", name="All devices in the group").uncheck()
    for device_id in ids:
        expect(page.get_by_role("checkbox", name=device_id, exact=True)).not_to_be_checked()
    page.get_by_role("checkbox", name=ids[0], exact=True).check()
    page.get_by_role("checkbox", name=ids[2], exact=True).check()
    expect(page.get_by_text("2 devices selected.")).to_be_visible()
    page.get_by_label("Property", exact=True).check()
    page.get_by_label("Property name").fill("fanSpeed")
    page.get_by_label("Value", exact=True).fill("4")
    screenshot(page, "new-job-form.png")

    page.get_by_role("button", name="Run", exact=True).click()

    expect(page.get_by_role("heading", name=name)).to_be_visible()
    status = page.get_by_role("status").filter(has_text="Status:")
    expect(status).to_contain_text("Completed")
    expect(page.get_by_role("progressbar", name="Progress", exact=True)).to_have_attribute("aria-valuenow", "2")
    rows = page.locator("table.job-devices tbody tr")
    expect(rows).to_have_count(2)
    for device_id in (ids[0], ids[2]):
        expect(page.locator(f'tr[data-device="{device_id}"]')).to_contain_text("Completed")
    # What the browser said is what happened: the job as the API has it, and the devices' twins.
    job_id = page.url.rsplit("/", 1)[-1]
    ended = job(api, job_id)
    assert (ended["status"], ended["displayName"], ended["group"]) == ("completed", name, group_id)
    assert ended["description"] == "Two of the four, picked by hand"
    assert sorted(ended["devices"]) == [ids[0], ids[2]]
    assert ended["data"] == [{"type": "property", "path": "fanSpeed", "value": 4}]
    assert set(job_devices(api, job_id)) == {ids[0], ids[2]}
    assert [patch.get("fanSpeed") for patch in desired_patches(hub, ids[0])] == [4]
    assert [patch.get("fanSpeed") for patch in desired_patches(hub, ids[2])] == [4]
    assert desired_patches(hub, ids[1]) == desired_patches(hub, ids[3]) == []


def test_a_saved_draft_reopens_from_the_jobs_page_and_runs(console, api, hub, devices, make_group, admin_token):
    ids = devices(2)
    _, group_name = make_group(ids)
    page = console.open(admin_token)
    name = unique("Draft temperature")

    page.get_by_role("button", name="New", exact=True).click()
    page.get_by_label("Name", exact=True).fill(name)
    choose_group(page, group_name)
    page.get_by_label("Cloud property").check()
    page.get_by_label("Property name").fill("site")
    page.get_by_label("Value", exact=True).fill('"site-07"')
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status").filter(has_text="Saved as a draft.")).to_be_visible()
    draft_id = page.url.split("/jobs/", 1)[1].split("/", 1)[0]
    saved = job(api, draft_id)
    assert saved["status"] == "draft" and saved["data"] == [{"type": "cloudProperty", "path": "site", "value": "site-07"}]
    assert "devices" not in saved or saved["devices"] is None  # the whole group

    page.get_by_role("link", name="Jobs", exact=True).click()
    page.get_by_label("Status").select_option(label="Draft")
    page.get_by_label("Search by name").fill(name)
    row = page.locator("table.jobs tbody tr").filter(has_text=name)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Draft")
    row.get_by_role("link", name=name).click()

    expect(page.get_by_role("heading", name=f"Edit {name}")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value(name)
    expect(page.get_by_label("Cloud property")).to_be_checked()
    expect(page.get_by_label("Value", exact=True)).to_have_value('"site-07"')
    expect(page.get_by_role("checkbox", name="All devices in the group")).to_be_checked()
    page.get_by_role("button", name="Run", exact=True).click()

    expect(page.get_by_role("status").filter(has_text="Status:")).to_contain_text("Completed")
    assert page.url.endswith(f"#/jobs/{draft_id}")
    assert job(api, draft_id)["status"] == "completed"
    for device_id in ids:
        twin = hub.registry_manager().get_twin(device_id)
        assert twin.tags.get("site") == "site-07"


def test_refusals_are_said_in_words_naming_the_field(console, api, devices, make_group, admin_token):
    ids = devices(1)
    _, group_name = make_group(ids)
    page = console.open(admin_token)
    before = len(api.get("jobs", params={"maxpagesize": 1000}).json()["value"])

    page.get_by_role("button", name="New", exact=True).click()
    page.get_by_label("Name", exact=True).fill("x" * 300)
    choose_group(page, group_name)
    page.get_by_label("Property name").fill("fanSpeed")
    value = page.get_by_label("Value", exact=True)
    value.fill("{fan: 3")
    expect(page.get_by_text("Not valid JSON")).to_be_visible()  # as it is typed
    expect(value).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Some fields need attention")
    expect(value).to_be_focused()

    value.fill("3")
    page.get_by_role("button", name="Run", exact=True).click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The service refused the request.")
    expect(alert).to_contain_text("Name: String should have at most 255 characters")
    name = page.get_by_label("Name", exact=True)
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_be_focused()
    assert len(api.get("jobs", params={"maxpagesize": 1000}).json()["value"]) == before  # nothing was made

    name.fill("Short enough")
    page.get_by_label("Property name").fill("")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_text("Enter the property name.")).to_be_visible()


def test_a_corrupted_group_shows_no_devices_and_says_why(console, api, group_table, admin_token):
    group_id = unique("group")
    name = unique("Old query")
    # Stored as an older version could have stored it; IoT Hub no longer accepts the query.
    group_table.create_entity({"PartitionKey": "group", "RowKey": group_id, "displayName": name,
                               "filter": "SELECT * FROM devices WHERE (("})
    page = console.open(admin_token)
    page.get_by_role("button", name="New", exact=True).click()

    choose_group(page, name)

    expect(page.get_by_role("alert")).to_contain_text("This device group is corrupted, so it has no devices")
    expect(page.get_by_role("checkbox", name="All devices in the group")).to_be_hidden()
    page.get_by_label("Property name").fill("fanSpeed")
    page.get_by_label("Value", exact=True).fill("1")
    page.get_by_role("button", name="Run", exact=True).click()
    alert = page.get_by_role("alert").filter(has_text="The service refused the request.")
    expect(alert).to_contain_text("Device group:")
    expect(alert).to_contain_text("DeviceGroupCorrupted")
    expect(page.get_by_label("Device group")).to_have_attribute("aria-invalid", "true")
