"""The results CSV: RFC 4180, UTF-8 with BOM, formula cells neutralised, streamed, deterministic."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from shared.csv_report import DEVICE_COLUMNS, neutralised, write_job_report
from shared.domain.devices import DeviceErrorCode, DeviceStatus, JobDevice
from shared.domain.jobs import Job
from shared.domain.operations import Operation, OperationType
from shared.domain.progress import Progress

AT = datetime(2026, 11, 26, 12, 0, 5, 123456, tzinfo=timezone.utc)


def _job() -> Job:
    operations = [Operation(OperationType.COMMAND, "setFanSpeed", {"speed": 3}),
                  Operation(OperationType.CLOUD_PROPERTY, "note", "-5 degrees, \"cold\"")]
    return Job.draft("job-1", "@evil", "west", operations, AT, description="line one\nline two")


def _devices() -> list[JobDevice]:
    return [JobDevice("job-1", "a,b", DeviceStatus.COMPLETED, updated_at=AT),
            JobDevice("job-1", "=c", DeviceStatus.FAILED, DeviceErrorCode.DEVICE_NOT_FOUND, "+gone", AT),
            JobDevice("job-1", "d\"q", DeviceStatus.PENDING)]


def _parse(chunks) -> list[list[str]]:
    text = "".join(chunks)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_details_then_a_blank_line_then_one_row_per_device():
    rows = _parse(write_job_report(_job(), Progress(3, 1, 0, 1, 1), iter(_devices())))
    blank = rows.index([])
    details = {row[0]: row[1:] for row in rows[:blank]}
    assert details["Job ID"] == ["job-1"] and details["Name"] == ["'@evil"]
    assert details["Description"] == ["line one\nline two"]
    assert details["Operation 1"] == ["command", "setFanSpeed", '{"speed":3}', ""]
    assert details["Operation 2"] == ["cloudProperty", "note", '"-5 degrees, \\"cold\\""', ""]
    assert details["Devices total"] == ["3"] and details["Devices failed"] == ["1"]
    assert details["Created"] == ["2026-11-26T12:00:05Z"] and details["Ended"] == [""]
    assert rows[blank + 1] == list(DEVICE_COLUMNS)
    assert rows[blank + 2:] == [["a,b", "completed", "", "", "2026-11-26T12:00:05Z", "no"],
                                ["'=c", "failed", "DeviceNotFound", "'+gone", "2026-11-26T12:00:05Z", "yes"],
                                ['d"q', "pending", "", "", "", "no"]]


def test_lines_end_with_crlf_and_the_output_is_deterministic():
    first = "".join(write_job_report(_job(), Progress(), _devices()))
    second = "".join(write_job_report(_job(), Progress(), _devices()))
    assert first == second
    assert first.count("\r\n") >= len(_devices()) + 10
    assert "\n" not in first.replace("\r\n", "").replace("line one\nline two", "")


def test_it_streams_one_chunk_per_row_and_reads_devices_lazily():
    consumed = []

    def devices():
        for device in _devices():
            consumed.append(device.device_id)
            yield device

    chunks = write_job_report(_job(), Progress(), devices())
    for _ in range(5):
        next(chunks)
    assert consumed == []


def test_every_formula_start_is_neutralised_and_nothing_else():
    for cell in ("=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralised(cell) == "'" + cell
    for cell in ("", "vending-0001", "1-2", "a=b"):
        assert neutralised(cell) == cell
