"""Maintenance windows through the API's bodies and use cases: accepted on jobs, drafts, draft
edits and scheduled jobs, refused naming the field, returned, copied, kept by a rerun, passed on
to a scheduled job's runs, shown in the CSV details; jobs without them read as before."""
from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from jobs_api import jobs as use_cases
from jobs_api import scheduled_jobs as scheduled_use_cases
from jobs_api.errors import from_exception
from jobs_api.models import DraftRequest, JobPatch, JobView, ScheduledJobView
from shared.csv_report import write_job_report
from shared.domain.errors import InvalidField
from shared.domain.progress import Progress
from shared.domain.schedules import MaintenanceWindow, Occurrence

from .conftest import NOW, definition
from .test_scheduled_job_use_cases import definition as scheduled_definition

WINDOWS = [{"cron": "0 2 * * SUN", "durationMinutes": 120}, {"cron": "30 22 * * MON-FRI", "durationMinutes": 60}]


def test_a_job_stores_and_shows_its_windows_and_zone(ctx):
    job = use_cases.create_job("job-1", definition(maintenanceWindows=WINDOWS, maintenanceTimeZone="Europe/Berlin"),
                               ctx)
    stored = ctx.jobs.get("job-1")
    assert stored.maintenance_windows == (MaintenanceWindow("0 2 * * SUN", 120), MaintenanceWindow("30 22 * * MON-FRI", 60))
    view = JobView.of(stored, Progress()).to_json()
    assert (view["maintenanceWindows"], view["maintenanceTimeZone"]) == (WINDOWS, "Europe/Berlin")
    assert use_cases.create_job("job-1", definition(maintenanceWindows=WINDOWS, maintenanceTimeZone="Europe/Berlin"),
                                ctx).incarnation == job.incarnation  # the same create again is the same job


def test_the_zone_defaults_to_utc_and_a_job_without_windows_reads_as_before(ctx):
    use_cases.create_job("job-1", definition(maintenanceWindows=WINDOWS[:1]), ctx)
    assert JobView.of(ctx.jobs.get("job-1"), Progress()).to_json()["maintenanceTimeZone"] == "UTC"
    use_cases.create_job("job-2", definition(), ctx)
    view = JobView.of(ctx.jobs.get("job-2"), Progress()).to_json()
    assert "maintenanceWindows" not in view and "maintenanceTimeZone" not in view


@pytest.mark.parametrize("windows, zone, field", [
    ([{"cron": "0 2 * *", "durationMinutes": 60}], None, "maintenanceWindows[0].cron"),
    ([WINDOWS[0], {"cron": "0 25 * * *", "durationMinutes": 60}], None, "maintenanceWindows[1].cron"),
    ([{"cron": "0 2 30 2 *", "durationMinutes": 60}], None, "maintenanceWindows[0].cron"),  # never comes
    (WINDOWS, "Mars/Olympus", "maintenanceTimeZone"),
    (WINDOWS * 6, None, "maintenanceWindows"),
])
def test_a_bad_window_or_zone_is_refused_naming_the_field_and_nothing_is_written(ctx, windows, zone, field):
    with pytest.raises(InvalidField) as refused:
        use_cases.create_job("job-1", definition(maintenanceWindows=windows, maintenanceTimeZone=zone), ctx)
    assert refused.value.field == field
    assert ctx.jobs.list_recent(NOW) == [] and ctx.plan_queue.sent == []


@pytest.mark.parametrize("window, target", [
    ({"cron": 5, "durationMinutes": 60}, "maintenanceWindows[0].cron"),
    ({"cron": "0 2 * * *", "durationMinutes": 0}, "maintenanceWindows[0].durationMinutes"),
    ({"cron": "0 2 * * *", "durationMinutes": 1441}, "maintenanceWindows[0].durationMinutes"),
    ({"cron": "0 2 * * *", "durationMinutes": "60"}, "maintenanceWindows[0].durationMinutes"),
    ({"cron": "0 2 * * *"}, "maintenanceWindows[0].durationMinutes"),
    ({"cron": "0 2 * * *", "durationMinutes": 60, "start": "x"}, "maintenanceWindows[0].start"),
])
def test_a_malformed_window_is_400_naming_the_field(window, target):
    with pytest.raises(ValidationError) as refused:
        definition(maintenanceWindows=[window])
    error = from_exception(refused.value)
    assert (error.status, error.target) == (400, target)


