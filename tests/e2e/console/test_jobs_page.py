"""The jobs page: running jobs first, the columns operators know, filter by status, search by
name, and paging through the API's nextLink; the whole walk by keyboard; no serious
accessibility violation (axe-core) on the jobs page, the job form and a job's overview."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.console.conftest import axe_violations, job, job_devices, screenshot, unique, wait_ended, wait_job

COLUMNS = ["Name", "Status", "Device group", "Progress", "Start", "End", "Duration"]
ECHO = [{"type": "command", "path": "echo", "value": {}}]


def test_running_jobs_come_first_then_filters_search_and_pages(console, api, hub, devices, make_group, admin_token):
    slow = devices(20, prefix="slow", latency="fixed:10000")
    group_id, group_name = make_group(slow)
    running_id = unique("job")
    running_name = unique("Long echo")
    assert api.put(f"jobs/{running_id}", {"displayName": running_name, "group": group_id, "data": ECHO}).ok
    wait_job(api, running_id, lambda found: found["status"] == "running", "to run")
    page = console.open(admin_token)
    expect(page.locator("table.jobs tbody tr").first).to_contain_text("Running")
    prefix = unique("Paged draft")
    for n in range(30):  # newer than the running job: the API lists them before it
        response = api.post("jobs", {"displayName": f"{prefix} {n:02d}", "group": group_id,
                                     "data": [{"type": "property", "path": "fanSpeed", "value": n % 6}]})
        assert response.status_code == 201, response.text
    try:
        page.get_by_role("button", name="Refresh").click()
        table = page.locator("table.jobs")
        rows = table.locator("tbody tr")

        expect(table.locator("thead th")).to_have_text(COLUMNS)
        expect(rows).to_have_count(25)  # one page of the API
        expect(page.get_by_text("25 of 25 loaded jobs shown; more jobs are on the server")).to_be_visible()
        # The running job is older than the 30 drafts: the API lists it on its second page, and
        # the console can put first only what it has loaded (GET /jobs has no status filter).
        expect(rows.filter(has_text=running_name)).to_have_count(0)
        page.get_by_role("button", name="Load more jobs").click()
        running_row = rows.filter(has_text=running_name)
        expect(running_row).to_have_count(1)
        page.evaluate("window.scrollTo(0, 0)")  # Load more left the page at its foot
        screenshot(page, "jobs-page.png", full_page=False)  # the running job first, then the others loaded
        statuses = [text.strip() for text in rows.locator("td:nth-child(2)").all_inner_texts()]
        first_other = next(i for i, status in enumerate(statuses) if status != "Running")
        assert first_other > 0 and all(status != "Running" for status in statuses[first_other:]), statuses
        assert rows.nth(0).inner_text() != rows.filter(has_text=prefix).first.inner_text()  # drafts come after
        expect(running_row).to_contain_text(group_name)
        expect(running_row).to_contain_text("0 of 20 done")
        expect(running_row.get_by_role("progressbar", name=f"Progress of {running_name}")).to_have_attribute(
            "aria-valuemax", "20")

        page.get_by_label("Search by name").fill(prefix)
        expect(rows.first).to_contain_text(prefix)
        more = page.get_by_role("button", name="Load more jobs")
        while rows.count() < 30:
            more.click()
            expect(rows.first).to_be_visible()
        expect(rows).to_have_count(30)
        assert sorted(rows.locator("th").all_inner_texts()) == [f"{prefix} {n:02d}" for n in range(30)]
        page.get_by_label("Status").select_option(label="Draft")
        expect(rows).to_have_count(30)
        page.get_by_label("Status").select_option(label="Running")
        expect(rows).to_have_text(["No loaded job matches."])
        page.get_by_label("Search by name").fill(running_name)
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Running")
    finally:
        api.post(f"jobs/{running_id}/stop")


def test_a_job_made_and_run_by_keyboard_alone(console, api, hub, devices, make_group, admin_token):
    ids = devices(3)
    _, group_name = make_group(ids, display_name=unique("Keyboard group"))
    page = console.open(admin_token)
    name = unique("By keyboard")
    focused = page.locator(":focus")

    new = page.get_by_role("button", name="New", exact=True)
    for _ in range(30):  # Tab from the top of the page to the New button
        if new.evaluate("button => button === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(new).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New job")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Description")).to_be_focused()
    page.keyboard.press("Tab")
    group = page.get_by_label("Device group")
    expect(group).to_be_focused()
    page.keyboard.type("Keyboard group")  # a closed select takes typed letters as a choice
    expect(group.locator("option:checked")).to_have_text(group_name)
    expect(page.get_by_role("checkbox", name=ids[0], exact=True)).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Property", exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Property name")).to_be_focused()
    page.keyboard.type("fanSpeed")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Value", exact=True)).to_be_focused()
    page.keyboard.type("1")
    page.keyboard.press("Tab")
    expect(page.get_by_role("checkbox", name="Wait for the device to acknowledge")).to_be_focused()
    page.keyboard.press("Tab")
    add = page.get_by_role("button", name="+", exact=True)
    expect(add).to_be_focused()
    page.keyboard.press("Enter")
    second = page.locator("fieldset.operation").nth(1)
    expect(second.get_by_label("Property name")).to_be_focused()
    page.keyboard.type("targetTemperature")
    page.keyboard.press("Tab")
    page.keyboard.type("5.5")
    page.keyboard.press("Tab")
    expect(second.get_by_role("checkbox", name="Wait for the device to acknowledge")).to_be_focused()
    page.keyboard.press("Tab")
    expect(second.get_by_role("button", name="Remove operation 2")).to_be_focused()
    page.keyboard.press("Tab")
    expect(add).to_be_focused()
    page.keyboard.press("Tab")
    all_devices = page.get_by_role("checkbox", name="All devices in the group")
    expect(all_devices).to_be_focused()
    page.keyboard.press("Space")
    expect(all_devices).not_to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_role("checkbox", name="Select every device on this page")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("checkbox", name=ids[0], exact=True)).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("checkbox", name=ids[2], exact=True)).to_be_focused()
    page.keyboard.press("Space")
    expect(page.get_by_text("2 devices selected.")).to_be_visible()
    page.keyboard.press("Tab")  # the rollout, after the devices: left as it is (no batches, threshold, rate or retries)
    expect(page.get_by_role("checkbox", name="Send in batches")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("checkbox", name="Cancellation threshold")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("checkbox", name="Rollout rate")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("checkbox", name="Retries")).to_be_focused()
    page.keyboard.press("Tab")  # When: left at Run now
    expect(page.get_by_role("radio", name="Run now")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_focused()
    assert focused.count() == 1
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name=name)).to_be_visible()
    made = wait_ended(api, page.url.rsplit("/", 1)[-1])
    assert made["status"] == "completed", (made, job_devices(api, made["id"]))
    expect(page.get_by_role("status").filter(has_text="Status:")).to_contain_text("Completed")
    assert made["displayName"] == name and sorted(made["devices"]) == [ids[0], ids[2]]
    assert made["data"] == [{"type": "property", "path": "fanSpeed", "value": 1},
                            {"type": "property", "path": "targetTemperature", "value": 5.5}]


def test_no_serious_accessibility_violations(axe_console, api, hub, devices, make_group, admin_token):
    ids = devices(2)
    group_id, group_name = make_group([*ids, "edge-gateway-01"])
    ended_id = unique("job")
    assert api.put(f"jobs/{ended_id}", {"displayName": "Checked by axe", "group": group_id, "data": ECHO}).ok
    wait_ended(api, ended_id)
    page = axe_console.page
    page.goto(axe_console.url)
    expect(page.get_by_label("API token")).to_be_visible()
    assert axe_violations(page) == [], "sign-in page"
    axe_console.open(admin_token)
    expect(page.locator("table.jobs tbody tr").first).to_be_visible()
    assert axe_violations(page) == [], "jobs page"

    page.get_by_role("button", name="New", exact=True).click()
    page.get_by_label("Device group").select_option(label=group_name)
    page.get_by_role("checkbox", name="All devices in the group").uncheck()
    page.get_by_role("checkbox", name=ids[0], exact=True).check()
    page.get_by_role("button", name="+", exact=True).click()
    page.get_by_label("Value", exact=True).first.fill("{not json")
    expect(page.get_by_text("Not valid JSON")).to_be_visible()
    assert axe_violations(page) == [], "new-job form, devices selected, a value in error"

    axe_console.goto(f"#/jobs/{ended_id}")
    # The IoT Edge device failed (a job cannot target it): the overview shows an error too.
    expect(page.get_by_role("status").filter(has_text="Status:")).to_contain_text("Failed")
    expect(page.locator("table.job-devices tbody tr")).to_have_count(3)
    expect(page.locator('tr[data-device="edge-gateway-01"]')).to_contain_text("Failed")
    assert axe_violations(page) == [], "job overview"


def fits_the_width(page) -> bool:
    """Nothing but the tables' own scroll areas is wider than the screen."""
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_usable_on_a_tablet(tablet_console, api, devices, make_group, admin_token):
    ids = devices(2)
    _, group_name = make_group(ids)
    page = tablet_console.open(admin_token)
    expect(page.locator("table.jobs")).to_be_visible()
    assert fits_the_width(page)

    page.get_by_role("button", name="New", exact=True).tap()
    page.get_by_label("Device group").select_option(label=group_name)
    expect(page.get_by_role("checkbox", name=ids[0], exact=True)).to_be_visible()
    assert fits_the_width(page)
    # One column: the devices come below the form's fields, Run below the devices.
    name_box = page.get_by_label("Name", exact=True).bounding_box()
    devices_box = page.get_by_role("heading", name="Devices").bounding_box()
    run_box = page.get_by_role("button", name="Run", exact=True).bounding_box()
    assert name_box["y"] < devices_box["y"] < run_box["y"]
    page.get_by_role("checkbox", name="All devices in the group").tap()
    page.get_by_role("checkbox", name=ids[1], exact=True).tap()
    page.get_by_label("Property name").fill("fanSpeed")
    page.get_by_label("Value", exact=True).fill("2")
    page.get_by_role("button", name="Run", exact=True).tap()

    expect(page.get_by_role("status").filter(has_text="Status:")).to_contain_text("Completed")
    assert fits_the_width(page)
    assert job(api, page.url.rsplit("/", 1)[-1])["devices"] == [ids[1]]
