"""Scheduled job use cases: create, replace, merge patch, delete, list and runs; refusals that
name the field and change nothing."""
from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from jobs_api import scheduled_jobs as use_cases
from jobs_api.models import ScheduledJobDefinition, ScheduledJobView
from jobs_api.targets import TargetRefused
from shared.domain.errors import ConcurrencyConflict, InvalidField, ScheduledJobNotFound

from .conftest import NOW

LATER = (NOW + timedelta(hours=1)).isoformat().replace("+00:00", "Z")


def body(**changes) -> dict:
    value = {"displayName": "Nightly fan", "group": "west",
             "data": [{"type": "property", "path": "fanSpeed", "value": 2}],
             "schedule": {"start": LATER, "recurrence": "daily"}}
    value.update(changes)
    return value


def definition(**changes) -> ScheduledJobDefinition:
    return ScheduledJobDefinition.model_validate(body(**changes))


class TestPut:
    def test_creates_with_the_callers_name_and_the_next_runs(self, ctx):
        job = use_cases.put_scheduled_job("nightly", definition(), None, ctx)
        view = ScheduledJobView.of(job, NOW).to_json()
        assert view["enabled"] is True and view["completed"] is False and view["missed"] == 0
        assert view["schedule"] == {"start": LATER, "recurrence": "daily", "timeZone": "UTC"}
        assert len(view["nextRuns"]) == 5 and view["nextRuns"][0] == LATER
        assert view["createdBy"]["type"] == "system" and view["etag"]

    def test_the_same_body_again_keeps_the_state(self, ctx):
        first = use_cases.put_scheduled_job("nightly", definition(), None, ctx)
        again = use_cases.put_scheduled_job("nightly", definition(), None, ctx)
        assert again.created_at == first.created_at and again.last_index == first.last_index

    def test_occurrences_before_it_was_made_are_neither_run_nor_missed(self, ctx):
        past = (NOW - timedelta(days=3, minutes=1)).isoformat()
        job = use_cases.put_scheduled_job("daily", definition(schedule={"start": past, "recurrence": "daily"}),
                                          None, ctx)
        assert (job.last_index, job.missed) == (4, 0)

    @pytest.mark.parametrize("changes, field, code", [
        ({"group": "nowhere"}, "group", "DeviceGroupNotFound"),
    ])
    def test_targets_that_a_run_would_refuse_are_refused_now(self, ctx, changes, field, code):
        with pytest.raises(TargetRefused) as refused:
            use_cases.put_scheduled_job("nightly", definition(**changes), None, ctx)
        assert (refused.value.field, refused.value.code) == (field, code)
        assert ctx.scheduled_jobs.list() == [] and ctx.hub.queries == []  # no hub quota spent

    @pytest.mark.parametrize("schedule, field", [
        ({"start": (NOW - timedelta(minutes=1)).isoformat()}, "schedule.start"),
        ({"start": "tomorrow"}, "schedule.start"),
        ({"start": LATER, "timeZone": "Mars/Olympus"}, "schedule.timeZone"),
        ({"start": LATER, "recurrence": "daily", "end": {"type": "occurrences", "occurrences": 0}},
         "schedule.end.occurrences"),
        ({"start": LATER, "recurrence": "daily", "end": {"type": "date", "date": "2020-01-01"}}, "schedule.end.date"),
    ])
    def test_schedule_errors_name_the_field(self, ctx, schedule, field):
        with pytest.raises(InvalidField) as refused:
            use_cases.put_scheduled_job("nightly", definition(schedule=schedule), None, ctx)
        assert refused.value.field == field and ctx.scheduled_jobs.list() == []

    @pytest.mark.parametrize("changes", [{"maintenanceWindow": []}, {"devices": ["vending-0001"]},
                                         {"schedule": {"start": LATER, "maintenanceWindows": []}},
                                         {"schedule": {"start": LATER, "recurrence": "hourly"}}])
    def test_unknown_fields_and_values_are_refused(self, changes):
        with pytest.raises(ValidationError):
            definition(**changes)

    def test_if_match_must_be_the_current_version(self, ctx):
        job = use_cases.put_scheduled_job("nightly", definition(), None, ctx)
        with pytest.raises(ConcurrencyConflict):
            use_cases.put_scheduled_job("nightly", definition(displayName="x"), 'W/"stale"', ctx)
        with pytest.raises(ConcurrencyConflict):
            use_cases.put_scheduled_job("other", definition(), "*", ctx)
        replaced = use_cases.put_scheduled_job("nightly", definition(displayName="x", etag=job.etag), None, ctx)
        assert replaced.display_name == "x"

    def test_a_new_schedule_numbers_its_runs_after_the_earlier_ones(self, ctx):
        job = use_cases.put_scheduled_job("nightly", definition(), None, ctx)
        job.last_index = 3
        ctx.scheduled_jobs.update(job)
        other = {"start": (NOW + timedelta(hours=2)).isoformat(), "recurrence": "weekly"}
        replaced = use_cases.put_scheduled_job("nightly", definition(schedule=other), None, ctx)
        assert (replaced.run_base, replaced.last_index) == (3, 0)


