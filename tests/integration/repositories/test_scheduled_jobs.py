"""The scheduledjobs table's contract, against Azurite and the in-memory fake alike."""
from datetime import date, timedelta

import pytest

from shared.domain.errors import AlreadyExists, ConcurrencyConflict, ScheduledJobNotFound
from shared.domain.jobs import Actor
from shared.domain.operations import Operation, OperationType
from shared.domain.scheduled_jobs import ScheduledJob
from shared.domain.schedules import EndByDate, MaintenanceWindow, Occurrence, Schedule
from tests.integration.repositories.conftest import NOW


def a_scheduled_job(job_id: str = "nightly", **optional) -> ScheduledJob:
    schedule = Schedule(start=NOW - timedelta(days=2), recurrence="monthly", end=EndByDate(date(2027, 6, 30)),
                        time_zone="Europe/Berlin")
    operations = [Operation(OperationType.COMMAND, "reboot", {"delay": 5}, "dtmi:contoso:t;1",
                            response_timeout_seconds=60)]
    return ScheduledJob.define(job_id, "Nightly", "west", operations, schedule, NOW, description="d",
                               cancellation_threshold={"type": "number", "value": 3, "batch": False},
                               organizations=("seattle",), created_by=Actor("apiToken", "t1", "t1"), **optional)


def test_a_scheduled_job_round_trips_every_field(scheduled_jobs):
    job = a_scheduled_job(enabled=False)
    job.missed, job.last_error, job.run_base = 2, "Device group 'west' was not found.", 7
    scheduled_jobs.add(job)
    stored = scheduled_jobs.get("nightly")
    assert stored == job and stored.etag == job.etag and stored.etag
    assert stored.schedule.time_zone == "Europe/Berlin" and stored.last_index == job.last_index


def test_maintenance_windows_round_trip_and_pass_on_to_the_runs(scheduled_jobs):
    windows = (MaintenanceWindow("0 22 * * MON-FRI", 180),)
    scheduled_jobs.add(a_scheduled_job(maintenance_windows=windows, maintenance_time_zone="America/New_York"))
    stored = scheduled_jobs.get("nightly")
    assert (stored.maintenance_windows, stored.maintenance_time_zone) == (windows, "America/New_York")
    run = stored.run_for(Occurrence(1, NOW), NOW)
    assert (run.maintenance_windows, run.maintenance_time_zone) == (windows, "America/New_York")


def test_a_one_time_schedule_in_the_past_is_read_back(scheduled_jobs):
    job = a_scheduled_job()
    job.schedule = Schedule(start=NOW - timedelta(days=400))
    scheduled_jobs.add(job)
    assert scheduled_jobs.get("nightly").schedule == job.schedule


def test_adding_twice_is_refused_and_unknown_ids_are_not_found(scheduled_jobs):
    scheduled_jobs.add(a_scheduled_job())
    with pytest.raises(AlreadyExists):
        scheduled_jobs.add(a_scheduled_job())
    with pytest.raises(ScheduledJobNotFound):
        scheduled_jobs.get("nope")
    with pytest.raises(ScheduledJobNotFound):
        scheduled_jobs.delete("nope")


def test_update_needs_the_version_it_read(scheduled_jobs):
    scheduled_jobs.add(a_scheduled_job())
    first, second = scheduled_jobs.get("nightly"), scheduled_jobs.get("nightly")
    first.last_index += 1
    scheduled_jobs.update(first)
    second.missed += 1
    with pytest.raises(ConcurrencyConflict):
        scheduled_jobs.update(second)
    assert scheduled_jobs.get("nightly").missed == 0


def test_change_decides_again_after_a_lost_race_unless_the_caller_named_a_version(scheduled_jobs):
    added = scheduled_jobs.add(a_scheduled_job())
    racer = scheduled_jobs.get("nightly")

    def decide(job):
        if racer.etag == added.etag:  # another writer saves first, once
            racer.missed = 5
            scheduled_jobs.update(racer)
        job.description = "changed"
        return job

    changed = scheduled_jobs.change("nightly", decide)
    assert (changed.description, changed.missed) == ("changed", 5)
    with pytest.raises(ConcurrencyConflict):
        scheduled_jobs.change("nightly", decide, if_match=added.etag)


def test_delete_with_a_stale_version_is_refused(scheduled_jobs):
    added = scheduled_jobs.add(a_scheduled_job())
    scheduled_jobs.update(scheduled_jobs.get("nightly"))
    with pytest.raises(ConcurrencyConflict):
        scheduled_jobs.delete("nightly", etag=added.etag)
    scheduled_jobs.delete("nightly")
    assert scheduled_jobs.list() == []


def test_the_list_is_by_id(scheduled_jobs):
    for job_id in ("b", "a", "c"):
        scheduled_jobs.add(a_scheduled_job(job_id))
    assert [job.id for job in scheduled_jobs.list()] == ["a", "b", "c"]


def test_a_run_keeps_its_scheduled_job(jobs):
    job = a_scheduled_job()
    run = job.run_for(job.due(NOW + timedelta(days=40), timedelta(days=40)).start, NOW)
    run.run(NOW)
    jobs.add(run)
    assert jobs.get(run.id).scheduled_job_id == "nightly" and jobs.get(run.id) == run
