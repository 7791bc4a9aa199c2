"""Job use cases: every transition the API drives, refusals that change nothing, the plan request."""
from __future__ import annotations

from dataclasses import replace

import pytest

from jobs_api import jobs as use_cases
from jobs_api.jobs import PlanningUnavailable
from jobs_api.models import DraftRequest, JobPatch
from jobs_api.targets import HubUnavailable, TargetRefused
from shared.domain.devices import DeviceOutcome
from shared.domain.errors import (AlreadyExists, ConcurrencyConflict, IllegalTransition, InvalidField, LimitReached,
                                  JobNotFound)
from shared.domain.jobs import JobStatus
from shared.hub_gateway import HubFailure
from shared.messages import PlanKind, PlanRequest
from shared.settings import Settings

from .conftest import definition


def _started(ctx, job_id: str = "job-1"):
    """A job the planner has moved to running."""
    use_cases.create_job(job_id, definition(), ctx)
    job = ctx.jobs.get(job_id)
    job.start(ctx.clock())
    return ctx.jobs.update(job)


def _plan_requests(ctx) -> list[PlanRequest]:
    """What was asked of the planner, less the watchdog's first look that goes with each."""
    return [request for request in _queued(ctx) if request.kind is not PlanKind.WATCH]


def _queued(ctx) -> list[PlanRequest]:
    return [PlanRequest.from_text(text) for text in ctx.plan_queue.messages]


