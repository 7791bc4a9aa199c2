"""Archive and purge against Azurite: blocks, Content-MD5, metadata, and reruns after faults."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from jobs_api.history import history_page, open_archived_report
from retention.purge import purge_job_history
from shared.domain.errors import JobNotFound
from shared.job_archive import BlobArchiveStore
from shared.repositories import JobDeviceRepository
from shared.settings import Settings
from tests.fakes import collaborators
from tests.unit.retention.faults import Crash, CrashingArchive
from tests.unit.retention.seeding import report_bytes, seed_job

from .conftest import SMALL_BLOCKS

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc)
LONG_AGO = NOW - timedelta(days=45)
RECENTLY = NOW - timedelta(days=1)
DEVICES = 250  # three transactions of rows to delete


def purge(jobs, job_devices, archive):
    return purge_job_history(collaborators(jobs=jobs, job_devices=job_devices, archive=archive, clock=lambda: NOW,
                                           settings=Settings(job_history_retention_days=30)))


def stored_rows(job_devices, job_id) -> int:
    return len(list(job_devices.iter_devices(job_id)))


def assert_purged(jobs, job_devices, table_service, table_name, job_id):
    with pytest.raises(JobNotFound):
        jobs.get(job_id)
    table = table_service.get_table_client(table_name)
    assert list(table.query_entities("PartitionKey eq @pk", parameters={"pk": job_id})) == []  # progress row too


def test_old_jobs_are_archived_block_by_block_then_purged_and_the_others_untouched(
        jobs, job_devices, archive, container, table_service, job_devices_table):
    seed_job(jobs, job_devices, "old-failed", "failed", LONG_AGO, devices=DEVICES, display_name="Lüfter → 2")
    seed_job(jobs, job_devices, "running", "running", LONG_AGO)
    seed_job(jobs, job_devices, "recent", "completed", RECENTLY)
    expected = report_bytes(jobs, job_devices, "old-failed")

    summary = purge(jobs, job_devices, archive)

    assert summary.purged == ["old-failed"]
    blob = container.get_blob_client("2026/10/old-failed.csv")
    assert blob.download_blob().readall() == expected
    properties = blob.get_blob_properties()
    assert bytes(properties.content_settings.content_md5) == hashlib.md5(expected).digest()
    assert properties.content_settings.content_type == "text/csv; charset=utf-8"
    assert properties.metadata["displayname"] == "L%C3%BCfter %E2%86%92 2"
    assert (properties.metadata["status"], properties.metadata["total"], properties.metadata["failed"]) == (
        "failed", "250", "25")
    assert len(blob.get_block_list("committed")[0]) == -(-len(expected) // SMALL_BLOCKS)
    assert_purged(jobs, job_devices, table_service, job_devices_table, "old-failed")
    assert jobs.get("running") and stored_rows(job_devices, "running") == 3
    assert jobs.get("recent") and stored_rows(job_devices, "recent") == 3


def test_interrupted_between_upload_and_delete_the_rerun_finishes_with_one_archive(
        jobs, job_devices, archive, container, table_service, job_devices_table):
    seed_job(jobs, job_devices, "old-job", "completed", LONG_AGO, devices=DEVICES)
    expected = report_bytes(jobs, job_devices, "old-job")
    crashing = CrashingArchive(BlobArchiveStore(container, SMALL_BLOCKS), after="mark_purging")

    with pytest.raises(Crash):
        purge(jobs, job_devices, crashing)
    assert stored_rows(job_devices, "old-job") == DEVICES

    summary = purge(jobs, job_devices, archive)

    assert summary.purged == ["old-job"] and not summary.failed
    names = [blob.name for blob in container.list_blobs()]
    assert [name for name in names if name.endswith(".csv")] == ["2026/10/old-job.csv"] and len(names) == 3
    assert b"".join(archive.read(archive.find("old-job"))) == expected
    assert_purged(jobs, job_devices, table_service, job_devices_table, "old-job")


class CrashAfterFirstDeleteTransaction(JobDeviceRepository):
    crash = True

    def _delete_keys(self, keys):
        deleted = super()._delete_keys(keys)
        if self.crash:
            raise Crash("after one transaction of deletes")
        return deleted


def test_interrupted_half_way_through_the_rows_the_rerun_keeps_the_full_archive(
        jobs, archive, table_service, job_devices_table):
    job_devices = CrashAfterFirstDeleteTransaction(table_service, job_devices_table, pause=lambda attempt: None)
    seed_job(jobs, job_devices, "old-job", "completed", LONG_AGO, devices=DEVICES)
    expected = report_bytes(jobs, job_devices, "old-job")

    with pytest.raises(Crash):
        purge(jobs, job_devices, archive)
    assert 0 < stored_rows(job_devices, "old-job") < DEVICES

    job_devices.crash = False
    assert purge(jobs, job_devices, archive).purged == ["old-job"]
    assert b"".join(archive.read(archive.find("old-job"))) == expected
    assert_purged(jobs, job_devices, table_service, job_devices_table, "old-job")


def test_history_pages_and_downloads_from_blob_storage(jobs, job_devices, archive):
    reports = {}
    for days_earlier, job_id in enumerate(["newer", "older"]):
        seed_job(jobs, job_devices, job_id, "completed", LONG_AGO - timedelta(days=days_earlier))
        reports[job_id] = report_bytes(jobs, job_devices, job_id)
    purge(jobs, job_devices, archive)

    first = history_page(archive, "http://h/api/history", "http://h/api/", page_size=1)
    token = first["nextLink"].split("%24skiptoken=")[1]
    second = history_page(archive, first["nextLink"], "http://h/api/", page_size=1, skip_token=token)
    assert [first["value"][0]["id"], second["value"][0]["id"]] == ["newer", "older"]
    assert "nextLink" not in second
    assert b"".join(open_archived_report(archive, "older").chunks) == reports["older"]
    assert archive.find("never-archived") is None
