"""A job's overview: live progress, its devices, and what may be done to it (stop and run again,
copy, rerun on failed, download the job details), by an operator and, read only, by a Viewer."""
from __future__ import annotations

from playwright.sync_api import expect

from local.harness import add_devices
from shared.domain.access import VIEWER
from tests.e2e.console.conftest import (echoes, job, job_devices, make_token, read_csv, screenshot, unique,
                                        wait_ended, wait_job)

ECHO = [{"type": "command", "path": "echo", "value": {"note": "console"}}]


def run_job(api, group_id: str, data=ECHO, name: str | None = None) -> str:
    job_id = unique("job")
    response = api.put(f"jobs/{job_id}", {"displayName": name or job_id, "group": group_id, "data": data})
    assert response.status_code == 200, response.text
    return job_id


def status_of(page):
    return page.get_by_role("status").filter(has_text="Status:")


def open_job(console, token: str, job_id: str):
    console.open(token)
    page = console.goto(f"#/jobs/{job_id}")
    expect(page.get_by_role("heading", name="Progress")).to_be_visible()
    return page


def slow_devices(hub, devices, count: int) -> list[str]:
    """Devices that take 4 s to answer a command: a job on them runs long enough to watch and stop."""
    return devices(count, prefix="slow", latency="fixed:4000")


def test_a_running_job_stops_and_runs_again_to_the_end(console, api, hub, devices, make_group, admin_token):
    ids = slow_devices(hub, devices, 96)
    group_id, _ = make_group(ids)
    # In three rollout batches of 32 (each sent once the one before has every outcome): the
    # progress moves batch by batch, and a stop in the second leaves the third unsent.
    job_id = unique("job")
    response = api.put(f"jobs/{job_id}", {"displayName": unique("Echo, slowly"), "group": group_id, "data": ECHO,
                                          "batch": {"type": "number", "value": 32}})
    assert response.status_code == 200, response.text
    page = open_job(console, admin_token, job_id)

    expect(status_of(page)).to_contain_text("Running")
    # Live: the first batch's outcomes appear without a reload.
    expect(page.get_by_role("progressbar", name="Progress", exact=True)).to_have_attribute("aria-valuenow", "32")
    expect(page.get_by_text("Completed: 32", exact=True)).to_be_visible()
    expect(page.locator('table.batches tr[data-batch="1"]')).to_contain_text("Completed")
    expect(page.locator('table.batches tr[data-batch="3"]')).to_contain_text("0 of 32 done")
    expect(status_of(page)).to_contain_text("Running")
    screenshot(page, "running-job-overview.png", full_page=False)
    page.get_by_role("button", name="Stop").click()

    expect(status_of(page)).to_contain_text("Stopped")
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    stopped = wait_job(api, job_id, lambda found: found["progress"]["running"] == 0, "to have no device running")
    assert stopped["status"] == "stopped" and stopped["progress"]["pending"] == 32, stopped["progress"]
    expect(page.get_by_text(f"Pending: {stopped['progress']['pending']}", exact=True)).to_be_visible()

    page.get_by_role("button", name="Run", exact=True).click()

    expect(status_of(page)).to_contain_text("Completed")
    expect(page.get_by_text("Completed: 96", exact=True)).to_be_visible()
    ended = job(api, job_id)
    assert ended["status"] == "completed" and ended["progress"]["completed"] == 96
    assert ended["lastStoppedBy"]["id"] == ended["lastResumedBy"]["id"] == "e2e-admin"
    assert [echoes(hub, device_id) for device_id in ids] == [1] * 96  # each device ran it once


def test_copy_opens_the_new_draft_for_editing_and_it_runs(console, api, hub, devices, make_group, admin_token):
    ids = devices(2)
    group_id, group_name = make_group(ids)
    name = unique("Reboot later")
    source_id = run_job(api, group_id, name=name)
    wait_ended(api, source_id)
    page = open_job(console, admin_token, source_id)
    expect(status_of(page)).to_contain_text("Completed")

    page.get_by_role("button", name="Copy").click()

    expect(page.get_by_role("heading", name=f"Edit {name} Copy")).to_be_visible()
    copy_id = page.url.split("/jobs/", 1)[1].split("/", 1)[0]
    assert copy_id != source_id
    expect(page.get_by_label("Name", exact=True)).to_have_value(f"{name} Copy")
    expect(page.get_by_label("Device group")).to_have_value(group_id)
    expect(page.get_by_label("Command", exact=True)).to_be_checked()
    expect(page.get_by_label("Command name")).to_have_value("echo")
    expect(page.get_by_label("Payload")).to_have_value('{"note":"console"}')
    assert job(api, copy_id)["status"] == "draft"
    page.get_by_role("button", name="Run", exact=True).click()

    expect(status_of(page)).to_contain_text("Completed")
    copied = job(api, copy_id)
    assert (copied["displayName"], copied["data"], copied["group"]) == (f"{name} Copy", ECHO, group_id)
    assert [echoes(hub, device_id) for device_id in ids] == [2, 2]  # the source's run and the copy's