class TestCreateJob:
    def test_writes_the_job_pending_and_asks_for_planning(self, ctx):
        job = use_cases.create_job("job-1", definition(), ctx)
        assert job.status is JobStatus.PENDING and ctx.jobs.get("job-1").status is JobStatus.PENDING
        assert job.started_at is not None
        assert _plan_requests(ctx) == [PlanRequest.plan(ctx.jobs.get("job-1"))]
        (watch, delay), = [(text, delay) for text, delay in ctx.plan_queue.sent if "watch" in text]
        watch = PlanRequest.from_text(watch)  # planning that cannot run is noticed: the job never stays pending
        assert (watch.kind, watch.since, delay) == (PlanKind.WATCH, job.last_modified, 900)

    def test_a_job_id_is_used_once(self, ctx):
        use_cases.create_job("job-1", definition(), ctx)
        with pytest.raises(AlreadyExists):
            use_cases.create_job("job-1", definition(displayName="other"), ctx)
        assert ctx.jobs.get("job-1").display_name == "Fan" and len(_plan_requests(ctx)) == 1

    def test_the_same_create_sent_again_answers_the_job_and_starts_nothing(self, ctx):
        first = use_cases.create_job("job-1", definition(organizations=["seattle"]), ctx)
        again = use_cases.create_job("job-1", definition(organizations=["seattle"]), ctx)
        assert again.incarnation == first.incarnation and len(_plan_requests(ctx)) == 1
        for other in ({"organizations": None}, {"data": [{"type": "property", "path": "fanSpeed", "value": 3}]}):
            with pytest.raises(AlreadyExists):
                use_cases.create_job("job-1", definition(**{"organizations": ["seattle"], **other}), ctx)

    def test_a_create_under_the_id_of_a_draft_is_refused_though_it_is_alike(self, ctx):
        draft = use_cases.save_draft(DraftRequest.model_validate(definition().model_dump(by_alias=True)), ctx)
        with pytest.raises(AlreadyExists):
            use_cases.create_job(draft.id, definition(), ctx)  # it would not run: "create and run" did not happen

    def test_the_name_defaults_to_the_id(self, ctx):
        assert use_cases.create_job("job-1", definition(displayName=None), ctx).display_name == "job-1"

    @pytest.mark.parametrize("changes, field, code", [
        ({"group": "nowhere"}, "group", "DeviceGroupNotFound"),
        ({"devices": ["vending-0009"]}, "devices[0]", "DeviceNotInGroup"),
        ({"devices": ["vending-0001", "edge-gateway-01"]}, "devices[1]", "EdgeDeviceNotSupported"),
    ])
    def test_refusals_name_the_field_and_write_nothing(self, ctx, changes, field, code):
        with pytest.raises(TargetRefused) as refused:
            use_cases.create_job("job-1", definition(**changes), ctx)
        assert (refused.value.field, refused.value.code) == (field, code)
        with pytest.raises(JobNotFound):
            ctx.jobs.get("job-1")
        assert ctx.plan_queue.messages == []

    def test_a_threshold_per_batch_without_batches_is_refused_and_writes_nothing(self, ctx):
        threshold = {"type": "number", "value": 3, "batch": True}
        with pytest.raises(InvalidField) as refused:
            use_cases.create_job("job-1", definition(cancellationThreshold=threshold), ctx)
        assert refused.value.field == "cancellationThreshold.batch"
        with pytest.raises(JobNotFound):
            ctx.jobs.get("job-1")
        created = use_cases.create_job("job-2", definition(cancellationThreshold=threshold,
                                                           batch={"type": "number", "value": 5}), ctx)
        assert created.batch == {"type": "number", "value": 5} and created.cancellation_threshold == threshold

    def test_a_bad_job_id_is_refused(self, ctx):
        with pytest.raises(InvalidField) as refused:
            use_cases.create_job("bad.id", definition(), ctx)
        assert refused.value.field == "jobId"

    def test_a_corrupted_group_is_refused(self, ctx):
        from shared.domain.groups import DeviceGroup

        ctx.groups.save(DeviceGroup("broken", "Broken", "SELECT * FROM devices WHERE (("))
        with pytest.raises(TargetRefused) as refused:
            use_cases.create_job("job-1", definition(group="broken"), ctx)
        assert refused.value.code == "DeviceGroupCorrupted" and "corrupted" in refused.value.message

    def test_an_unreachable_hub_is_unavailable_and_writes_nothing(self, ctx, hub):
        hub.query_failure = HubFailure("HubError", "503 from the hub", 503)
        with pytest.raises(HubUnavailable):
            use_cases.create_job("job-1", definition(), ctx)
        with pytest.raises(JobNotFound):
            ctx.jobs.get("job-1")

    def test_when_the_plan_request_cannot_be_sent_the_job_is_removed(self, ctx):
        ctx.plan_queue.broken = True
        with pytest.raises(PlanningUnavailable):
            use_cases.create_job("job-1", definition(), ctx)
        with pytest.raises(JobNotFound):
            ctx.jobs.get("job-1")
        ctx.plan_queue.broken = False
        assert use_cases.create_job("job-1", definition(), ctx).status is JobStatus.PENDING  # a retry works

    def test_the_subset_is_checked_in_chunks(self, ctx, hub):
        from shared.hub_gateway import DeviceSummary

        for number in range(120):
            hub.devices[f"d-{number:03d}"] = DeviceSummary(f"d-{number:03d}")
        use_cases.create_job("job-1", definition(devices=[f"d-{n:03d}" for n in range(120)]), ctx)
        subset_queries = [query for query in hub.queries if "IN [" in query]
        assert len(subset_queries) == 3
        assert all(query.startswith("SELECT * FROM devices WHERE (tags.region = 'west') AND deviceId IN [")
                   for query in subset_queries)


