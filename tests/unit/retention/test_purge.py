"""purge_job_history with the clock in hand: what is old, what is archived, and reruns after faults."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from retention.purge import RetentionIncomplete, purge_job_history
from shared.domain.errors import IllegalTransition, JobNotFound
from shared.domain.jobs import JobStatus
from shared.job_archive import PURGING, ArchiveMismatch, JobArchive
from shared.settings import Settings
from tests.fakes import collaborators

from .conftest import LONG_AGO, NOW, RECENTLY, RETENTION_DAYS
from .faults import (CorruptingArchive, Crash, CrashingArchive, CrashingDelete, EditingArchive,
                     HalfDeletingJobDevices, SkippingJobDevices)
from .seeding import report_bytes, seed_job


def purge(jobs, job_devices, archive, now=NOW, **options):
    c = collaborators(jobs=jobs, job_devices=job_devices, archive=archive, clock=lambda: now,
                      settings=Settings(job_history_retention_days=RETENTION_DAYS))
    return purge_job_history(c, **options)


def assert_purged(jobs, job_devices, job_id):
    with pytest.raises(JobNotFound):
        jobs.get(job_id)
    assert list(job_devices.iter_devices(job_id)) == []
    assert job_devices.get_progress(job_id).total == 0


def archived_bytes(archive, job_id) -> bytes:
    return b"".join(archive.read(archive.find(job_id)))


def test_an_old_ended_job_is_archived_as_its_report_then_purged(jobs, job_devices, archive, store):
    seed_job(jobs, job_devices, "old-job", "failed", LONG_AGO, devices=25)
    expected = report_bytes(jobs, job_devices, "old-job")

    summary = purge(jobs, job_devices, archive)

    assert summary.purged == ["old-job"] and not summary.failed
    assert store.blobs["2026/10/old-job.csv"][0] == expected
    assert archived_bytes(archive, "old-job") == expected
    entry = archive.find("old-job")
    assert (entry.status, entry.progress.total, entry.progress.failed, entry.state) == ("failed", 25, 3, PURGING)
    assert entry.anchor == LONG_AGO and entry.archived_at == NOW and entry.size == len(expected)
    assert_purged(jobs, job_devices, "old-job")


def test_running_pending_and_recent_jobs_are_left_alone(jobs, job_devices, archive, store):
    seed_job(jobs, job_devices, "running-for-ages", "running", LONG_AGO)
    seed_job(jobs, job_devices, "ended-recently", "completed", RECENTLY)
    seed_job(jobs, job_devices, "recent-draft", "draft", RECENTLY)
    pending = seed_job(jobs, job_devices, "old-draft-run", "draft", LONG_AGO)
    pending.run(LONG_AGO)
    jobs.update(pending)

    summary = purge(jobs, job_devices, archive)

    assert summary.purged == [] and store.blobs == {}
    for job_id in ("running-for-ages", "ended-recently", "recent-draft", "old-draft-run"):
        assert jobs.get(job_id)
    assert job_devices.get_progress("running-for-ages").total == 3


def test_old_means_an_anchor_before_the_cutoff(jobs, job_devices, archive):
    cutoff = NOW - timedelta(days=RETENTION_DAYS)
    seed_job(jobs, job_devices, "at-cutoff", "completed", cutoff)
    seed_job(jobs, job_devices, "just-before", "completed", cutoff - timedelta(microseconds=1))

    assert purge(jobs, job_devices, archive).purged == ["just-before"]
    assert jobs.get("at-cutoff")


def test_drafts_and_stopped_jobs_count_from_their_last_change(jobs, job_devices, archive):
    seed_job(jobs, job_devices, "old-draft", "draft", LONG_AGO)
    seed_job(jobs, job_devices, "old-stopped", "stopped", LONG_AGO)
    edited = seed_job(jobs, job_devices, "old-but-edited-draft", "draft", LONG_AGO)
    edited.edit(RECENTLY, display_name="Edited two days ago")
    jobs.update(edited)

    assert sorted(purge(jobs, job_devices, archive).purged) == ["old-draft", "old-stopped"]
    assert archive.find("old-stopped").progress.pending == 3
    assert jobs.get("old-but-edited-draft")


def test_a_rerun_after_everything_was_purged_does_nothing(jobs, job_devices, archive, store):
    seed_job(jobs, job_devices, "old-job", "completed", LONG_AGO)
    purge(jobs, job_devices, archive)
    blobs = dict(store.blobs)

    assert purge(jobs, job_devices, archive).purged == []
    assert store.blobs == blobs


def test_non_ascii_names_are_stored_as_ascii_and_read_back_unchanged(jobs, job_devices, archive, store):
    name = " Lüfter 風扇 100% "
    seed_job(jobs, job_devices, "named", "completed", LONG_AGO, display_name=name)

    purge(jobs, job_devices, archive)

    for _, metadata, _ in store.blobs.values():
        assert all(value.isascii() and value == value.strip() for value in metadata.values())
    assert store.blobs["by-id/named"][1]["displayname"] == "%20L%C3%BCfter %E9%A2%A8%E6%89%87 100%25%20"
    assert archive.find("named").display_name == name


def test_logs_one_line_per_job_and_a_summary(jobs, job_devices, archive, caplog):
    seed_job(jobs, job_devices, "first", "completed", LONG_AGO)
    seed_job(jobs, job_devices, "second", "draft", LONG_AGO)

    with caplog.at_level(logging.INFO, logger="retention.purge"):
        purge(jobs, job_devices, archive)

    lines = [record.getMessage() for record in caplog.records]
    assert any("archived job first (completed, 3 devices" in line and "2026/10/first.csv" in line for line in lines)
    assert any("archived job second (draft, 0 devices" in line for line in lines)
    assert lines[-1].startswith("job history: 2 jobs archived and purged, 0 changed meanwhile (next run), 0 failed")


class TestInterrupted:
    @pytest.mark.parametrize("step", ["write", "verify", "record", "mark_purging"])
    def test_a_crash_before_any_row_is_deleted_is_finished_by_the_rerun(self, jobs, job_devices, store, step):
        seed_job(jobs, job_devices, "old-job", "completed", LONG_AGO, devices=10)
        expected = report_bytes(jobs, job_devices, "old-job")

        with pytest.raises(Crash):
            purge(jobs, job_devices, CrashingArchive(store, after=step))
        assert jobs.get("old-job") and job_devices.get_progress("old-job").total == 10

        archive = JobArchive(store)
        assert purge(jobs, job_devices, archive).purged == ["old-job"]
        assert archived_bytes(archive, "old-job") == expected
        assert sorted(store.blobs) == ["2026/10/old-job.csv", "by-id/old-job", _time_index(store)]
        assert_purged(jobs, job_devices, "old-job")

    def test_a_crash_half_way_through_the_rows_never_shrinks_the_archive(self, jobs, store):
        job_devices = HalfDeletingJobDevices()
        seed_job(jobs, job_devices, "old-job", "completed", LONG_AGO, devices=10)
        expected = report_bytes(jobs, job_devices, "old-job")
        archive = JobArchive(store)

        with pytest.raises(Crash):
            purge(jobs, job_devices, archive)
        assert len(list(job_devices.iter_devices("old-job"))) == 5  # the report now would be smaller

        job_devices.crash = False
        assert purge(jobs, job_devices, archive).purged == ["old-job"]
        assert archived_bytes(archive, "old-job") == expected
        assert_purged(jobs, job_devices, "old-job")

    def test_a_crash_after_the_rows_before_the_job_entity_is_finished(self, jobs, job_devices, archive):
        seed_job(jobs, job_devices, "old-job", "completed", LONG_AGO, devices=10)
        expected = report_bytes(jobs, job_devices, "old-job")
        crashing_jobs = CrashingDelete(jobs)

        with pytest.raises(Crash):
            purge(crashing_jobs, job_devices, archive)
        assert jobs.get("old-job") and job_devices.get_progress("old-job").total == 0

        assert purge(jobs, job_devices, archive).purged == ["old-job"]
        assert archived_bytes(archive, "old-job") == expected
        assert_purged(jobs, job_devices, "old-job")


class TestChangedMeanwhile:
    def test_a_job_changed_after_archiving_keeps_its_rows_and_is_archived_again_next_run(self, jobs, job_devices,
                                                                                        store):
        seed_job(jobs, job_devices, "draft", "draft", LONG_AGO)
        archive = EditingArchive(store, jobs, "draft")

        summary = purge(jobs, job_devices, archive)

        assert summary.changed == ["draft"] and summary.purged == []
        assert jobs.get("draft").display_name == "Edited meanwhile" and store.blobs == {}

    def test_an_archive_of_an_older_version_is_replaced_before_any_row_goes(self, jobs, job_devices, archive):
        seed_job(jobs, job_devices, "old-job", "completed", LONG_AGO)
        entry = _archive_only(jobs, job_devices, archive, "old-job")
        job = jobs.get("old-job")
        job.reason = "annotated after archiving"
        jobs.update(job)
        assert archive.find("old-job").job_etag != jobs.get("old-job").etag

        assert purge(jobs, job_devices, archive).purged == ["old-job"]
        assert b"annotated after archiving" in archived_bytes(archive, "old-job")
        assert entry.job_etag != archive.find("old-job").job_etag

    def test_rows_that_do_not_add_up_to_the_total_are_not_archived(self, jobs, job_devices, archive, store):
        seed_job(jobs, job_devices, "old-job", "completed", LONG_AGO, devices=5)
        skipping = SkippingJobDevices(job_devices)

        with pytest.raises(RetentionIncomplete):
            purge(jobs, skipping, archive)
        assert archive.find("old-job") is None and job_devices.get_progress("old-job").total == 5


def test_an_archive_that_reads_back_different_is_never_trusted(jobs, job_devices, store):
    seed_job(jobs, job_devices, "bad-storage", "completed", LONG_AGO)
    seed_job(jobs, job_devices, "fine", "completed", LONG_AGO)

    with pytest.raises(RetentionIncomplete, match="1 jobs archived and purged, 0 changed meanwhile .*, 1 failed"):
        purge(jobs, job_devices, CorruptingArchive(store, "bad-storage"))
    assert jobs.get("bad-storage") and job_devices.get_progress("bad-storage").total == 3
    assert JobArchive(store).find("bad-storage") is None
    assert_purged(jobs, job_devices, "fine")


def _time_index(store) -> str:
    return next(name for name in store.blobs if name.startswith("by-time/"))


def _archive_only(jobs, job_devices, archive, job_id):
    from retention.purge import archive_job

    return archive_job(jobs.get(job_id), NOW, job_devices=job_devices, archive=archive)


def test_verification_compares_the_bytes_read_back(jobs, job_devices, archive, store):
    seed_job(jobs, job_devices, "old-job", "completed", LONG_AGO)
    entry = _archive_only(jobs, job_devices, archive, "old-job")
    data, metadata, md5 = store.blobs[entry.path]
    store.blobs[entry.path] = (data.replace(b"completed", b"COMPLETED"), metadata, md5)

    with pytest.raises(ArchiveMismatch, match="reads back different bytes"):
        archive.verify(entry)


def test_a_recorded_archive_whose_csv_went_missing_stops_the_purge(jobs, job_devices, archive, store):
    seed_job(jobs, job_devices, "old-job", "completed", LONG_AGO)
    entry = _archive_only(jobs, job_devices, archive, "old-job")
    del store.blobs[entry.path]

    with pytest.raises(RetentionIncomplete):
        purge(jobs, job_devices, archive)
    assert jobs.get("old-job") and job_devices.get_progress("old-job").total == 3


class ResumingArchive(JobArchive):
    """An operator resumes the job at the moment the purge marks its archive final."""

    def __init__(self, store, resume):
        super().__init__(store)
        self.resume, self.refusal = resume, None

    def mark_purging(self, entry):
        try:
            self.resume()
        except IllegalTransition as refused:
            self.refusal = refused
        return super().mark_purging(entry)


def test_a_resume_while_the_purge_deletes_the_job_is_refused_not_lost(jobs, job_devices, store):
    seed_job(jobs, job_devices, "old-stopped", "stopped", LONG_AGO)

    def resume():
        job = jobs.get("old-stopped")
        job.resume(NOW)
        jobs.update(job)

    archive = ResumingArchive(store, resume)
    purge(jobs, job_devices, archive)
    assert_purged(jobs, job_devices, "old-stopped")
    assert "being deleted" in str(archive.refusal)  # the API answers 409: the job is not resumed, then lost


def test_a_job_resumed_after_it_was_archived_is_kept_and_archived_again_next_run(jobs, job_devices, archive):
    seed_job(jobs, job_devices, "old-stopped", "stopped", LONG_AGO)
    real_change = jobs.change

    def resumed_first(job_id, decide, if_match=None):  # the resume lands just before the purge marks the job
        job = jobs.get(job_id)
        job.resume(NOW)
        jobs.update(job)
        jobs.change = real_change
        return real_change(job_id, decide, if_match)

    jobs.change = resumed_first
    summary = purge(jobs, job_devices, archive)
    assert summary.changed == ["old-stopped"] and jobs.get("old-stopped").status is JobStatus.RUNNING
    assert archive.find("old-stopped") is None and job_devices.get_progress("old-stopped").total == 3
