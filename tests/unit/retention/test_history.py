"""The API's view of the archive: listing pages, downloads, and the 404 of a purged job."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from jobs_api.history import (ArchivedReportNotFound, JobPurged, history_page, job_not_found,
                               open_archived_report)
from retention.purge import purge_job_history
from shared.domain.errors import InvalidField, JobNotFound, NotFound
from shared.settings import Settings
from tests.fakes import collaborators

from .conftest import LONG_AGO, NOW, RETENTION_DAYS
from .seeding import report_bytes, seed_job

BASE = "http://host/api/"
LIST_URL = BASE + "history?api-version=2022-07-31"


@pytest.fixture
def purged(jobs, job_devices, archive):
    """Three jobs purged: ended 45, 46 and 47 days ago; returns their reports by id."""
    reports = {}
    for days_earlier, job_id in enumerate(["newest", "middle", "oldest"]):
        seed_job(jobs, job_devices, job_id, "completed", LONG_AGO - timedelta(days=days_earlier))
        reports[job_id] = report_bytes(jobs, job_devices, job_id)
    purge_job_history(collaborators(jobs=jobs, job_devices=job_devices, archive=archive, clock=lambda: NOW,
                                    settings=Settings(job_history_retention_days=RETENTION_DAYS)))
    return reports


def follow(archive, url: str, page_size: int) -> dict:
    token = parse_qs(urlsplit(url).query)["$skiptoken"][0]
    return history_page(archive, url, BASE, page_size, token)


def test_history_lists_newest_first_in_pages(archive, purged):
    first = history_page(archive, LIST_URL, BASE, page_size=2)
    assert [item["id"] for item in first["value"]] == ["newest", "middle"]
    assert first["nextLink"].startswith(BASE + "history?api-version=2022-07-31&%24skiptoken=")

    second = follow(archive, first["nextLink"], 2)
    assert [item["id"] for item in second["value"]] == ["oldest"] and "nextLink" not in second


def test_a_history_item_carries_the_metadata_and_where_the_report_is(archive, purged):
    item = history_page(archive, LIST_URL, BASE)["value"][0]
    assert item == {
        "id": "newest", "displayName": "Set fan speed", "status": "completed",
        "progress": {"total": 3, "pending": 0, "running": 0, "completed": 3, "failed": 0},
        "createdAt": "2026-10-12T03:00:00Z", "retentionAnchor": "2026-10-12T03:00:00Z",
        "archivedAt": "2026-11-26T03:00:00Z", "report": BASE + "history/newest/report.csv",
        "archive": {"path": "2026/10/newest.csv", "size": len(purged["newest"]),
                    "contentMd5": item["archive"]["contentMd5"]}}


@pytest.mark.parametrize("token", ["garbage!", "aGVsbG8"])  # the second is base64 of "hello"
def test_a_token_we_did_not_issue_is_refused(archive, purged, token):
    with pytest.raises(InvalidField) as refused:
        history_page(archive, LIST_URL, BASE, skip_token=token)
    assert refused.value.field == "$skiptoken"


@pytest.mark.parametrize("size", [0, 1001])
def test_page_size_is_bounded(archive, size):
    with pytest.raises(InvalidField) as refused:
        history_page(archive, LIST_URL, BASE, page_size=size)
    assert refused.value.field == "maxpagesize"


def test_an_archived_report_downloads_as_archived(archive, purged):
    report = open_archived_report(archive, "middle")
    assert b"".join(report.chunks) == purged["middle"]
    assert report.headers["Content-Disposition"] == 'attachment; filename="job-middle.csv"'
    assert report.headers["Content-MD5"] == report.entry.md5_base64


def test_no_archive_is_a_not_found(archive, purged):
    with pytest.raises(ArchivedReportNotFound) as refused:
        open_archived_report(archive, "never-was")
    assert isinstance(refused.value, NotFound) and refused.value.identifier == "never-was"


def test_an_id_that_cannot_be_a_job_is_a_bad_request(archive):
    with pytest.raises(InvalidField) as refused:
        open_archived_report(archive, "bad/id")
    assert refused.value.field == "id"


def test_a_purged_job_is_not_found_with_a_pointer_to_its_archive(archive, purged):
    error = job_not_found("oldest", archive)
    assert isinstance(error, JobPurged) and isinstance(error, JobNotFound)
    assert str(error) == ("Job 'oldest' was not found: it was archived on 2026-11-26 and purged after the retention "
                          "period; its report is at history/oldest/report.csv.")
    assert error.identifier == "oldest"
    assert error.detail(BASE) == {"code": "JobArchived", "message": "The job's results are archived as CSV.",
                                  "target": BASE + "history/oldest/report.csv"}


@pytest.mark.parametrize("job_id", ["never-was", "not an id"])
def test_a_job_never_archived_is_plainly_not_found(archive, purged, job_id):
    error = job_not_found(job_id, archive)
    assert type(error) is JobNotFound and error.identifier == job_id
