"""A job's results as CSV: the job's details, a blank line, then one row per device.

Streamed (one chunk per row, flat memory for any job size) and deterministic, so the API's
`report.csv` and the archive retention writes are byte for byte the same for the same state.

- RFC 4180: comma-separated, CRLF line ends, fields quoted when they hold a comma, quote or
  line break.
- UTF-8 with a byte-order mark: spreadsheets (Excel above all) otherwise read the file in the
  local code page and garble non-ASCII names; csv readers take `encoding="utf-8-sig"`.
- Cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR) get a
  leading apostrophe (OWASP's CSV injection advice). This changes how such a value reads in the
  file, e.g. a device id `=x` appears as `'=x`; the JSON API shows the value unchanged.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from shared.domain.devices import JobDevice
from shared.domain.jobs import Job
from shared.domain.progress import Progress

BOM = "\ufeff"
DEVICE_COLUMNS = ("Device ID", "Status", "Error code", "Error message", "Time", "Deleted")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write_job_report(job: Job, progress: Progress, devices: Iterable[JobDevice]) -> Iterator[str]:
    """The report as text chunks; encode each as UTF-8 (the first one starts with the BOM)."""
    yield BOM + _line(["Job ID", job.id])
    for row in _detail_rows(job, progress):
        yield _line(row)
    yield _line([])
    yield _line(DEVICE_COLUMNS)
    for device in devices:
        yield _line(_device_row(device))


def neutralised(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _detail_rows(job: Job, progress: Progress) -> Iterator[list[str]]:
    yield ["Name", job.display_name]
    yield ["Description", job.description or ""]
    yield ["Device group", job.group_id]
    yield ["Status", job.status.value]
    yield ["Reason", job.reason or ""]
    yield ["Created", _time(job.created_at)]
    yield ["Started", _time(job.started_at)]
    yield ["Ended", _time(job.ended_at)]
    for index, operation in enumerate(job.operations, start=1):
        value = json.dumps(operation.value, ensure_ascii=False, separators=(",", ":"))
        yield [f"Operation {index}", operation.type.value, operation.path, value, operation.target or ""]
    for name, count in progress.as_dict().items():
        yield [f"Devices {name}", str(count)]


def _device_row(device: JobDevice) -> list[str]:
    return [device.device_id, device.status.value, device.error_code.value if device.error_code else "",
            device.error_message or "", _time(device.updated_at), "yes" if device.deleted else "no"]


def _line(cells: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([neutralised(cell) for cell in cells])
    return buffer.getvalue()


def _time(moment: datetime | None) -> str:
    """ISO 8601 in UTC to the second, which spreadsheets recognise as a date and time."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
