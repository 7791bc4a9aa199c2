"""The scheduler's tick (dispatcher/scheduling.py) over in-memory stores and a FakeClock: due,
missed, grace, completed, disabled, refusals, failures that pass, two schedulers at once, and a
crash between creating a run and saving the state."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from dispatcher.scheduling import start_due_runs
from shared.domain.groups import DeviceGroup
from shared.domain.operations import Operation, OperationType
from shared.domain.scheduled_jobs import ScheduledJob
from shared.domain.schedules import EndByOccurrences, Schedule
from shared.messages import PlanKind, PlanRequest
from shared.repositories.in_memory import InMemoryScheduledJobRepository
from shared.settings import Settings
from tests.fakes import START, FakeClock, FakeQueue, collaborators

MINUTE = timedelta(minutes=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(step=timedelta(0))


@pytest.fixture
def ctx(clock):
    c = collaborators(clock=clock, settings=Settings(scheduled_jobs_grace_minutes=15))
    c.groups.save(DeviceGroup("west", "West", "SELECT * FROM devices WHERE tags.region = 'west'"))
    return c


def schedule_job(ctx, job_id="fan", start=START + MINUTE, **schedule) -> ScheduledJob:
    job = ScheduledJob.define(job_id, "Fan", "west", [Operation(OperationType.PROPERTY, "fanSpeed", 2)],
                              Schedule(start=start, **schedule), ctx.clock())
    return ctx.scheduled_jobs.add(job)


def plans(ctx) -> list[PlanRequest]:
    return [request for text in ctx.plan_queue.messages
            if (request := PlanRequest.from_text(text)).kind is PlanKind.PLAN]


def test_nothing_starts_before_the_start(ctx, clock):
    schedule_job(ctx)
    clock.now += timedelta(seconds=59)
    assert start_due_runs(ctx).started == () and ctx.jobs.count([]) == 0 and plans(ctx) == []


def test_a_due_occurrence_starts_its_run_once(ctx, clock):
    schedule_job(ctx)
    clock.now += MINUTE
    assert start_due_runs(ctx).started == ("fan-run-1",)
    run = ctx.jobs.get("fan-run-1")
    assert (run.scheduled_job_id, run.display_name, run.created_by.id) == ("fan", "Fan (2026-11-26 12:01 UTC)",
                                                                           "scheduler")
    assert [plan.job_id for plan in plans(ctx)] == ["fan-run-1"]
    stored = ctx.scheduled_jobs.get("fan")
    assert (stored.last_index, stored.missed, stored.completed, stored.last_error) == (1, 0, True, None)
    clock.now += MINUTE
    assert start_due_runs(ctx).started == () and len(plans(ctx)) == 1  # a timer firing again starts nothing


def test_later_than_the_grace_period_it_is_missed(ctx, clock):
    schedule_job(ctx, recurrence="daily")
    clock.now += MINUTE + timedelta(minutes=16)
    result = start_due_runs(ctx)
    assert (result.started, result.missed) == ((), 1)
    stored = ctx.scheduled_jobs.get("fan")
    assert (stored.last_index, stored.missed, stored.completed) == (1, 1, False)
    clock.now = START + MINUTE + timedelta(days=1)  # the next day's starts on time
    assert start_due_runs(ctx).started == ("fan-run-2",)


def test_within_the_grace_period_only_the_latest_runs(ctx, clock):
    schedule_job(ctx, recurrence="daily")
    clock.now += timedelta(days=2) + MINUTE * 10
    assert start_due_runs(ctx).started == ("fan-run-3",)
    assert ctx.scheduled_jobs.get("fan").missed == 2


def test_completed_and_disabled_jobs_start_nothing(ctx, clock):
    schedule_job(ctx, "done", recurrence="daily", end=EndByOccurrences(1))
    disabled = schedule_job(ctx, "off")
    disabled.enabled = False
    ctx.scheduled_jobs.update(disabled)
    clock.now += MINUTE
    assert start_due_runs(ctx).started == ("done-run-1",)
    assert ctx.scheduled_jobs.get("done").completed
    clock.now += timedelta(days=1)
    assert start_due_runs(ctx).started == ()


def test_a_refused_run_is_missed_with_the_reason(ctx, clock):
    schedule_job(ctx, recurrence="daily")
    ctx.groups.delete("west")
    clock.now += MINUTE
    result = start_due_runs(ctx)
    assert (result.started, result.missed) == ((), 1)
    stored = ctx.scheduled_jobs.get("fan")
    assert stored.missed == 1 and "west" in stored.last_error and stored.last_index == 1


def test_a_run_over_the_active_job_limit_is_refused(ctx, clock):
    ctx = replace(ctx, settings=Settings(max_active_jobs=1))
    schedule_job(ctx, "a")
    schedule_job(ctx, "b")
    clock.now += MINUTE
    assert start_due_runs(ctx).started == ("a-run-1",)
    assert "MAX_ACTIVE_JOBS" in ctx.scheduled_jobs.get("b").last_error


def test_a_failure_that_may_pass_leaves_the_state_for_the_next_tick(ctx, clock):
    schedule_job(ctx)
    broken = FakeQueue()
    broken.broken = True
    clock.now += MINUTE
    result = start_due_runs(replace(ctx, plan_queue=broken))
    assert result.deferred == ("fan",) and ctx.jobs.count([]) == 0
    stored = ctx.scheduled_jobs.get("fan")
    assert (stored.last_index, stored.missed) == (0, 0)
    clock.now += MINUTE  # the queue is back
    assert start_due_runs(ctx).started == ("fan-run-1",)


def test_a_crash_between_the_run_and_the_state_is_made_good_once(ctx, clock):
    schedule_job(ctx)
    clock.now += MINUTE

    class Crash(Exception):
        pass

    class CrashingStore(InMemoryScheduledJobRepository):
        def update(self, job):
            raise Crash("the instance died")

    crashing = CrashingStore()
    crashing.add(ctx.scheduled_jobs.get("fan"))
    with pytest.raises(Crash):
        start_due_runs(replace(ctx, scheduled_jobs=crashing))
    assert ctx.jobs.get("fan-run-1") and ctx.scheduled_jobs.get("fan").last_index == 0
    assert start_due_runs(ctx).started == ("fan-run-1",)  # found made, not made again
    assert len(plans(ctx)) == 1 and ctx.scheduled_jobs.get("fan").last_index == 1


def test_two_schedulers_at_once_make_one_run(ctx, clock):
    schedule_job(ctx)
    clock.now += MINUTE
    stale = ctx.scheduled_jobs.list()

    class ReadBeforeTheOther(InMemoryScheduledJobRepository):
        """The second scheduler read the state before the first saved it."""

        def list(self):
            return stale

        def update(self, job):
            return ctx.scheduled_jobs.update(job)

    first = start_due_runs(ctx)
    second = start_due_runs(replace(ctx, scheduled_jobs=ReadBeforeTheOther()))
    assert first.started == ("fan-run-1",) and second.started == ()  # the second lost the save
    assert len(plans(ctx)) == 1
    stored = ctx.scheduled_jobs.get("fan")
    assert (stored.last_index, stored.missed) == (1, 0)


def test_an_edited_definition_does_not_make_the_started_run_a_refusal(ctx, clock):
    job = schedule_job(ctx)
    clock.now += MINUTE
    run = job.run_for(job.due(clock.now, MINUTE).start, clock.now)
    from jobs_api.jobs import start_job
    start_job(replace(run, display_name="renamed since"), ctx)  # as if made before an edit
    assert start_due_runs(ctx).started == ("fan-run-1",)
    assert ctx.scheduled_jobs.get("fan").last_error is None
