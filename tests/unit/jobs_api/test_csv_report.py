"""The results CSV: RFC 4180, UTF-8 with BOM, formula starts neutralised (also after `,` and `;`), cells with
`;` quoted, streamed, deterministic; the download's file name."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

from shared.csv_report import DEVICE_COLUMNS, neutralised, report_disposition, report_file_name, write_job_report
from shared.domain.devices import DeviceErrorCode, DeviceStatus, JobDevice
from shared.domain.jobs import Job
from shared.domain.operations import Operation, OperationType
from shared.domain.progress import Progress

AT = datetime(2026, 11, 26, 12, 0, 5, 123456, tzinfo=timezone.utc)


def _job() -> Job:
    operations = [Operation(OperationType.COMMAND, "setFanSpeed", {"speed": 3}),
                  Operation(OperationType.CLOUD_PROPERTY, "note", "-5 degrees, \"cold\"")]
    return Job.draft("job-1", "@evil", "west", operations, AT, description="notes, in one line")


def _devices() -> list[JobDevice]:
    return [JobDevice("job-1", "a,b", DeviceStatus.COMPLETED, updated_at=AT),
            JobDevice("job-1", "=c", DeviceStatus.FAILED, DeviceErrorCode.DEVICE_NOT_FOUND, "+gone", AT),
            JobDevice("job-1", "d\"q", DeviceStatus.FAILED, DeviceErrorCode.DEVICE_NOT_ONLINE, "line one\nline two"),
            JobDevice("job-1", "e", DeviceStatus.PENDING)]


def _parse(chunks) -> list[list[str]]:
    text = "".join(chunks)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_details_then_a_blank_line_then_one_row_per_device():
    rows = _parse(write_job_report(_job(), Progress(4, 1, 0, 1, 2), iter(_devices())))
    blank = rows.index([])
    details = {row[0]: row[1:] for row in rows[:blank]}
    assert details["Job ID"] == ["job-1"] and details["Name"] == ["'@evil"]
    assert details["Description"] == ["notes, in one line"]
    assert details["Operation 1"] == ["command", "setFanSpeed", '{"speed":3}', ""]
    assert details["Operation 2"] == ["cloudProperty", "note", '"-5 degrees, \\"cold\\""', ""]
    assert details["Devices total"] == ["4"] and details["Devices failed"] == ["2"]
    assert details["Created"] == ["2026-11-26T12:00:05Z"] and details["Ended"] == [""]
    assert rows[blank + 1] == list(DEVICE_COLUMNS)
    assert rows[blank + 2:] == [["a,b", "completed", "", "", "2026-11-26T12:00:05Z", "no"],
                                ["'=c", "failed", "DeviceNotFound", "'+gone", "2026-11-26T12:00:05Z", "yes"],
                                ['d"q', "failed", "DeviceNotOnline", "line one\nline two", "", "no"],
                                ["e", "pending", "", "", "", "no"]]


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
    for cell in ("", "vending-0001", "1-2", "a=b", "a; b", "a, -1", "x;y,z"):
        assert neutralised(cell) == cell


@pytest.mark.parametrize("cell, expected", [
    ("safe;=1+2", "safe;'=1+2"),
    ("a,-1", "a,'-1"),
    ("a;;@x", "a;;'@x"),
    ("=a;+b,-c", "'=a;'+b,'-c"),
    ("x;\ty", "x;'\ty"),
    ("x,\ry", "x,'\ry"),
])
def test_a_formula_start_after_a_separator_inside_a_cell_is_neutralised_too(cell, expected):
    assert neutralised(cell) == expected


def test_a_cell_with_a_semicolon_is_quoted_and_no_split_on_semicolons_starts_a_formula():
    job = Job.draft("job-1", "safe;=1+2", "west", [Operation(OperationType.CLOUD_PROPERTY, "note", "a;-1")], AT,
                    description="x;@SUM(A1)")
    devices = [JobDevice("job-1", "dev;1", DeviceStatus.FAILED, DeviceErrorCode.DEVICE_NOT_FOUND, "gone;+1", AT)]
    text = "".join(write_job_report(job, Progress(1, 0, 0, 0, 1), devices))
    lines = text.removeprefix("\ufeff").split("\r\n")
    assert 'Name,"safe;\'=1+2"' in lines
    assert 'Description,"x;\'@SUM(A1)"' in lines
    assert any(line.startswith('"dev;1",failed,DeviceNotFound,"gone;\'+1",') for line in lines)
    # Excel in a `;` locale: every piece a split on `;` yields must not start a formula.
    for line in lines:
        assert all(not piece.startswith(tuple("=+-@\t\r")) for piece in line.split(";")), line
        assert all(not piece.startswith(tuple("=+-@\t\r")) for piece in line.split(",")), line
    rows = _parse(write_job_report(job, Progress(1, 0, 0, 0, 1), devices))
    assert rows[1] == ["Name", "safe;'=1+2"]


def test_the_download_name_is_prefixed_safe_and_short_enough():
    assert report_file_name("CON") == "job-CON.csv"
    assert report_file_name("-rf") == "job--rf.csv"
    assert report_disposition("NUL") == 'attachment; filename="job-NUL.csv"'
    longest = report_file_name("a" * 255)
    assert len(longest) == 255 and longest.startswith("job-a") and longest.endswith(".csv")
    assert report_file_name('a/b\\c"d') == "job-a_b_c_d.csv"


def test_a_job_with_batches_names_each_devices_batch_and_each_batchs_counts():
    from shared.domain.rollout import Rollout, cut_batches
    job = Job.draft("job-2", "Waves", "west", [Operation(OperationType.PROPERTY, "fanSpeed", 3)], AT,
                    batch={"type": "number", "value": 2, "pauseAfterEach": True},
                    cancellation_threshold={"type": "percentage", "value": 10, "batch": True,
                                            "minNumberOfExecutedDevices": 2})
    devices = [JobDevice("job-2", device_id, DeviceStatus.PENDING) for device_id in ("a", "b", "c")]
    batches = list(cut_batches(((device.device_id, device.status) for device in devices), 2))
    rows = _parse(write_job_report(job, Progress(3, 3, rollout=Rollout.starting(batches)), devices, batches))
    details = {row[0]: row[1:] for row in rows[:rows.index([])]}
    assert details["Batch size"] == ["2 devices", "pause after each"]
    assert details["Cancellation threshold"] == ["10%", "per batch", "after 2 outcomes"]
    assert details["Batch 1"] == ["draft", "2 devices", "0 completed", "0 failed", "a to b"]
    assert details["Batch 2"] == ["pending", "1 devices", "0 completed", "0 failed", "c to c"]
    table = rows[rows.index([]) + 1:]
    assert table[0] == list(DEVICE_COLUMNS) + ["Batch"]
    assert [(row[0], row[-1]) for row in table[1:]] == [("a", "1"), ("b", "1"), ("c", "2")]
    plain = _parse(write_job_report(_job(), Progress(4, 1, 0, 1, 2), iter(_devices())))
    assert "Batch" not in plain[plain.index([]) + 1]
