"""Rollout in the job form: batches (with a pause after each) and a cancellation threshold sent as
the API takes them, shown in the job's details, and each batch's progress in its overview; a
draft keeps them and drops them; refusals name the rollout field."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.console.conftest import axe_violations, desired_patches, job, unique, wait_job


def new_property_job(page, name: str, group_name: str, value: str = "2") -> None:
    page.get_by_role("button", name="New", exact=True).click()
    expect(page.get_by_role("heading", name="New job")).to_be_visible()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Device group").select_option(label=group_name)
    page.get_by_label("Property name").fill("fanSpeed")
    page.get_by_label("Value", exact=True).fill(value)


def property_job_form(console, devices, make_group, token: str, title: str, count: int = 2):
    """The new-job form of a property job (named after `title`) on a group of `count` devices of the
    test's own: (page, job name, device ids, group id, group name)."""
    ids = devices(count)
    group_id, group_name = make_group(ids)
    page = console.open(token)
    name = unique(title)
    new_property_job(page, name, group_name)
    return page, name, ids, group_id, group_name


def batch_row(page, index: int):
    return page.locator(f'table.batches tr[data-batch="{index}"]')


def test_a_job_in_batches_pauses_after_each_and_shows_each_batch_progress(console, api, hub, devices, make_group,
                                                                          admin_token):
    ids = devices(4)
    _, group_name = make_group(ids)
    page = console.open(admin_token)
    name = unique("In two batches")
    new_property_job(page, name, group_name)

    page.get_by_role("checkbox", name="Send in batches").check()
    page.get_by_label("Batch size", exact=True).fill("2")
    page.get_by_label("Batch size in").select_option(label="devices")
    page.get_by_role("checkbox", name="Pause after each batch").check()
    page.get_by_role("checkbox", name="Cancellation threshold").check()
    page.get_by_label("Failed devices allowed", exact=True).fill("50")
    page.get_by_label("Failed devices allowed in").select_option(label="% of the job's devices")
    page.get_by_role("checkbox", name="Apply to each batch").check()
    page.get_by_label("Devices with an outcome before any cancellation").fill("2")
    page.get_by_role("button", name="Run", exact=True).click()

    expect(page.get_by_role("heading", name=name)).to_be_visible()
    job_id = page.url.rsplit("/", 1)[-1]
    made = job(api, job_id)
    assert made["batch"] == {"type": "number", "value": 2, "pauseAfterEach": True}
    assert made["cancellationThreshold"] == {"type": "percentage", "value": 50, "batch": True,
                                             "minNumberOfExecutedDevices": 2}
    details = page.locator("dl.details")
    expect(details).to_contain_text("2 devices a batch, paused after each batch")
    expect(details).to_contain_text("Cancelled when more than 50 % failed in a batch, once 2 devices have an outcome")

    # The first batch, then the pause: the job stops and says why; the second batch waits.
    status = page.get_by_role("status").filter(has_text="Status:")
    expect(status).to_contain_text("Stopped")
    expect(status).to_contain_text("Paused after batch 1 of 2")
    expect(page.get_by_role("heading", name="Batches (2)")).to_be_visible()
    expect(batch_row(page, 1)).to_contain_text("Completed")
    expect(batch_row(page, 1).get_by_role("progressbar", name="Progress of batch 1")).to_have_attribute(
        "aria-valuenow", "2")
    expect(batch_row(page, 1)).to_contain_text(f"{ids[0]} to {ids[1]}")
    expect(batch_row(page, 2)).to_contain_text("Pending")
    expect(batch_row(page, 2)).to_contain_text("0 of 2 done")
    paused = job(api, job_id)
    assert [(b["index"], b["status"], b["completed"]) for b in paused["batches"]] == [(1, "completed", 2),
                                                                                       (2, "pending", 0)]
    assert [desired_patches(hub, d) != [] for d in ids] == [True, True, False, False]

    page.get_by_role("button", name="Run", exact=True).click()  # resume: the second batch

    expect(status).to_contain_text("Completed")
    expect(batch_row(page, 2)).to_contain_text("Completed")
    expect(batch_row(page, 2).get_by_role("progressbar", name="Progress of batch 2")).to_have_attribute(
        "aria-valuenow", "2")
    ended = wait_job(api, job_id, lambda found: found["status"] == "completed", "to complete")
    assert [b["status"] for b in ended["batches"]] == ["completed", "completed"]
    assert all([patch.get("fanSpeed") for patch in desired_patches(hub, d)] == [2] for d in ids)