class TestDrafts:
    def test_a_draft_gets_a_server_made_id_and_no_plan_request(self, ctx):
        draft = use_cases.save_draft(DraftRequest.model_validate(definition().model_dump(by_alias=True)), ctx)
        assert draft.status is JobStatus.DRAFT and len(draft.id) == 36
        assert ctx.plan_queue.messages == []

    def test_a_draft_is_not_checked_against_the_hub_until_it_runs(self, ctx, hub):
        body = {**definition().model_dump(by_alias=True, exclude_none=True), "devices": ["vending-0009"]}
        draft = use_cases.save_draft(DraftRequest.model_validate(body), ctx)
        assert hub.queries == []
        with pytest.raises(TargetRefused):
            use_cases.run_draft(draft.id, None, ctx)
        assert ctx.jobs.get(draft.id).status is JobStatus.DRAFT

    def test_run_true_runs_at_once(self, ctx):
        body = {**definition().model_dump(by_alias=True, exclude_none=True), "run": True}
        job = use_cases.save_draft(DraftRequest.model_validate(body), ctx)
        assert job.status is JobStatus.PENDING and _plan_requests(ctx) == [PlanRequest.plan(job)]

    def test_edit_then_run_then_run_again_is_refused(self, ctx):
        draft = use_cases.save_draft(DraftRequest.model_validate(definition().model_dump(by_alias=True)), ctx)
        edited = use_cases.edit_draft(draft.id, JobPatch.model_validate({"displayName": "New", "devices": None}), None,
                                      ctx)
        assert edited.display_name == "New" and edited.devices is None
        use_cases.run_draft(draft.id, edited.etag, ctx)
        with pytest.raises(IllegalTransition):
            use_cases.run_draft(draft.id, None, ctx)
        assert len(_plan_requests(ctx)) == 1

    def test_a_stale_if_match_is_refused(self, ctx):
        draft = use_cases.save_draft(DraftRequest.model_validate(definition().model_dump(by_alias=True)), ctx)
        with pytest.raises(ConcurrencyConflict):
            use_cases.edit_draft(draft.id, JobPatch.model_validate({"displayName": "x"}), 'W/"0"', ctx)
        with pytest.raises(ConcurrencyConflict):
            use_cases.run_draft(draft.id, 'W/"0"', ctx)
        assert ctx.jobs.get(draft.id).status is JobStatus.DRAFT and ctx.jobs.get(draft.id).display_name == "Fan"

    @pytest.mark.parametrize("given_if_match", [False, True])
    def test_a_run_racing_an_edit_applies_to_the_fresh_draft_unless_if_match_was_given(self, ctx, hub,
                                                                                        given_if_match):
        draft = use_cases.save_draft(DraftRequest.model_validate(definition().model_dump(by_alias=True)), ctx)
        query = hub.query_devices

        def edited_while_checked(*args, **kwargs):  # an edit lands between the run's check and its write
            hub.query_devices = query
            use_cases.edit_draft(draft.id, JobPatch.model_validate({"displayName": "Edited"}), None, ctx)
            return query(*args, **kwargs)

        hub.query_devices = edited_while_checked
        if given_if_match:
            with pytest.raises(ConcurrencyConflict):  # the caller's precondition: 412
                use_cases.run_draft(draft.id, draft.etag, ctx)
            assert ctx.jobs.get(draft.id).status is JobStatus.DRAFT and ctx.plan_queue.messages == []
        else:
            job = use_cases.run_draft(draft.id, None, ctx)
            assert (job.status, job.display_name) == (JobStatus.PENDING, "Edited")
            assert ctx.jobs.get(draft.id).status is JobStatus.PENDING and len(_plan_requests(ctx)) == 1

    def test_if_match_star_matches_any_version(self, ctx):
        draft = use_cases.save_draft(DraftRequest.model_validate(definition().model_dump(by_alias=True)), ctx)
        assert use_cases.run_draft(draft.id, "*", ctx).status is JobStatus.PENDING

    def test_when_the_plan_request_cannot_be_sent_the_draft_is_restored(self, ctx):
        draft = use_cases.save_draft(DraftRequest.model_validate(definition().model_dump(by_alias=True)), ctx)
        ctx.plan_queue.broken = True
        with pytest.raises(PlanningUnavailable):
            use_cases.run_draft(draft.id, None, ctx)
        restored = ctx.jobs.get(draft.id)
        assert restored.status is JobStatus.DRAFT and restored.started_at is None

    def test_editing_a_started_job_is_refused(self, ctx):
        use_cases.create_job("job-1", definition(), ctx)
        with pytest.raises(IllegalTransition):
            use_cases.edit_draft("job-1", JobPatch.model_validate({"displayName": "x"}), None, ctx)


