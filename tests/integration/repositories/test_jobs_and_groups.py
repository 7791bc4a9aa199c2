from dataclasses import replace
from datetime import timedelta

import pytest

from shared.domain.errors import (AlreadyExists, ConcurrencyConflict, DeviceGroupNotFound, IllegalTransition,
                                  JobNotFound)
from shared.domain.groups import DeviceGroup
from shared.domain.jobs import Job, JobStatus
from shared.domain.limits import MAX_COMMAND_PAYLOAD_BYTES, MAX_EXPLICIT_DEVICES
from shared.domain.operations import Operation, OperationType
from shared.domain.schedules import MaintenanceWindow
from shared.repositories import ensure_tables
from tests.integration.repositories.conftest import NOW


def a_job(job_id: str = "job-1", **changes) -> Job:
    operations = [Operation(OperationType.PROPERTY, "thermostat.target", {"celsius": 21.5}, "dtmi:contoso:t;1"),
                  Operation(OperationType.COMMAND, "reboot", {"delay": 5}, response_timeout_seconds=60,
                            connect_timeout_seconds=10)]
    job = Job.draft(job_id, "Tune", "west", operations, NOW, description="d", devices=("a#1", "b'2"),
                    batch={"type": "number", "value": 10}, cancellation_threshold={"type": "percentage", "value": 5})
    return replace(job, **changes)


def test_a_job_round_trips_every_field(jobs):
    job = a_job()
    job.run(NOW + timedelta(seconds=1))
    jobs.add(job)
    stored = jobs.get("job-1")
    assert stored == job and stored.etag == job.etag and stored.etag


def test_maintenance_windows_and_their_zone_round_trip(jobs):
    windows = (MaintenanceWindow("0 2 * * SUN", 120), MaintenanceWindow("30 1 1,15 * *", 1440))
    job = a_job(maintenance_windows=windows, maintenance_time_zone="Europe/Berlin")
    job.run(NOW + timedelta(seconds=1))
    job.start(NOW + timedelta(seconds=2))
    job.wait_for_window(NOW + timedelta(hours=3))
    jobs.add(job)
    stored = jobs.get("job-1")
    assert stored == job and stored.maintenance_windows == windows and stored.waiting_for_window
    jobs.add(a_job("job-2"))
    assert (jobs.get("job-2").maintenance_windows, jobs.get("job-2").maintenance_time_zone) == ((), "UTC")


def test_a_rerun_keeps_its_source(jobs):
    job = replace(a_job("job-rerun"), rerun_of="job-1")
    jobs.add(job)
    assert jobs.get("job-rerun").rerun_of == "job-1"


