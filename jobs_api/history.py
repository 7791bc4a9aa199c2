"""The archived history as the API shows it: plain functions the HTTP routes call.

- `GET /api/history`: `history_page` → `{"value": [...], "nextLink": "..."}`, newest first.
- `GET /api/history/{id}/report.csv`: `open_archived_report` → the archived bytes, streamed.
- `GET /api/jobs/{id}` of a purged job: `job_not_found` → a JobNotFound (404) that points at
  the archive (`JobPurged`), or the plain one when there is no archive.
Errors are domain errors (InvalidField → 400, NotFound → 404), mapped by the API as usual.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from shared.csv_report import report_disposition
from shared.domain import limits
from shared.domain.errors import InvalidField, JobNotFound, NotFound
from shared.job_archive import ArchiveEntry, JobArchive
from shared.tokens import is_service_token, read_opaque_token
from jobs_api.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, SKIP_TOKEN, next_link

_TOKEN_KEY = "history"  # the storage continuation marker is opaque; the key tells ours from noise


class ArchivedReportNotFound(NotFound):
    def __init__(self, job_id: str):
        super().__init__("Archived job", job_id)


class JobPurged(JobNotFound):
    """The job is gone from the tables, but retention archived its report first."""

    def __init__(self, entry: ArchiveEntry):
        super().__init__(entry.job_id)
        self.entry = entry
        self.report_path = report_path(entry.job_id)
        self.args = (f"Job '{entry.job_id}' was not found: it was archived on {entry.archived_at:%Y-%m-%d} and "
                     f"purged after the retention period; its report is at {self.report_path}.",)

    def detail(self, api_base_url: str) -> dict:
        """An error detail naming the archive's URL, for `details` of the 404 body."""
        return {"code": "JobArchived", "message": "The job's results are archived as CSV.",
                "target": api_base_url + self.report_path}


@dataclass(frozen=True)
class ArchivedReport:
    entry: ArchiveEntry
    chunks: Iterator[bytes]  # the CSV exactly as archived (UTF-8 with BOM)

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Disposition": report_disposition(self.entry.job_id), "Content-MD5": self.entry.md5_base64}


def report_path(job_id: str) -> str:
    return f"history/{job_id}/report.csv"


def history_page(archive: JobArchive, request_url: str, api_base_url: str, page_size: int = DEFAULT_PAGE_SIZE,
                 skip_token: str | None = None) -> dict:
    """One page of archived jobs, newest first; `nextLink` is `request_url` with the next $skiptoken."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidField("maxpagesize", f"must be a whole number from 1 to {MAX_PAGE_SIZE}.")
    marker = _decoded_token(skip_token)
    try:
        page = archive.list(page_size, marker)
    except InvalidField:  # a well-formed token that storage refuses
        raise InvalidField(SKIP_TOKEN, "is not valid; use the nextLink of the previous page.") from None
    if marker and not page.entries and not page.continuation_token:
        # Storage hands out a marker while entries follow, so one that leads to nothing was made up
        # (Azurite reads any marker as a blob name to list after) or the history shrank since: 400
        # either way, as for an offset past the end (jobs_api/paging.py).
        raise InvalidField(SKIP_TOKEN, "leads past the end of the history; start again from the first page.")
    body: dict = {"value": [history_item(entry, api_base_url) for entry in page.entries]}
    if page.continuation_token:
        body["nextLink"] = next_link(request_url, {_TOKEN_KEY: page.continuation_token})
    return body


def history_item(entry: ArchiveEntry, api_base_url: str) -> dict:
    return {"id": entry.job_id, "displayName": entry.display_name, "status": entry.status,
            "progress": entry.progress.as_dict(), "createdAt": _iso(entry.created_at),
            "retentionAnchor": _iso(entry.anchor), "archivedAt": _iso(entry.archived_at),
            "report": api_base_url + report_path(entry.job_id),
            "archive": {"path": entry.path, "size": entry.size, "contentMd5": entry.md5_base64}}


def open_archived_report(archive: JobArchive, job_id: str) -> ArchivedReport:
    limits.validate_job_id(job_id)
    entry = archive.find(job_id)
    if entry is None:
        raise ArchivedReportNotFound(job_id)
    return ArchivedReport(entry, archive.read(entry))


def job_not_found(job_id: str, archive: JobArchive) -> JobNotFound:
    """The 404 for a job the tables do not hold: pointing at its archive when there is one."""
    entry = archive.find(job_id) if limits.JOB_ID_PATTERN.fullmatch(job_id) else None
    return JobPurged(entry) if entry else JobNotFound(job_id)


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _decoded_token(token: str | None) -> str | None:
    if not token:
        return None
    return read_opaque_token(token, SKIP_TOKEN, _is_history_token)[_TOKEN_KEY]


def _is_history_token(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {_TOKEN_KEY} and is_service_token(value[_TOKEN_KEY])
