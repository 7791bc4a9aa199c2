"""GET /api/jobs/{id}/report.csv, parsed back with the csv module."""
from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime, timezone

import pytest
from azure.data.tables import TableServiceClient

from shared.domain.devices import DeviceErrorCode, DeviceOutcome
from shared.repositories import JobDeviceRepository

from .conftest import device_filter, unique


@pytest.fixture
def odd_devices(hub):
    """Two devices whose ids a naive CSV would break: one with a comma, one starting with `=`."""
    suffix = uuid.uuid4().hex[:8]
    device_ids = [f"csv,comma-{suffix}", f"=cmd-{suffix}"]
    manager = hub.registry_manager()
    for device_id in device_ids:
        manager.create_device_with_sas(device_id, None, None, "enabled")
    yield device_ids
    for device_id in device_ids:
        manager.delete_device(device_id)


def test_the_report_parses_back_with_details_and_one_row_per_device(api, azurite, odd_devices):
    group_id = unique("group")
    assert api.put(f"deviceGroups/{group_id}", {"displayName": "Odd ids",
                                                "filter": device_filter(*odd_devices)}).status_code == 200
    body = {"displayName": "=SUM(A1:A9)", "group": group_id, "description": "notes, with a comma",
            "data": [{"type": "cloudProperty", "path": "note", "value": "=HYPERLINK(\"http://x\")"}]}
    job_id = api.post("jobs", body).json()["id"]
    _record_outcomes(azurite, job_id, odd_devices)

    response = api.get(f"jobs/{job_id}/report.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"] == f'attachment; filename="job-{job_id}.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf") and b"\r\n" in response.content

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    details = {row[0]: row[1:] for row in rows[: rows.index([])]}
    assert details["Job ID"] == [job_id]
    assert details["Name"] == ["'=SUM(A1:A9)"]  # neutralised, not a formula
    assert details["Description"] == ["notes, with a comma"]
    assert details["Operation 1"] == ["cloudProperty", "note", json.dumps(body["data"][0]["value"]), ""]
    assert details["Devices total"] == ["2"]

    header_at = rows.index([]) + 1
    assert rows[header_at] == ["Device ID", "Status", "Error code", "Error message", "Time", "Deleted"]
    devices = {row[0]: row for row in rows[header_at + 1:]}
    comma_id, formula_id = odd_devices
    assert set(devices) == {comma_id, "'" + formula_id}
    assert devices[comma_id][1:4] == ["completed", "", ""] and devices[comma_id][5] == "no"
    assert devices["'" + formula_id][1:4] == ["failed", "DeviceNotFound", "'=the device is gone"]
    assert devices["'" + formula_id][5] == "yes"
    datetime.strptime(devices[comma_id][4], "%Y-%m-%dT%H:%M:%SZ")

    listed = {device["id"]: device for device in api.get(f"jobs/{job_id}/devices").json()["value"]}
    assert listed[formula_id]["deleted"] is True and listed[formula_id]["errorCode"] == "DeviceNotFound"
    assert listed[comma_id]["deleted"] is False
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_the_report_of_a_draft_has_details_and_no_device_rows(api, make_group):
    draft = api.post("jobs", {"group": make_group(), "data": [{"type": "command", "path": "reboot"}]}).json()
    rows = list(csv.reader(io.StringIO(api.get(f"jobs/{draft['id']}/report.csv").content.decode("utf-8-sig"))))
    assert rows[0] == ["Job ID", draft["id"]]
    assert rows[-1] == ["Device ID", "Status", "Error code", "Error message", "Time", "Deleted"]


def test_no_cell_starts_a_formula_when_a_semicolon_locale_splits_the_lines(api, azurite, make_group):
    """Excel with `;` as its list separator splits every line at each `;`, quoted or not."""
    body = {"displayName": "safe;=1+2", "group": make_group(), "description": "x;@SUM(A1:A9)",
            "data": [{"type": "cloudProperty", "path": "note", "value": "a;-1"}]}
    job_id = api.post("jobs", body).json()["id"]
    _record_outcomes(azurite, job_id, ["vending-0001", "vending-0002"], message="gone;+1;=2")

    text = api.get(f"jobs/{job_id}/report.csv").content.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert 'Name,"safe;\'=1+2"' in lines and 'Description,"x;\'@SUM(A1:A9)"' in lines
    assert any(line.startswith('vending-0002,failed,DeviceNotFound,"gone;\'+1;\'=2",') for line in lines)
    for line in lines:
        for separator in ";,":
            assert not any(piece.startswith(("=", "+", "-", "@", "\t")) for piece in line.split(separator)), line
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1] == ["Name", "safe;'=1+2"]  # one cell for a comma-separated reader


def _record_outcomes(azurite, job_id: str, device_ids: list[str], message: str = "=the device is gone") -> None:
    """Device rows as the pipeline leaves them, written into a draft the pipeline never touches,
    so the report's rows are known exactly whether or not the pipeline is deployed."""
    now = datetime.now(timezone.utc)
    rows = JobDeviceRepository(TableServiceClient.from_connection_string(azurite.connection_string))
    rows.add_pending(job_id, device_ids, now)
    rows.record_outcomes(job_id, [DeviceOutcome.success(device_ids[0]),
                                  DeviceOutcome.failure(device_ids[1], DeviceErrorCode.DEVICE_NOT_FOUND,
                                                        message)], now)