def test_a_draft_keeps_its_rollout_drops_it_and_refusals_name_the_field(console, api, devices, make_group,
                                                                        admin_token):
    ids = devices(2)
    _, group_name = make_group(ids)
    page = console.open(admin_token)
    name = unique("Rollout draft")
    new_property_job(page, name, group_name)

    # Checked before anything is sent.
    page.get_by_role("checkbox", name="Send in batches").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Enter how many devices (or what percentage of them) each batch holds.")).to_be_visible()
    size = page.get_by_label("Batch size", exact=True)
    expect(size).to_be_focused()
    expect(size).to_have_attribute("aria-invalid", "true")

    # Refused by the API, in words naming the field.
    size.fill("1.5")
    page.get_by_role("button", name="Save").click()
    alert = page.get_by_role("alert").filter(has_text="The service refused the request.")
    expect(alert).to_contain_text("Batch size: value must be a whole number of devices, at least 1")
    expect(size).to_be_focused()
    expect(size).to_have_attribute("aria-invalid", "true")

    size.fill("1")
    page.get_by_role("checkbox", name="Cancellation threshold").check()
    threshold = page.get_by_label("Failed devices allowed", exact=True)
    threshold.fill("150")
    page.get_by_label("Failed devices allowed in").select_option(label="% of the job's devices")
    page.get_by_role("button", name="Save").click()
    alert = page.get_by_role("alert").filter(has_text="The service refused the request.")
    expect(alert).to_contain_text("Cancellation threshold: value must be at least 0, and at most 100 for a percentage")
    expect(threshold).to_be_focused()

    threshold.fill("1")
    page.get_by_label("Failed devices allowed in").select_option(label="devices")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved as a draft.")).to_be_visible()
    draft_id = page.url.split("/jobs/", 1)[1].split("/", 1)[0]
    saved = job(api, draft_id)
    assert saved["status"] == "draft"
    assert saved["batch"] == {"type": "number", "value": 1}
    assert saved["cancellationThreshold"] == {"type": "number", "value": 1, "batch": False}

    # Reopened, the form shows them; unchecked and saved, the draft has none.
    page.goto(f"{console.url}#/jobs")
    page.goto(f"{console.url}#/jobs/{draft_id}/edit")
    expect(page.get_by_role("heading", name=f"Edit {name}")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Send in batches")).to_be_checked()
    expect(page.get_by_label("Batch size", exact=True)).to_have_value("1")
    expect(page.get_by_role("checkbox", name="Cancellation threshold")).to_be_checked()
    expect(page.get_by_label("Failed devices allowed", exact=True)).to_have_value("1")
    page.get_by_role("checkbox", name="Send in batches").uncheck()
    page.get_by_role("checkbox", name="Cancellation threshold").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    dropped = job(api, draft_id)
    assert dropped.get("batch") is None and dropped.get("cancellationThreshold") is None


def test_no_serious_accessibility_violations_in_the_rollout_fields_and_batches(axe_console, api, devices, make_group,
                                                                               admin_token):
    ids = devices(2)
    group_id, group_name = make_group(ids)
    job_id = unique("job")
    assert api.put(f"jobs/{job_id}", {"displayName": "Batches, checked by axe", "group": group_id,
                                      "data": [{"type": "property", "path": "fanSpeed", "value": 1}],
                                      "batch": {"type": "number", "value": 1, "pauseAfterEach": True}}).ok
    page = axe_console.open(admin_token)
    new_property_job(page, unique("Axe rollout"), group_name)
    page.get_by_role("checkbox", name="Send in batches").check()
    page.get_by_role("checkbox", name="Cancellation threshold").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Enter how many devices (or what percentage of them) may fail.")).to_be_visible()
    assert axe_violations(page) == [], "job form, rollout open, fields in error"
    page.goto(f"{axe_console.url}#/jobs/{job_id}")
    expect(batch_row(page, 1)).to_contain_text("Completed")
    assert axe_violations(page) == [], "a job's overview with its batches"
