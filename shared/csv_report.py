"""A job's results as CSV: the job's details, a blank line, then one row per device.

Streamed (one chunk per row, flat memory for any job size) and deterministic, so the API's
`report.csv` and the archive retention writes are byte for byte the same for the same state.

- RFC 4180: comma-separated, CRLF line ends, fields quoted when they hold a comma, quote or
  line break, and also a semicolon: Excel set to a `;` list separator (many European locales)
  splits unquoted cells there.
- UTF-8 with a byte-order mark: spreadsheets (Excel above all) otherwise read the file in the
  local code page and garble non-ASCII names; csv readers take `encoding="utf-8-sig"`.
- Text a spreadsheet would run as a formula (= + - @, tab or CR) gets an apostrophe before it,
  at the start of a cell and right after every `,` or `;` inside one, where a reader that splits
  on that separator (Excel in a `;` locale, a naive split on `,`) starts a new cell (OWASP's CSV
  injection advice). This changes how such a value reads in the file, e.g. a device id `=x`
  appears as `'=x` and `a;-1` as `a;'-1`; the JSON API shows the value unchanged.
- A job with rollout batches gets a detail row per batch and a device column, `Batch`; a job
  with retries the device columns `Attempts` and `Last attempt time`, after it.
- The download's file name is `job-<id>.csv`: the prefix keeps an id that is a reserved device
  name on Windows (CON, NUL, COM1, …, with any extension) or one starting with `-` from breaking
  the saved file.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from shared.domain.devices import JobDevice
from shared.domain.jobs import Job
from shared.domain.progress import Progress
from shared.domain.rollout import RolloutBatch, batch_index_of, batch_statuses

BOM = "\ufeff"
DEVICE_COLUMNS = ("Device ID", "Status", "Error code", "Error message", "Time", "Deleted")
RETRY_COLUMNS = ("Attempts", "Last attempt time")
FORMULA_STARTS = "=+-@\t\r"
SEPARATORS = ",;"
# A formula start at the start of the cell, or right after a separator inside it.
_FORMULA_AFTER_SEPARATOR = re.compile(f"(^|[{re.escape(SEPARATORS)}])(?=[{re.escape(FORMULA_STARTS)}])")
_NEEDS_QUOTES = re.compile(r'[,;"\r\n]')
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9_-]")
MAX_FILE_NAME_LENGTH = 255  # most file systems


def write_job_report(job: Job, progress: Progress, devices: Iterable[JobDevice],
                     batches: list[RolloutBatch] = ()) -> Iterator[str]:
    """The report as text chunks; encode each as UTF-8 (the first one starts with the BOM)."""
    batches = list(batches)
    yield BOM + _line(["Job ID", job.id])
    for row in _detail_rows(job, progress, batches):
        yield _line(row)
    yield _line([])
    yield _line(DEVICE_COLUMNS + (("Batch",) if batches else ()) + (RETRY_COLUMNS if job.retry else ()))
    for device in devices:
        row = _device_row(device)
        if batches:
            index = batch_index_of(batches, device.device_id)
            row.append(str(index + 1) if index is not None else "")
        if job.retry:
            row += [str(device.attempts), _time(device.last_attempt_at)]
        yield _line(row)


def neutralised(cell: str) -> str:
    return _FORMULA_AFTER_SEPARATOR.sub(r"\1'", cell)


def report_file_name(job_id: str) -> str:
    """`job-<id>.csv`, within the length file systems allow. Ids are [a-zA-Z0-9_-] already
    (shared/domain/limits.py); anything else would become `_`."""
    stem = "job-" + _UNSAFE_IN_FILE_NAME.sub("_", job_id)
    return stem[:MAX_FILE_NAME_LENGTH - len(".csv")] + ".csv"


def report_disposition(job_id: str) -> str:
    """The Content-Disposition of a report download."""
    return f'attachment; filename="{report_file_name(job_id)}"'


def _detail_rows(job: Job, progress: Progress, batches: list[RolloutBatch]) -> Iterator[list[str]]:
    yield ["Name", job.display_name]
    yield ["Description", job.description or ""]
    yield ["Device group", job.group_id]
    if job.scheduled_job_id:
        yield ["Scheduled job", job.scheduled_job_id]
    yield ["Status", job.status.value]
    yield ["Reason", job.reason or ""]
    yield ["Created", _time(job.created_at)]
    yield ["Started", _time(job.started_at)]
    yield ["Ended", _time(job.ended_at)]
    for index, operation in enumerate(job.operations, start=1):
        value = json.dumps(operation.value, ensure_ascii=False, separators=(",", ":"))
        yield ([f"Operation {index}", operation.type.value, operation.path, value, operation.target or ""]
               + (["acknowledged"] if operation.acknowledged else []))
    for index, window in enumerate(job.maintenance_windows, start=1):
        yield [f"Maintenance window {index}", window.cron, f"{window.duration_minutes} minutes"]
    if job.maintenance_windows:
        yield ["Maintenance time zone", job.maintenance_time_zone]
    if job.batch:
        yield ["Batch size", _amount(job.batch, "devices")] + (["pause after each"] if job.batch_pauses else [])
    if job.cancellation_threshold:
        threshold = job.cancellation_threshold
        yield (["Cancellation threshold", _amount(threshold, "devices failed"),
                "per batch" if threshold.get("batch") else "whole job"]
               + ([f"after {threshold['minNumberOfExecutedDevices']} outcomes"]
                  if threshold.get("minNumberOfExecutedDevices") else []))
    if job.retry:
        for criterion in job.retry["criteria"]:
            yield ["Retry", criterion["failureType"], f"{criterion['numberOfRetries']} retries"]
        policy = job.retry_policy
        yield ["Retry backoff", f"{policy.initial_seconds:g} s initial", f"{policy.maximum_seconds:g} s maximum"]
    if job.rollout_rate:
        yield ["Rollout rate"] + _rollout_rate(job.rollout_rate)
    if job.timeout:
        yield ["In-progress timeout", f"{job.timeout['inProgressMinutes']} minutes"]
    for name, count in progress.as_dict().items():
        yield [f"Devices {name}", str(count)]
    for batch, status in batch_statuses(batches, progress.rollout, progress, job.status.value):
        yield [f"Batch {batch.index + 1}", status, f"{batch.total} devices", f"{batch.completed} completed",
               f"{batch.failed} failed", f"{batch.first_device_id} to {batch.last_device_id}"]


def _rollout_rate(rate: dict) -> list[str]:
    cells = [f"at most {rate['maximumPerMinute']} devices a minute"] if rate.get("maximumPerMinute") else []
    if ramp := rate.get("exponentialRate"):
        criteria = ramp["rateIncreaseCriteria"]
        every = (f"{criteria['numberOfNotifiedDevices']} devices sent to" if criteria.get("numberOfNotifiedDevices")
                 else f"{criteria['numberOfSucceededDevices']} devices completed")
        cells.append(f"from {ramp['baseRatePerMinute']} a minute, times {ramp['incrementFactor']:g} every {every}")
    return cells


def _amount(setting: dict, unit: str) -> str:
    value = setting["value"]
    return f"{value}%" if setting["type"] == "percentage" else f"{value} {unit}"


def _device_row(device: JobDevice) -> list[str]:
    return [device.device_id, device.status.value, device.error_code.value if device.error_code else "",
            device.error_message or "", _time(device.updated_at), "yes" if device.deleted else "no"]


def _line(cells: Iterable[str]) -> str:
    return ",".join(_field(neutralised(cell)) for cell in cells) + "\r\n"


def _field(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if _NEEDS_QUOTES.search(cell) else cell


def _time(moment: datetime | None) -> str:
    """ISO 8601 in UTC to the second, which spreadsheets recognise as a date and time."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