class TestStopResume:
    def test_stop_then_resume_asks_to_plan_the_rest(self, ctx):
        _started(ctx)
        use_cases.stop_job("job-1", None, ctx)
        assert ctx.jobs.get("job-1").status is JobStatus.STOPPED
        use_cases.resume_job("job-1", None, ctx)
        assert ctx.jobs.get("job-1").status is JobStatus.RUNNING
        assert _plan_requests(ctx)[-1] == PlanRequest.resume(ctx.jobs.get("job-1"))

    def test_stop_a_draft_is_refused_and_retried_stops_and_resumes_succeed(self, ctx):
        draft = use_cases.save_draft(DraftRequest.model_validate(definition().model_dump(by_alias=True)), ctx)
        with pytest.raises(IllegalTransition):
            use_cases.stop_job(draft.id, None, ctx)
        _started(ctx)
        queued = len(ctx.plan_queue.messages)
        running = use_cases.resume_job("job-1", None, ctx)  # runs already: nothing to do, nothing queued
        assert running.status is JobStatus.RUNNING and len(ctx.plan_queue.messages) == queued
        stopped = use_cases.stop_job("job-1", None, ctx)
        again = use_cases.stop_job("job-1", None, ctx)
        assert again.status is JobStatus.STOPPED and again.etag == stopped.etag  # not written again

    def test_resume_a_completed_job_is_refused(self, ctx):
        job = _started(ctx)
        ctx.job_devices.add_pending("job-1", ["vending-0001"], ctx.clock())
        progress = ctx.job_devices.record_outcomes("job-1", [DeviceOutcome.success("vending-0001")], ctx.clock()).progress
        job.finish(progress, ctx.clock())
        ctx.jobs.update(job)
        with pytest.raises(IllegalTransition):
            use_cases.resume_job("job-1", None, ctx)
        with pytest.raises(IllegalTransition):
            use_cases.stop_job("job-1", None, ctx)

    def test_when_resume_cannot_be_queued_the_job_stays_stopped(self, ctx):
        _started(ctx)
        use_cases.stop_job("job-1", None, ctx)
        ctx.plan_queue.broken = True
        with pytest.raises(PlanningUnavailable):
            use_cases.resume_job("job-1", None, ctx)
        assert ctx.jobs.get("job-1").status is JobStatus.STOPPED

    def test_a_lost_race_with_the_pipeline_is_retried_without_if_match(self, ctx):
        _started(ctx)
        real_update, calls = ctx.jobs.update, []

        def update_losing_once(job):
            calls.append(job.status)
            if len(calls) == 1:
                raise ConcurrencyConflict("Job", job.id)
            return real_update(job)

        object.__setattr__(ctx.jobs, "update", update_losing_once)
        use_cases.stop_job("job-1", None, ctx)
        assert calls == [JobStatus.STOPPED, JobStatus.STOPPED]
        assert ctx.jobs.get("job-1").status is JobStatus.STOPPED

    def test_with_if_match_a_lost_race_is_the_callers(self, ctx):
        job = _started(ctx)
        job.description = "changed by someone else"
        ctx.jobs.update(job)
        with pytest.raises(ConcurrencyConflict):
            use_cases.stop_job("job-1", 'W/"1"', ctx)
        assert ctx.jobs.get("job-1").status is JobStatus.RUNNING


class TestCopyDelete:
    def test_copy_makes_a_draft_named_copy(self, ctx):
        _started(ctx)
        copied = use_cases.copy_job("job-1", ctx)
        assert copied.status is JobStatus.DRAFT and copied.display_name == "Fan Copy" and copied.id != "job-1"
        assert ctx.jobs.get("job-1").status is JobStatus.RUNNING

    def test_a_running_job_is_never_deleted(self, ctx):
        _started(ctx)
        with pytest.raises(IllegalTransition):
            use_cases.delete_job("job-1", None, ctx)
        assert ctx.jobs.get("job-1").status is JobStatus.RUNNING

    def test_a_pending_job_is_stopped_or_deleted_at_once(self, ctx):
        use_cases.create_job("job-0", definition(), ctx)
        use_cases.create_job("job-2", definition(), ctx)
        assert use_cases.stop_job("job-0", None, ctx).status is JobStatus.STOPPED
        use_cases.delete_job("job-2", None, ctx)
        with pytest.raises(JobNotFound):
            ctx.jobs.get("job-2")

    def test_a_stopped_job_is_deleted_with_its_device_rows(self, ctx):
        _started(ctx)
        ctx.job_devices.add_pending("job-1", ["vending-0001"], ctx.clock())
        use_cases.stop_job("job-1", None, ctx)
        use_cases.delete_job("job-1", None, ctx)
        with pytest.raises(JobNotFound):
            ctx.jobs.get("job-1")
        assert ctx.job_devices.get_progress("job-1").total == 0

    def test_a_stale_if_match_keeps_the_job(self, ctx):
        draft = use_cases.save_draft(DraftRequest.model_validate(definition().model_dump(by_alias=True)), ctx)
        with pytest.raises(ConcurrencyConflict):
            use_cases.delete_job(draft.id, 'W/"0"', ctx)
        assert ctx.jobs.get(draft.id)