def test_large_definitions_are_split_across_properties(jobs):
    payload = Operation(OperationType.COMMAND, "upload", {"blob": "é" * (MAX_COMMAND_PAYLOAD_BYTES // 2 - 20)})
    devices = tuple(f"device-{index:04}-" + "x" * 100 for index in range(MAX_EXPLICIT_DEVICES))
    job = Job.draft("big", "Big", "west", [payload, payload], NOW, devices=devices)
    jobs.add(job)
    assert jobs.get("big") == job


def test_adding_twice_is_refused_and_unknown_ids_are_not_found(jobs):
    jobs.add(a_job())
    with pytest.raises(AlreadyExists):
        jobs.add(a_job())
    with pytest.raises(JobNotFound):
        jobs.get("nope")


def test_update_needs_the_current_etag(jobs):
    jobs.add(a_job())
    first, second = jobs.get("job-1"), jobs.get("job-1")
    first.run(NOW)
    jobs.update(first)
    second.edit(NOW, display_name="late")
    with pytest.raises(ConcurrencyConflict):
        jobs.update(second)
    assert jobs.get("job-1").status is JobStatus.PENDING
    with pytest.raises(JobNotFound):
        jobs.update(a_job("missing", etag='W/"x"'))


class TestChange:
    """JobStore.change, the one way every writer (API, planner, collector) changes a job."""

    def test_a_writer_that_lost_a_race_decides_again_on_the_fresh_job(self, jobs):
        jobs.add(a_job())
        seen = []

        def describe_while_another_writer_runs_it(job):
            seen.append(job.status)
            if len(seen) == 1:  # between this read and its write, another writer moves the job
                other = jobs.get("job-1")
                other.run(NOW)
                jobs.update(other)
            job.description = "seen as " + job.status.value

        change = jobs.change("job-1", describe_while_another_writer_runs_it)
        assert seen == [JobStatus.DRAFT, JobStatus.PENDING]  # decided twice, the second time on the fresh job
        stored = jobs.get("job-1")
        assert (stored.status, stored.description) == (JobStatus.PENDING, "seen as pending")  # neither write lost
        assert change.changed and change.before.status is JobStatus.PENDING and stored.etag == change.after.etag

    def test_with_if_match_a_lost_race_is_the_caller_s_at_once(self, jobs):
        jobs.add(a_job())
        stale = jobs.get("job-1").etag
        jobs.change("job-1", lambda job: job.run(NOW))
        calls = []
        with pytest.raises(ConcurrencyConflict):
            jobs.change("job-1", lambda job: calls.append(job), if_match=stale)
        assert calls == [] and jobs.get("job-1").status is JobStatus.PENDING

    def test_a_decision_that_changes_nothing_writes_nothing(self, jobs):
        stored = jobs.add(a_job())
        change = jobs.change("job-1", lambda job: None)
        assert not change.changed and jobs.get("job-1").etag == stored.etag

    def test_a_refused_decision_writes_nothing(self, jobs):
        stored = jobs.add(a_job())
        with pytest.raises(IllegalTransition):
            jobs.change("job-1", lambda job: job.stop(NOW))  # a draft cannot be stopped
        assert jobs.get("job-1").etag == stored.etag

    def test_a_decision_may_return_the_job_to_become(self, jobs):
        jobs.add(a_job())
        written = jobs.change("job-1", lambda job: job.run(NOW)).after
        back = jobs.change("job-1", lambda job: a_job(), if_match=written.etag).after
        assert back.status is JobStatus.DRAFT and jobs.get("job-1").status is JobStatus.DRAFT

    def test_an_unknown_job_is_not_found(self, jobs):
        with pytest.raises(JobNotFound):
            jobs.change("missing", lambda job: None)


def test_delete(jobs):
    job = jobs.add(a_job())
    stale = job.etag
    job.run(NOW)
    jobs.update(job)
    with pytest.raises(ConcurrencyConflict):
        jobs.delete("job-1", etag=stale)
    jobs.delete("job-1", etag=job.etag)
    with pytest.raises(JobNotFound):
        jobs.get("job-1")
    jobs.delete("job-1")  # idempotent without an etag: a rerun of retention finds it gone


def stored_job(jobs, job_id: str, status: JobStatus, age_days: float) -> Job:
    at = NOW - timedelta(days=age_days)
    job = replace(a_job(job_id), status=status, created_at=at, last_modified=at,
                  ended_at=at if status.is_ended else None)
    return jobs.add(job)


def test_list_shows_newest_first_within_the_window_and_every_active_job(jobs):
    stored_job(jobs, "old-done", JobStatus.COMPLETED, 40)
    stored_job(jobs, "old-running", JobStatus.RUNNING, 45)
    stored_job(jobs, "old-stopped", JobStatus.STOPPED, 50)
    stored_job(jobs, "new-draft", JobStatus.DRAFT, 1)
    stored_job(jobs, "mid-failed", JobStatus.FAILED, 10)
    stored_job(jobs, "new-running", JobStatus.RUNNING, 2)
    listed = [job.id for job in jobs.list_recent(NOW, days=30)]
    assert listed == ["new-draft", "new-running", "mid-failed", "old-running", "old-stopped"]


def test_retention_lists_only_jobs_anchored_before_the_cutoff(jobs):
    stored_job(jobs, "old-done", JobStatus.COMPLETED, 40)
    stored_job(jobs, "old-draft", JobStatus.DRAFT, 31)
    stored_job(jobs, "old-stopped", JobStatus.STOPPED, 35)
    stored_job(jobs, "old-running", JobStatus.RUNNING, 45)
    stored_job(jobs, "old-pending", JobStatus.PENDING, 45)
    stored_job(jobs, "recent-done", JobStatus.FAILED, 29)
    expired = {job.id for job in jobs.list_for_retention(NOW - timedelta(days=30))}
    assert expired == {"old-done", "old-draft", "old-stopped"}


def test_device_groups(groups):
    group = groups.save(DeviceGroup("west", "West", 'SELECT * FROM devices WHERE $template = "dtmi:a;1"', "d"))
    assert groups.get("west") == group and groups.get("west").etag == group.etag
    stale = group.etag
    groups.save(DeviceGroup("west", "West 2", "SELECT * FROM devices"))
    with pytest.raises(ConcurrencyConflict):
        groups.save(DeviceGroup("west", "West 3", "SELECT * FROM devices"), if_match=stale)
    groups.save(DeviceGroup("east", "East", "SELECT * FROM devices"))
    assert [(g.id, g.display_name) for g in groups.list()] == [("east", "East"), ("west", "West 2")]
    groups.delete("east")
    with pytest.raises(DeviceGroupNotFound):
        groups.get("east")
    with pytest.raises(DeviceGroupNotFound):
        groups.delete("east")


def test_a_stored_filter_is_read_back_even_when_no_longer_valid(table_groups, table_service, table_name):
    table_service.get_table_client(table_name).create_entity(
        {"PartitionKey": "group", "RowKey": "broken", "displayName": "B", "filter": "SELECT nonsense"})
    assert table_groups.get("broken").filter == "SELECT nonsense"


def test_ensure_tables_is_idempotent(table_service, unique_name):
    ensure_tables(table_service, [unique_name])
    ensure_tables(table_service, [unique_name])
    assert unique_name in {table.name for table in table_service.list_tables()}