def test_rerun_on_failed_runs_the_operations_again_on_the_failed_devices(console, api, hub, devices, make_group,
                                                                          admin_token):
    ids = devices(4)
    for device_id in ids[:2]:
        hub.control.set_online(device_id, False)
    group_id, _ = make_group(ids)
    source_id = run_job(api, group_id)
    assert wait_ended(api, source_id)["progress"]["failed"] == 2
    page = open_job(console, admin_token, source_id)
    expect(status_of(page)).to_contain_text("Failed")
    page.get_by_label("Device status").select_option(label="Failed")
    failed_rows = page.locator("table.job-devices tbody tr")
    expect(failed_rows).to_have_count(2)
    for device_id in ids[:2]:
        expect(page.locator(f'tr[data-device="{device_id}"]')).to_contain_text("Failed")
        assert job_devices(api, source_id)[device_id]["errorCode"]
        expect(page.locator(f'tr[data-device="{device_id}"]')).to_contain_text(job_devices(api, source_id)[device_id]["errorCode"])
    page.get_by_label("Filter by device ID").fill(ids[1])
    expect(failed_rows).to_have_count(1)
    for device_id in ids[:2]:
        hub.control.set_online(device_id, True)

    page.get_by_role("button", name="Rerun on failed").click()

    expect(page.get_by_role("link", name=source_id)).to_be_visible()  # "Rerun of"
    expect(status_of(page)).to_contain_text("Completed")
    rerun_id = page.url.rsplit("/", 1)[-1]
    assert rerun_id != source_id and job(api, rerun_id)["rerunOf"] == source_id
    assert sorted(job_devices(api, rerun_id)) == ids[:2]
    expect(page.locator("table.job-devices tbody tr")).to_have_count(2)
    assert [echoes(hub, device_id) for device_id in ids] == [1, 1, 1, 1]


def test_the_job_details_download_as_the_csv(console, api, hub, devices, make_group, admin_token):
    ids = devices(3)
    hub.control.set_online(ids[1], False)
    group_id, _ = make_group(ids)
    job_id = run_job(api, group_id, name=unique("Echo for the CSV"))
    wait_ended(api, job_id)
    page = open_job(console, admin_token, job_id)
    expect(status_of(page)).to_contain_text("Failed")

    with page.expect_download() as started:
        page.get_by_role("button", name="Download job details").click()

    download = started.value
    assert download.suggested_filename == f"job-{job_id}.csv"
    text = open(download.path(), encoding="utf-8", newline="").read()
    assert text == api.get(f"jobs/{job_id}/report.csv").content.decode("utf-8")  # as the API gives it
    details, rows = read_csv(text)
    assert job_id in details.values()
    assert [row["Device ID"] for row in rows] == ids
    assert [row["Status"] for row in rows] == ["completed", "failed", "completed"]
    assert rows[1]["Error code"] and not rows[0]["Error code"]


def test_a_viewer_sees_no_run_stop_copy_or_new(console, second_console, api, hub, devices, make_group, admin_token):
    ids = slow_devices(hub, devices, 40)
    group_id, _ = make_group(ids)
    job_id = run_job(api, group_id, name=unique("Stopped for a viewer"))
    wait_job(api, job_id, lambda found: found["status"] == "running", "to run")
    assert api.post(f"jobs/{job_id}/stop").status_code == 204
    viewer = make_token(api, VIEWER)

    # An operator sees Run on the stopped job: what the Viewer must not.
    operator_page = open_job(console, admin_token, job_id)
    expect(status_of(operator_page)).to_contain_text("Stopped")
    expect(operator_page.get_by_role("button", name="Run", exact=True)).to_be_visible()
    expect(operator_page.get_by_role("button", name="Copy")).to_be_visible()

    page = second_console.open(viewer)
    expect(page.get_by_text("(read only)")).to_be_visible()
    expect(page.get_by_role("button", name="New", exact=True)).to_have_count(0)
    page = second_console.goto(f"#/jobs/{job_id}")
    expect(status_of(page)).to_contain_text("Stopped")
    expect(page.get_by_role("button", name="Download job details")).to_be_visible()
    for name in ("Run", "Stop", "Copy", "Rerun on failed", "Edit"):
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
    page = second_console.goto("#/new")
    expect(page.get_by_role("alert")).to_contain_text("Your role may read jobs but not create or run them.")
    expect(page.get_by_label("Name", exact=True)).to_have_count(0)
    assert job(api, job_id)["status"] == "stopped"
    api.delete(f"jobs/{job_id}")


def test_a_device_deleted_after_planning_is_shown_as_deleted(console, api, hub, devices, make_group, admin_token):
    ids = devices(2)
    hub.control.set_behaviour(ids[0], latency="fixed:4000")  # the first batch holds the second one back
    group_id, _ = make_group(ids)
    job_id = unique("job")
    response = api.put(f"jobs/{job_id}", {"displayName": job_id, "group": group_id, "data": ECHO,
                                          "batch": {"type": "number", "value": 1}})
    assert response.status_code == 200, response.text
    wait_job(api, job_id, lambda found: found["progress"]["total"] == 2, "to be planned")
    hub.registry_manager().delete_device(ids[1])
    assert wait_ended(api, job_id)["status"] == "failed"

    page = open_job(console, admin_token, job_id)

    row = page.locator(f'tr[data-device="{ids[1]}"]')
    expect(row).to_contain_text("(deleted)")
    expect(row).to_contain_text("DeviceNotFound")
    expect(page.locator(f'tr[data-device="{ids[0]}"]')).not_to_contain_text("(deleted)")