class TestReads:
    def test_list_shows_newest_first_whatever_the_status(self, ctx):
        use_cases.create_job("older", definition(), ctx)
        _started(ctx, "running")
        use_cases.create_job("newest", definition(), ctx)
        assert [job.id for job in use_cases.list_jobs(ctx)] == ["newest", "running", "older"]

    def test_a_job_view_carries_its_progress(self, ctx):
        _started(ctx)
        ctx.job_devices.add_pending("job-1", ["vending-0001", "vending-0002"], ctx.clock())
        ctx.job_devices.record_outcomes("job-1", [DeviceOutcome.success("vending-0001")], ctx.clock())
        view = use_cases.get_job("job-1", ctx)
        assert view.progress.model_dump() == {"total": 2, "pending": 1, "running": 0, "completed": 1, "failed": 0}

    def test_devices_filter_by_status(self, ctx):
        _started(ctx)
        ctx.job_devices.add_pending("job-1", ["vending-0001", "vending-0002"], ctx.clock())
        ctx.job_devices.record_outcomes("job-1", [DeviceOutcome.success("vending-0001")], ctx.clock())
        page, batches = use_cases.list_job_devices("job-1", "completed", 10, None, ctx)
        assert [device.device_id for device in page.devices] == ["vending-0001"] and batches == []
        with pytest.raises(InvalidField):
            use_cases.list_job_devices("job-1", "exploded", 10, None, ctx)
        with pytest.raises(JobNotFound):
            use_cases.list_job_devices("nope", None, 10, None, ctx)


class TestLimits:
    """One client cannot fill the app: drafts, active jobs and groups are bounded by settings."""

    def test_drafts_beyond_the_limit_are_refused_and_nothing_is_written(self, ctx):
        ctx = replace(ctx, settings=Settings(max_draft_jobs=2))
        body = DraftRequest.model_validate(definition().model_dump(by_alias=True))
        first = use_cases.save_draft(body, ctx)
        use_cases.copy_job(first.id, ctx)
        for refused in (lambda: use_cases.save_draft(body, ctx), lambda: use_cases.copy_job(first.id, ctx)):
            with pytest.raises(LimitReached) as reached:
                refused()
            assert reached.value.setting == "MAX_DRAFT_JOBS"
        assert ctx.jobs.count([JobStatus.DRAFT]) == 2

    def test_active_jobs_beyond_the_limit_are_refused_until_one_ends(self, ctx):
        ctx = replace(ctx, settings=Settings(max_active_jobs=1))
        use_cases.create_job("job-1", definition(), ctx)
        draft = use_cases.save_draft(DraftRequest.model_validate(definition().model_dump(by_alias=True)), ctx)
        for refused in (lambda: use_cases.create_job("job-2", definition(), ctx),
                        lambda: use_cases.run_draft(draft.id, None, ctx)):
            with pytest.raises(LimitReached) as reached:
                refused()
            assert reached.value.setting == "MAX_ACTIVE_JOBS"
        assert ctx.jobs.get(draft.id).status is JobStatus.DRAFT and len(_plan_requests(ctx)) == 1
        use_cases.delete_job("job-1", None, ctx)  # a pending job may be deleted: room again
        assert use_cases.run_draft(draft.id, None, ctx).status is JobStatus.PENDING