def test_drafts_take_windows_and_their_edits_change_or_remove_them(ctx):
    draft = use_cases.save_draft(DraftRequest.model_validate(
        {"group": "west", "data": [{"type": "property", "path": "fanSpeed", "value": 2}],
         "maintenanceWindows": WINDOWS}), ctx)
    assert len(draft.maintenance_windows) == 2
    edited = use_cases.edit_draft(draft.id, JobPatch.model_validate(
        {"maintenanceWindows": WINDOWS[1:], "maintenanceTimeZone": "Asia/Tokyo"}), None, ctx)
    assert (edited.maintenance_windows, edited.maintenance_time_zone) == ((MaintenanceWindow("30 22 * * MON-FRI", 60),),
                                                                          "Asia/Tokyo")
    with pytest.raises(InvalidField) as refused:
        use_cases.edit_draft(draft.id, JobPatch.model_validate(
            {"maintenanceWindows": [{"cron": "every night", "durationMinutes": 5}]}), None, ctx)
    assert refused.value.field == "maintenanceWindows[0].cron"
    cleared = use_cases.edit_draft(draft.id, JobPatch.model_validate({"maintenanceWindows": None}), None, ctx)
    assert cleared.maintenance_windows == ()


def test_copy_and_rerun_keep_the_windows(ctx):
    use_cases.create_job("job-1", definition(maintenanceWindows=WINDOWS, maintenanceTimeZone="Europe/Berlin"), ctx)
    source = ctx.jobs.get("job-1")
    copied = use_cases.copy_job("job-1", ctx)
    assert (copied.maintenance_windows, copied.maintenance_time_zone) == (source.maintenance_windows, "Europe/Berlin")
    source.start(NOW)
    source.fail("The device group 'west' no longer exists.", NOW)
    rerun = source.rerun("job-2", NOW)
    assert (rerun.maintenance_windows, rerun.maintenance_time_zone) == (source.maintenance_windows, "Europe/Berlin")


def test_scheduled_jobs_take_windows_show_them_and_pass_them_on_to_their_runs(ctx):
    job = scheduled_use_cases.put_scheduled_job(
        "nightly", scheduled_definition(maintenanceWindows=WINDOWS, maintenanceTimeZone="Europe/Berlin"), None, ctx)
    view = ScheduledJobView.of(job, NOW).to_json()
    assert (view["maintenanceWindows"], view["maintenanceTimeZone"]) == (WINDOWS, "Europe/Berlin")
    run = job.run_for(Occurrence(1, NOW + timedelta(hours=1)), NOW)
    assert (run.maintenance_windows, run.maintenance_time_zone) == (job.maintenance_windows, "Europe/Berlin")
    patched = scheduled_use_cases.patch_scheduled_job("nightly", {"maintenanceWindows": WINDOWS[:1]}, None, ctx)
    assert patched.maintenance_windows == (MaintenanceWindow("0 2 * * SUN", 120),)
    assert patched.maintenance_time_zone == "Europe/Berlin"
    removed = scheduled_use_cases.patch_scheduled_job("nightly", {"maintenanceWindows": None}, None, ctx)
    assert removed.maintenance_windows == ()


def test_a_scheduled_job_s_bad_window_is_refused_naming_the_field(ctx):
    with pytest.raises(InvalidField) as refused:
        scheduled_use_cases.put_scheduled_job(
            "nightly", scheduled_definition(maintenanceWindows=[{"cron": "61 * * * *", "durationMinutes": 5}]), None, ctx)
    assert refused.value.field == "maintenanceWindows[0].cron" and ctx.scheduled_jobs.list() == []


def test_the_csv_details_list_the_windows_and_their_zone(ctx):
    use_cases.create_job("job-1", definition(maintenanceWindows=WINDOWS, maintenanceTimeZone="Europe/Berlin"), ctx)
    text = "".join(write_job_report(ctx.jobs.get("job-1"), Progress(), []))
    assert "Maintenance window 1,0 2 * * SUN,120 minutes\r\n" in text
    assert "Maintenance window 2,30 22 * * MON-FRI,60 minutes\r\n" in text
    assert "Maintenance time zone,Europe/Berlin\r\n" in text
    use_cases.create_job("job-2", definition(), ctx)
    assert "Maintenance" not in "".join(write_job_report(ctx.jobs.get("job-2"), Progress(), []))
