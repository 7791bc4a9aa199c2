"""The rollout rate, retries by failure class and acknowledged properties in the job form: sent as
the API takes them, described in words in the overview and the review, kept and dropped by a
draft, refusals naming the field as the form labels it; a job with retries shows each device's
attempts."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.console.conftest import axe_violations, job, unique, wait_ended
from tests.e2e.console.test_rollout import new_property_job, property_job_form


def new_command_job(page, name: str, group_name: str) -> None:
    page.get_by_role("button", name="New", exact=True).click()
    expect(page.get_by_role("heading", name="New job")).to_be_visible()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Device group").select_option(label=group_name)
    page.get_by_role("radio", name="Command").check()
    page.get_by_label("Command name").fill("echo")
    page.get_by_label("Payload").fill('"hello"')


def refusal(page):
    return page.get_by_role("alert").filter(has_text="The service refused the request.")


def refused(page, button: str, control, words: str) -> None:
    """Pressing `button` is refused by the API in words naming the field; that field is marked and focused."""
    page.get_by_role("button", name=button, exact=True).click()
    expect(refusal(page)).to_contain_text(words)
    expect(control).to_be_focused()
    expect(control).to_have_attribute("aria-invalid", "true")


def device_row(page, device_id: str):
    return page.locator(f'table.job-devices tr[data-device="{device_id}"]')


def test_a_command_job_at_a_ramped_rate_with_retries_shows_each_device_attempts(console, api, devices, make_group,
                                                                                 admin_token):
    [steady] = devices(1)
    [rejecting] = devices(1, failure_probability=1.0)
    _, group_name = make_group([steady, rejecting])
    page = console.open(admin_token)
    name = unique("Echo, ramped and retried")
    new_command_job(page, name, group_name)
    expect(page.get_by_role("checkbox", name="Wait for the device to acknowledge")).to_be_hidden()

    page.get_by_role("checkbox", name="Rollout rate").check()
    page.get_by_label("Devices per minute", exact=True).fill("600")
    page.get_by_role("checkbox", name="Ramp up exponentially").check()
    page.get_by_label("Start rate (devices per minute)").fill("60")
    page.get_by_label("Factor").fill("2")
    page.get_by_label("Grow every").fill("1")
    page.get_by_label("Counting").select_option(label="devices completed")
    page.get_by_role("checkbox", name="Retries").check()
    page.get_by_role("checkbox", name="Timeout", exact=True).check()
    page.get_by_label("Number of retries after Timeout").fill("1")
    page.get_by_role("checkbox", name="DeviceRejected").check()
    page.get_by_label("Number of retries after DeviceRejected").fill("2")
    page.get_by_label("First wait (seconds)").fill("1")
    page.get_by_label("Longest wait (seconds)").fill("1")

    # A Timeout retry in a job with commands: refused, naming the row as the form labels it.
    timeout_box = page.get_by_role("checkbox", name="Timeout", exact=True)
    refused(page, "Run", timeout_box, "Retries after Timeout: Timeout is never retried in a job with commands")
    timeout_box.uncheck()
    page.get_by_role("button", name="Run", exact=True).click()

    expect(page.get_by_role("heading", name=name)).to_be_visible()
    job_id = page.url.rsplit("/", 1)[-1]
    made = job(api, job_id)
    assert made["rolloutRate"] == {"maximumPerMinute": 600, "exponentialRate": {
        "baseRatePerMinute": 60, "incrementFactor": 2, "rateIncreaseCriteria": {"numberOfSucceededDevices": 1}}}
    assert made["retry"] == {"criteria": [{"failureType": "DeviceRejected", "numberOfRetries": 2}],
                             "backoff": {"initialSeconds": 1, "maximumSeconds": 1}}
    details = page.locator("dl.details")
    expect(details).to_contain_text(
        "From 60 devices a minute, multiplied by 2 after every 1 device completed, up to 600 devices a minute")
    expect(details).to_contain_text("after DeviceRejected: 2 retries; waiting 1 s at first, doubling, at most 1 s")

    ended = wait_ended(api, job_id)
    assert ended["progress"]["completed"] == 1 and ended["progress"]["failed"] == 1, ended
    expect(page.get_by_role("status").filter(has_text="Status:")).to_contain_text("Failed")
    expect(page.get_by_role("columnheader", name="Attempts")).to_be_visible()
    expect(device_row(page, rejecting).locator("td").nth(3)).to_have_text("3")  # the first attempt and two retries
    expect(device_row(page, rejecting)).to_contain_text("DeviceRejected")
    expect(device_row(page, steady).locator("td").nth(3)).to_have_text("1")


def test_a_draft_keeps_rate_retries_and_acknowledgement_drops_them_and_refusals_name_the_field(
        console, api, devices, make_group, admin_token):
    page, name, _, _, _ = property_job_form(console, devices, make_group, admin_token, "Acknowledged draft")
    give_up = page.get_by_label("Give up after (minutes)")
    expect(give_up).to_be_hidden()
    page.get_by_role("checkbox", name="Wait for the device to acknowledge").check()
    give_up.fill("20000")
    refused(page, "Save", give_up, "Give up after (minutes):")
    give_up.fill("30")

    page.get_by_role("checkbox", name="Rollout rate").check()
    per_minute = page.get_by_label("Devices per minute", exact=True)
    per_minute.fill("70000")
    refused(page, "Save", per_minute, "Devices per minute:")
    per_minute.fill("600")

    page.get_by_role("checkbox", name="Retries").check()
    page.get_by_role("button", name="Save").click()  # checked here first: no failure chosen
    expect(page.get_by_text("Check at least one failure to retry after.")).to_be_visible()
    page.get_by_role("checkbox", name="DeviceNotOnline").check()
    retries = page.get_by_label("Number of retries after DeviceNotOnline")
    retries.fill("11")
    page.get_by_role("checkbox", name="Any failure").check()
    page.get_by_label("Number of retries after Any failure").fill("1")
    refused(page, "Save", retries, "Retries after DeviceNotOnline:")
    retries.fill("3")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status").filter(has_text="Saved as a draft.")).to_be_visible()
    draft_id = page.url.split("/jobs/", 1)[1].split("/", 1)[0]
    saved = job(api, draft_id)
    assert saved["data"][0]["completion"] == "acknowledged"
    assert saved["timeout"] == {"inProgressMinutes": 30}
    assert saved["rolloutRate"] == {"maximumPerMinute": 600}
    assert saved["retry"] == {"criteria": [{"failureType": "DeviceNotOnline", "numberOfRetries": 3},
                                           {"failureType": "all", "numberOfRetries": 1}]}

    # The review says them in words.
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_role("heading", name=f"Review {name}")).to_be_visible()
    definition = page.locator("section", has=page.get_by_role("heading", name="The job")).locator("dl.details")
    expect(definition).to_contain_text("fanSpeed = 2, once the device acknowledges it")
    expect(definition).to_contain_text("At most 600 devices a minute")
    expect(definition).to_contain_text("after DeviceNotOnline: 3 retries; after Any failure: 1 retry")
    expect(definition).to_contain_text("30 minutes without an acknowledgement (the device fails with Timeout)")

    # Reopened, the form shows them; unchecked and saved, the draft has none.
    page.get_by_role("button", name="Edit").click()
    expect(page.get_by_role("heading", name=f"Edit {name}")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Wait for the device to acknowledge")).to_be_checked()
    expect(give_up).to_have_value("30")
    expect(page.get_by_role("checkbox", name="Rollout rate")).to_be_checked()
    expect(per_minute).to_have_value("600")
    expect(page.get_by_role("checkbox", name="Ramp up exponentially")).not_to_be_checked()
    expect(page.get_by_role("checkbox", name="Any failure")).to_be_checked()
    expect(page.get_by_label("Number of retries after DeviceNotOnline")).to_have_value("3")
    expect(page.get_by_role("checkbox", name="Throttled")).not_to_be_checked()
    page.get_by_role("checkbox", name="Wait for the device to acknowledge").uncheck()
    expect(give_up).to_be_hidden()
    page.get_by_role("checkbox", name="Rollout rate").uncheck()
    page.get_by_role("checkbox", name="Retries").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    dropped = job(api, draft_id)
    assert dropped["data"][0].get("completion") in (None, "written")
    assert dropped.get("timeout") is None and dropped.get("rolloutRate") is None and dropped.get("retry") is None


def test_the_rate_and_retry_fields_work_from_the_keyboard_with_no_serious_accessibility_violation(
        axe_console, api, devices, make_group, admin_token):
    ids = devices(1)
    group_id, group_name = make_group(ids)
    job_id = unique("job")
    assert api.put(f"jobs/{job_id}", {"displayName": "Retries, checked by axe", "group": group_id,
                                      "data": [{"type": "command", "path": "echo", "value": "hi"}],
                                      "retry": {"criteria": [{"failureType": "all", "numberOfRetries": 1}]}}).ok
    page = axe_console.open(admin_token)
    new_property_job(page, unique("Axe rate"), group_name)
    ack = page.get_by_role("checkbox", name="Wait for the device to acknowledge")
    ack.focus()
    page.keyboard.press("Space")
    expect(page.get_by_label("Give up after (minutes)")).to_be_visible()
    rate = page.get_by_role("checkbox", name="Rollout rate")
    rate.focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Devices per minute", exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # Ramp up exponentially
    expect(page.get_by_label("Start rate (devices per minute)")).to_be_visible()
    retry = page.get_by_role("checkbox", name="Retries")
    retry.focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(page.get_by_role("checkbox", name="DeviceNotOnline")).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Number of retries after DeviceNotOnline")).to_be_focused()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Enter a number of retries, 0 to 10.")).to_be_visible()
    expect(page.get_by_text("Enter the rate to start at.")).to_be_visible()
    assert axe_violations(page) == [], "job form, rate and retries open, fields in error"
    page.goto(f"{axe_console.url}#/jobs/{job_id}")
    expect(page.get_by_role("columnheader", name="Attempts")).to_be_visible()
    expect(page.locator("table.job-devices tbody td").nth(3)).to_have_text("1")
    assert axe_violations(page) == [], "a job's overview with its devices' attempts"
