"""The review step before Run: the draft's dry run as the API answers it (devices targeted, sent
to, refused per reason, batches, an estimated duration), then Run with the ETag it reviewed, so
that a draft changed meanwhile is not run unseen."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.console.conftest import axe_violations, job, unique, wait_ended


def details_of(page, section: str):
    return page.get_by_role("region", name=section).locator("dl.details")


def review_new_job(page, name: str, group_name: str):
    page.get_by_role("button", name="New", exact=True).click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Device group").select_option(label=group_name)
    page.get_by_label("Property name").fill("fanSpeed")
    page.get_by_label("Value", exact=True).fill("5")
    page.get_by_role("checkbox", name="Send in batches").check()
    page.get_by_label("Batch size", exact=True).fill("2")
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_role("heading", name=f"Review {name}")).to_be_visible()


def test_a_job_is_reviewed_with_its_dry_run_then_run(console, api, devices, make_group, admin_token):
    ids = devices(3)
    _, group_name = make_group([*ids, "edge-gateway-01"])
    page = console.open(admin_token)
    name = unique("Reviewed")

    review_new_job(page, name, group_name)

    draft_id = page.url.split("/jobs/", 1)[1].split("/", 1)[0]
    assert job(api, draft_id)["status"] == "draft"  # saved to be reviewed, not run
    preview = api.post(f"jobs/{draft_id}/preview").json()
    assert (preview["targets"], preview["toSend"], preview["refused"]) == (4, 3, 1)
    summary = details_of(page, "What running it would do")
    expect(summary).to_contain_text("Devices targeted4")
    expect(summary).to_contain_text("Sent to3")
    expect(summary).to_contain_text("IoT Edge devices of the group (they fail without being sent anything): 1")
    expect(summary).to_contain_text("2 batches of 2 devices")
    expect(summary).to_contain_text("Estimated duration")
    expect(summary).to_contain_text("at least")
    expect(details_of(page, "The job")).to_contain_text(group_name)
    run = page.get_by_role("button", name="Run", exact=True)
    expect(run).to_be_enabled()
    run.click()

    expect(page.get_by_role("heading", name=name)).to_be_visible()
    ended = wait_ended(api, draft_id)
    assert ended["progress"]["completed"] == 3 and ended["progress"]["failed"] == 1  # the edge device
    expect(page.get_by_role("status").filter(has_text="Status:")).to_contain_text("Failed")


def test_a_draft_changed_after_its_review_is_not_run_unseen(console, api, devices, make_group, admin_token):
    ids = devices(2)
    _, group_name = make_group(ids)
    page = console.open(admin_token)
    name = unique("Changed meanwhile")
    review_new_job(page, name, group_name)
    expect(details_of(page, "What running it would do")).to_contain_text("Devices targeted2")
    draft_id = page.url.split("/jobs/", 1)[1].split("/", 1)[0]

    # Someone else edits the draft after this review was asked for.
    etag = job(api, draft_id)["etag"]
    changed = api.patch(f"jobs/{draft_id}", {"data": [{"type": "property", "path": "fanSpeed", "value": 0}]},
                        headers={"If-Match": etag})
    assert changed.status_code == 200, changed.text
    page.get_by_role("button", name="Run", exact=True).click()

    expect(page.get_by_role("alert")).to_contain_text("Someone changed this meanwhile")
    assert job(api, draft_id)["status"] == "draft"
    page.get_by_role("button", name="Edit").click()
    expect(page.get_by_role("heading", name=f"Edit {name}")).to_be_visible()
    expect(page.get_by_label("Value", exact=True)).to_have_value("0")


def test_a_review_says_when_run_would_be_refused_and_has_no_serious_accessibility_violation(axe_console, api, devices,
                                                                                             make_group, admin_token):
    ids = devices(2)
    group_id, _ = make_group(ids[:1])
    # A draft whose picked devices are no longer all in its group (the group changed since).
    draft = api.post("jobs", {"displayName": unique("Out of its group"), "group": group_id, "devices": ids,
                              "data": [{"type": "property", "path": "fanSpeed", "value": 1}]})
    assert draft.status_code == 201, draft.text
    draft_id = draft.json()["id"]
    page = axe_console.open(admin_token)
    page = axe_console.goto(f"#/jobs/{draft_id}/review")

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Run would be refused. Picked but not in the group: 1")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_disabled()
    assert axe_violations(page) == [], "the review of a draft"
    assert job(api, draft_id)["status"] == "draft"