class TestPatch:
    def test_merges_into_the_definition(self, ctx):
        use_cases.put_scheduled_job("nightly", definition(description="d"), None, ctx)
        patched = use_cases.patch_scheduled_job("nightly", {"description": None, "schedule": {"recurrence": "weekly"}},
                                                None, ctx)
        assert patched.description is None and patched.schedule.recurrence == "weekly"
        assert patched.display_name == "Nightly fan"

    def test_a_bad_patch_names_the_field_and_changes_nothing(self, ctx):
        stored = use_cases.put_scheduled_job("nightly", definition(), None, ctx)
        with pytest.raises(ValidationError) as refused:
            use_cases.patch_scheduled_job("nightly", {"schedule": {"recurrence": "hourly"}}, None, ctx)
        assert refused.value.errors()[0]["loc"][:2] == ("schedule", "recurrence")
        assert ctx.scheduled_jobs.get("nightly").etag == stored.etag

    def test_disabling_shows_no_next_runs_and_enabling_skips_what_fell_due(self, ctx):
        use_cases.put_scheduled_job("nightly", definition(), None, ctx)
        disabled = use_cases.patch_scheduled_job("nightly", {"enabled": False}, None, ctx)
        assert disabled.next_runs(NOW) == []
        ctx.clock.now += timedelta(days=2)
        enabled = use_cases.patch_scheduled_job("nightly", {"enabled": True}, None, ctx)
        assert enabled.last_index == 2 and enabled.next_runs(ctx.clock.now)[0] > ctx.clock.now

    def test_unknown_ids_are_not_found(self, ctx):
        with pytest.raises(ScheduledJobNotFound):
            use_cases.patch_scheduled_job("nope", {"enabled": False}, None, ctx)


class TestDeleteAndLists:
    def test_delete_leaves_the_runs(self, ctx):
        from dispatcher.scheduling import start_due_runs
        once = {"start": (NOW + timedelta(seconds=30)).isoformat()}
        use_cases.put_scheduled_job("once", definition(schedule=once), None, ctx)
        ctx.clock.now += timedelta(minutes=1)
        assert start_due_runs(ctx).started == ("once-run-1",)
        assert [job.id for job in use_cases.list_runs("once", ctx)] == ["once-run-1"]
        use_cases.delete_scheduled_job("once", None, ctx)
        assert ctx.jobs.get("once-run-1").scheduled_job_id == "once"
        with pytest.raises(ScheduledJobNotFound):
            use_cases.list_runs("once", ctx)
        with pytest.raises(ScheduledJobNotFound):
            use_cases.delete_scheduled_job("once", None, ctx)

    def test_made_again_under_its_id_its_runs_follow_the_kept_ones(self, ctx):
        from dispatcher.scheduling import start_due_runs
        once = {"start": (NOW + timedelta(seconds=30)).isoformat()}
        use_cases.put_scheduled_job("once", definition(schedule=once), None, ctx)
        ctx.clock.now += timedelta(minutes=1)
        start_due_runs(ctx)
        use_cases.delete_scheduled_job("once", None, ctx)
        again = {"start": (ctx.clock.now + timedelta(seconds=30)).isoformat()}
        use_cases.put_scheduled_job("once", definition(schedule=again), None, ctx)
        ctx.clock.now += timedelta(minutes=1)
        assert start_due_runs(ctx).started == ("once-run-2",)

    def test_the_list_is_by_id(self, ctx):
        for job_id in ("b", "a", "c"):
            use_cases.put_scheduled_job(job_id, definition(), None, ctx)
        assert [job.id for job in use_cases.list_scheduled_jobs(ctx)] == ["a", "b", "c"]


def test_merge_patch_follows_rfc_7396():
    assert use_cases.merge_patch({"a": "b", "c": {"d": "e", "f": "g"}}, {"a": "z", "c": {"f": None}}) == {
        "a": "z", "c": {"d": "e"}}
    assert use_cases.merge_patch({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}
    assert use_cases.merge_patch({"a": "b"}, {"a": {"c": 1}}) == {"a": {"c": 1}}
