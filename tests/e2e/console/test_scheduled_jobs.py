"""Scheduled jobs: the job form's When, Schedule makes one (PUT /scheduledJobs/{id}) with its
start in the zone chosen, its recurrence and end; the Scheduled jobs page, reached from the
header, lists its next runs and disables, enables and deletes it; refusals name the field."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from shared.domain.access import VIEWER
from tests.e2e.console.conftest import axe_violations, make_token, unique
from tests.e2e.console.test_rollout import new_property_job, property_job_form


def scheduled_named(api, name: str) -> dict:
    response = api.get("scheduledJobs?maxpagesize=1000")
    assert response.status_code == 200, response.text
    [found] = [job for job in response.json()["value"] if job["displayName"] == name]
    return found


@pytest.fixture
def weekly(api, devices, make_group):
    """(scheduled job id, group name): a weekly scheduled job of the test's own, deleted after it."""
    group_id, group_name = make_group(devices(1))
    scheduled_id = unique("scheduled")
    assert api.put(f"scheduledJobs/{scheduled_id}", {
        "displayName": "Weekly fan speed", "group": group_id,
        "data": [{"type": "property", "path": "fanSpeed", "value": 1}],
        "schedule": {"start": "2030-03-04T10:00:00Z", "recurrence": "weekly", "end": {"type": "date", "date": "2030-12-31"}},
    }).ok
    yield scheduled_id, group_name
    api.delete(f"scheduledJobs/{scheduled_id}")


def choose_schedule(page, start: str, zone: str) -> None:
    page.get_by_role("radio", name="Schedule").check()
    page.get_by_label("Start", exact=True).fill(start)
    page.get_by_label("Time zone").fill(zone)


def test_a_job_scheduled_daily_in_a_zone_is_listed_with_its_next_runs_disabled_enabled_and_deleted(
        console, api, devices, make_group, admin_token):
    page, name, _, group_id, group_name = property_job_form(console, devices, make_group, admin_token,
                                                            "Fan speed every morning")
    expect(page.get_by_role("radio", name="Run now")).to_be_checked()
    choose_schedule(page, "2030-01-15T08:30", "Europe/Paris")
    expect(page.get_by_role("button", name="Save")).to_be_hidden()
    page.get_by_label("Repeat").select_option(label="Daily")
    page.get_by_label("Ends").select_option(label="After a number of runs")
    page.get_by_label("Number of runs").fill("3")
    page.get_by_role("button", name="Schedule", exact=True).click()

    expect(page.get_by_role("heading", name="Scheduled jobs")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text=f"Scheduled: {name}.")).to_be_visible()
    made = scheduled_named(api, name)
    start = datetime.fromisoformat(made["schedule"].pop("start").replace("Z", "+00:00"))
    assert start == datetime(2030, 1, 15, 7, 30, tzinfo=timezone.utc)  # 08:30 in Paris, in winter
    assert made["schedule"] == {"recurrence": "daily", "end": {"type": "occurrences", "occurrences": 3},
                                "timeZone": "Europe/Paris"}
    assert (made["group"], made["enabled"], len(made["nextRuns"])) == (group_id, True, 3)
    assert made["data"] == [{"type": "property", "path": "fanSpeed", "value": 2}]

    row = page.locator(f'tr[data-scheduled="{made["id"]}"]')
    expect(row).to_contain_text(group_name)
    expect(row).to_contain_text("Daily, from")
    expect(row).to_contain_text("Europe/Paris, 3 runs")
    expect(row.locator("td").nth(2).get_by_role("listitem")).to_have_count(3)
    row.get_by_role("button", name="Disable").click()
    expect(row).to_contain_text("None while disabled")
    assert scheduled_named(api, name)["enabled"] is False
    row.get_by_role("button", name="Enable").click()
    expect(row.locator("td").nth(2).get_by_role("listitem")).to_have_count(3)
    assert scheduled_named(api, name)["enabled"] is True

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status").filter(has_text=f"Deleted {name}.")).to_be_visible()
    expect(row).to_have_count(0)
    assert api.get(f"scheduledJobs/{made['id']}").status_code == 404


def test_a_schedule_is_checked_and_its_refusals_name_the_field(console, api, devices, make_group, admin_token):
    page, name, ids, _, _ = property_job_form(console, devices, make_group, admin_token, "Scheduled in the past")
    page.get_by_role("checkbox", name="All devices in the group").uncheck()
    page.get_by_role("checkbox", name=ids[0], exact=True).check()
    choose_schedule(page, "2020-01-01T00:00", "Mars/Olympus")
    schedule = page.get_by_role("button", name="Schedule", exact=True)
    schedule.click()
    expect(page.get_by_text("Enter an IANA time zone, such as Europe/Berlin or UTC.")).to_be_visible()
    expect(page.get_by_text("A scheduled job runs on every device of its group")).to_be_visible()
    expect(page.get_by_label("Time zone")).to_be_focused()

    page.get_by_label("Time zone").fill("UTC")
    page.get_by_role("checkbox", name="All devices in the group").check()
    schedule.click()
    alert = page.get_by_role("alert").filter(has_text="The service refused the request.")
    expect(alert).to_contain_text("Start: must not be in the past for a job that runs once")
    start = page.get_by_label("Start", exact=True)
    expect(start).to_be_focused()
    expect(start).to_have_attribute("aria-invalid", "true")
    assert not [job for job in api.get("scheduledJobs?maxpagesize=1000").json()["value"] if job["displayName"] == name]


def test_the_schedule_and_the_scheduled_jobs_page_by_keyboard_with_no_serious_accessibility_violation(
        axe_console, weekly, admin_token):
    scheduled_id, group_name = weekly
    page = axe_console.open(admin_token)
    new_property_job(page, unique("Axe schedule"), group_name)
    page.get_by_role("radio", name="Run now").focus()
    page.keyboard.press("ArrowRight")  # radio buttons of one name: the arrows choose
    expect(page.get_by_role("radio", name="Schedule")).to_be_checked()
    page.get_by_label("Repeat").select_option(label="Monthly")
    page.get_by_label("Ends").select_option(label="On a date")
    page.get_by_role("checkbox", name="Send in batches").check()
    page.get_by_role("button", name="Schedule", exact=True).press("Enter")
    expect(page.get_by_text("Enter how many devices (or what percentage of them) each batch holds.")).to_be_visible()
    expect(page.get_by_label("Batch size", exact=True)).to_be_focused()  # the first field in error
    expect(page.get_by_text("Enter when the first run starts.")).to_be_visible()
    expect(page.get_by_text("Enter the last date with runs.")).to_be_visible()
    assert axe_violations(page) == [], "job form, schedule open, fields in error"

    page.get_by_role("link", name="Scheduled jobs").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Scheduled jobs")).to_be_focused()
    row = page.locator(f'tr[data-scheduled="{scheduled_id}"]')
    expect(row).to_contain_text("Weekly, from")
    expect(row).to_contain_text("UTC, until 2030-12-31")
    assert axe_violations(page) == [], "the scheduled jobs page"


def test_a_viewer_reads_the_scheduled_jobs_but_cannot_disable_or_delete_them(console, api, weekly):
    scheduled_id, group_name = weekly
    page = console.open(make_token(api, VIEWER))
    page.get_by_role("link", name="Scheduled jobs").click()
    row = page.locator(f'tr[data-scheduled="{scheduled_id}"]')
    expect(row).to_contain_text(group_name)
    expect(row.get_by_role("listitem").first).to_be_visible()
    expect(row.get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("columnheader", name="Actions")).to_have_count(0)
