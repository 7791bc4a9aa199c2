"""Keep JOB_HISTORY_RETENTION_DAYS of job history: archive each old job's report to Blob Storage, then purge it.

Old: the job's retention anchor (Job.retention_anchor: its end; for a draft or a stopped job its
last change) is before `now - retention_days`. Pending and running jobs have no anchor and are
never touched.

Per job, every step safe to interrupt and to rerun:
1. No verified archive yet: stream the report (the API's report.csv generator, same reads in the
   same order) to `YYYY/MM/<id>.csv`, check every device row was written (count = progress
   total), read it back and compare size and MD5, then record it (the `by-id` marker). An
   archive recorded by an interrupted run is checked again the same way.
2. Before deleting anything: the job and its counters must still be as archived (ETag and
   progress), and the job is marked as being deleted by a write conditioned on that ETag, so
   nothing (a resume, say) changes it from then on; if it changed, the archive is discarded
   and the next run archives the job afresh.
3. Mark the archive `purging` (from here it is final: a rerun never regenerates it, as the rows
   may be partly gone), delete the device rows and progress row (transactions of 100), then the
   job entity, last, so an interrupted purge is found again by the next run.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.collaborators import Collaborators
from shared.csv_report import write_job_report
from shared.domain.devices import JobDevice
from shared.domain.errors import ConcurrencyConflict, DomainError, JobNotFound
from shared.domain.jobs import Job
from shared.job_archive import PURGING, ArchiveEntry, JobArchive

logger = logging.getLogger(__name__)


class IncompleteRows(DomainError):
    """The job's device rows do not add up to its progress total; nothing is archived from them."""


class RetentionIncomplete(Exception):
    """Some jobs could not be archived or purged; each was logged, and the next run retries them."""


@dataclass
class PurgeSummary:
    cutoff: datetime
    purged: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # changed while being archived: next run
    failed: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"job history: {len(self.purged)} jobs archived and purged, {len(self.changed)} changed meanwhile "
                f"(next run), {len(self.failed)} failed; cutoff {self.cutoff.isoformat()}")


def purge_job_history(c: Collaborators, log: logging.Logger = logger) -> PurgeSummary:
    """Archive, then purge, every job older than JOB_HISTORY_RETENTION_DAYS. Raises
    RetentionIncomplete after the last job if any failed, so the host records the run as failed."""
    now = c.clock()
    summary = PurgeSummary(cutoff=now - timedelta(days=c.settings.job_history_retention_days))
    for job in c.jobs.list_for_retention(summary.cutoff):
        try:
            entry = retire_job(job, now, jobs=c.jobs, job_devices=c.job_devices, archive=c.archive)
        except Exception:  # one job's failure must not keep the others from their purge
            log.exception("job history: job %s was not purged; the next run retries it", job.id)
            summary.failed.append(job.id)
            continue
        _log_job(log, job, entry, summary)
    log.info(summary.line())
    if summary.failed:
        raise RetentionIncomplete(summary.line())
    return summary


def retire_job(job: Job, now: datetime, *, jobs, job_devices, archive: JobArchive) -> ArchiveEntry | None:
    """Archive and purge one old job; None when the job changed meanwhile and was left for the next run."""
    entry = archive.find(job.id)
    if entry is not None and entry.state != PURGING and entry.job_etag != job.etag:
        archive.discard(entry)  # archived, then the job changed before any row was deleted
        entry = None
    if entry is None:
        entry = archive_job(job, now, job_devices=job_devices, archive=archive)
    elif entry.state != PURGING:
        archive.verify(entry)  # recorded by an interrupted run: still there, and whole?
    if entry.state != PURGING and not (unchanged_since_archived(entry, jobs=jobs, job_devices=job_devices)
                                       and claimed_for_purge(entry, jobs=jobs)):
        archive.discard(entry)
        return None
    purge_job(archive.mark_purging(entry), jobs=jobs, job_devices=job_devices)
    return entry


def archive_job(job: Job, now: datetime, *, job_devices, archive: JobArchive) -> ArchiveEntry:
    """Write, check and record the job's report, exactly as the API would answer it now."""
    progress = job_devices.get_progress(job.id)
    devices = CountedRows(job_devices.iter_devices(job.id))
    batches = job_devices.rollout_batches(job.id)
    chunks = (chunk.encode("utf-8") for chunk in write_job_report(job, progress, devices, batches))
    entry = archive.write(job, progress, chunks, now)
    if devices.count != progress.total:
        raise IncompleteRows(f"job {job.id}: {devices.count} device rows, progress total {progress.total}")
    archive.verify(entry)
    return archive.record(entry)


def unchanged_since_archived(entry: ArchiveEntry, *, jobs, job_devices) -> bool:
    try:
        current = jobs.get(entry.job_id)
    except JobNotFound:
        return False  # deleted meanwhile (through the API): nothing left to purge
    return current.etag == entry.job_etag and job_devices.get_progress(entry.job_id) == entry.progress


def claimed_for_purge(entry: ArchiveEntry, *, jobs) -> bool:
    """Mark the job, still exactly as archived, as being deleted: from then on the API refuses
    to change it (a resume now answers 409, not 204 for a job about to vanish). False when it
    changed after it was archived: the next run archives it again."""
    try:
        jobs.change(entry.job_id, lambda job: job.mark_deleting(), if_match=entry.job_etag)
    except (ConcurrencyConflict, JobNotFound):
        return False
    return True


def purge_job(entry: ArchiveEntry, *, jobs, job_devices) -> None:
    """Device rows and progress row first, the job entity last: until it goes, the next run finds the job."""
    job_devices.delete_all(entry.job_id)
    try:
        jobs.delete(entry.job_id)
    except JobNotFound:
        pass  # gone already: an earlier run got this far


class CountedRows:
    """Passes device rows through, counting them."""

    def __init__(self, rows: Iterable[JobDevice]):
        self._rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[JobDevice]:
        for row in self._rows:
            self.count += 1
            yield row


def _log_job(log: logging.Logger, job: Job, entry: ArchiveEntry | None, summary: PurgeSummary) -> None:
    if entry is None:
        summary.changed.append(job.id)
        log.warning("job history: job %s changed while it was archived; the next run archives it again", job.id)
        return
    summary.purged.append(job.id)
    log.info("job history: archived job %s (%s, %d devices, anchor %s) to %s (%d bytes, MD5 %s) and purged it",
             job.id, entry.status, entry.progress.total, entry.anchor.isoformat(), entry.path, entry.size,
             entry.md5_base64)
