"""Input that once answered 500, hung, or was accepted though it should not be, through HTTP against
the local stack: each is refused at once with IoT Central's error naming the field or parameter,
and a refused request changes nothing."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from azure.storage.blob import BlobServiceClient

from shared.csv_report import write_job_report
from shared.domain.jobs import Job
from shared.domain.operations import Operation, OperationType
from shared.domain.progress import Progress
from shared.job_archive import JobArchive
from shared.tokens import opaque_token

from .conftest import device_filter, job_body, unique

JSON_HEADERS = {"Content-Type": "application/json"}
QUICK = 5.0  # seconds: a refusal needs no retries and no hub call


def _put_raw(api, path: str, body: bytes):
    return api.request("PUT", path, data=body, headers=JSON_HEADERS)


def _refused(response, target: str, code: str = "InvalidRequest") -> dict:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["target"]) == (code, target), error
    assert response.headers["x-ms-error-code"] == code
    return error


@pytest.fixture(scope="module")
def group_id(api) -> str:
    group_id = unique("group")
    body = {"displayName": "Hardening", "filter": device_filter("vending-0001", "vending-0002", "vending-0003")}
    assert api.put(f"deviceGroups/{group_id}", body).status_code == 200
    return group_id


@pytest.fixture(scope="module")
def draft_id(api, group_id) -> str:
    return api.post("jobs", job_body(group_id)).json()["id"]


# Lone surrogates and non-finite numbers: JSON in grammar, but nothing can store or send them.


@pytest.mark.parametrize("template, target", [
    ('{"group": "%s", "description": "\\ud800", "data": [{"type": "property", "path": "p", "value": 1}]}',
     "description"),
    ('{"group": "%s", "data": [{"type": "property", "path": "p", "value": {"a": ["ok", "\\udfff"]}}]}',
     "data[0].value.a[1]"),
    ('{"group": "%s", "data": [{"type": "property", "path": "p", "value": 1e400}]}', "data[0].value"),
    ('{"group": "%s", "data": [{"type": "command", "path": "p", "value": {"speed": -1e400}}]}',
     "data[0].value.speed"),
])
def test_a_job_with_a_lone_surrogate_or_an_infinite_number_is_400_naming_the_value(api, group_id, template, target):
    job_id = unique("job")
    started = time.monotonic()
    _refused(_put_raw(api, f"jobs/{job_id}", (template % group_id).encode()), target)
    assert time.monotonic() - started < QUICK
    assert api.get(f"jobs/{job_id}").status_code == 404


def test_a_lone_surrogate_sent_as_raw_bytes_is_refused_too(api, group_id):
    body = ('{"displayName": "\ud800", "group": "%s", "data": [{"type": "property", "path": "p", "value": 1}]}'
            % group_id).encode("utf-8", "surrogatepass")
    job_id = unique("job")
    _refused(_put_raw(api, f"jobs/{job_id}", body), "displayName")
    assert api.get(f"jobs/{job_id}").status_code == 404


def test_a_draft_edit_or_a_group_with_them_is_refused_and_nothing_changes(api, group_id, draft_id):
    before = api.get(f"jobs/{draft_id}").json()
    patch = b'{"data": [{"type": "property", "path": "p", "value": [1, 1e400]}]}'
    _refused(api.request("PATCH", f"jobs/{draft_id}", data=patch, headers=JSON_HEADERS), "data[0].value[1]")
    assert api.get(f"jobs/{draft_id}").json() == before

    new_group = unique("group")
    body = b'{"displayName": "\\ud83d", "filter": "SELECT * FROM devices"}'
    _refused(_put_raw(api, f"deviceGroups/{new_group}", body), "displayName")
    assert api.get(f"deviceGroups/{new_group}").status_code == 404


# Page sizes: only ASCII digits (str.isdigit takes "²" and other scripts' digits).


LISTS = ["deviceGroups", "jobs", "history", "deviceGroups/{group}/devices", "jobs/{draft}/devices"]


@pytest.mark.parametrize("value", ["²", "١٢", "1²"])
@pytest.mark.parametrize("parameter", ["maxpagesize", "$top"])
@pytest.mark.parametrize("path", LISTS)
def test_a_page_size_in_other_digits_is_400_naming_the_parameter(api, group_id, draft_id, path, parameter, value):
    response = api.get(path.format(group=group_id, draft=draft_id), params={parameter: value})
    _refused(response, parameter)


# $skiptoken: checked in full before use; a token we did not issue is 400 at once.


@pytest.mark.parametrize("continuation", ["abc\r\nX-Injected: 1", "line\nbreak", "é", "x" * 5000, "nul\x00"])
def test_a_hub_continuation_that_iot_hub_would_not_issue_is_400_at_once(api, group_id, continuation):
    started = time.monotonic()
    response = api.get(f"deviceGroups/{group_id}/devices", params={"$skiptoken": opaque_token(continuation)})
    _refused(response, "$skiptoken")
    assert time.monotonic() - started < QUICK


def test_a_made_up_hub_continuation_in_its_shape_is_400_and_real_links_still_page(api, group_id):
    response = api.get(f"deviceGroups/{group_id}/devices", params={"$skiptoken": opaque_token("made-up")})
    _refused(response, "$skiptoken")
    first = api.get(f"deviceGroups/{group_id}/devices", params={"maxpagesize": "2"}).json()
    second = api.session.get(first["nextLink"], timeout=60)
    assert second.status_code == 200, second.text
    seen = [device["id"] for device in first["value"] + second.json()["value"]]
    assert sorted(seen) == ["vending-0001", "vending-0002", "vending-0003"]


@pytest.mark.parametrize("path", ["jobs", "deviceGroups"])
def test_a_position_we_never_issued_is_400_and_every_issued_link_pages_to_the_end(api, group_id, path):
    past_the_end = {"jobs": [-1, "~"], "deviceGroups": ["~~~~"]}[path]  # after every job (group) there is
    for made_up in (10 ** 6, 0, {"after": past_the_end}, {"after": [True]}, {"after": ["x", 1, 2, 3, 4]}):
        _refused(api.get(path, params={"$skiptoken": opaque_token(made_up)}), "$skiptoken")
    api.post("jobs", job_body(group_id))  # at least two jobs and, with group_id, two groups
    api.put(f"deviceGroups/{unique('group')}", {"displayName": "Two", "filter": device_filter("vending-0004")})
    response, pages = api.get(path, params={"maxpagesize": "1"}), 1
    while "nextLink" in response.json():
        response, pages = api.session.get(response.json()["nextLink"], timeout=60), pages + 1
        assert response.status_code == 200, response.text
    assert pages >= 2 and response.json()["value"]


def test_a_table_continuation_that_storage_would_not_issue_is_400(api, draft_id):
    inner = opaque_token({"PartitionKey": "p\r\nx", "RowKey": "r"})
    response = api.get(f"jobs/{draft_id}/devices", params={"$skiptoken": opaque_token(inner)})
    assert response.status_code == 400 and response.json()["error"]["code"] == "InvalidRequest", response.text


@pytest.fixture(scope="module")
def archive(azurite) -> JobArchive:
    archive = JobArchive.in_blob_storage(BlobServiceClient.from_connection_string(azurite.connection_string))
    archive.ensure_container()
    return archive


def _archive_job(archive: JobArchive, job_id: str, ended: datetime) -> None:
    """An archived job, as retention leaves it (written, verified, recorded)."""
    job = Job.draft(job_id, "Archived", "group-1", [Operation(OperationType.PROPERTY, "fanSpeed", 2)], ended)
    job.etag = 'W/"datetime\'2026-01-01T00%3A00%3A00Z\'"'  # what the table gave retention when it read the job
    chunks = (chunk.encode("utf-8") for chunk in write_job_report(job, Progress(), []))
    entry = archive.write(job, Progress(), chunks, ended)
    archive.verify(entry)
    archive.record(entry)


def test_a_made_up_history_marker_is_400_and_issued_links_page(api, archive):
    ended = datetime.now(timezone.utc) - timedelta(days=40)
    for index in range(2):
        _archive_job(archive, unique("archived"), ended - timedelta(minutes=index))
    for marker in ("zzz", "garbage", "a\r\nb", "é"):
        _refused(api.get("history", params={"$skiptoken": opaque_token({"history": marker})}), "$skiptoken")
    response = api.get("history", params={"maxpagesize": "1"})
    assert response.status_code == 200 and "nextLink" in response.json()
    following = api.session.get(response.json()["nextLink"], timeout=60)
    assert following.status_code == 200 and following.json()["value"], following.text


# Control characters in names and descriptions.


@pytest.mark.parametrize("field, text", [("displayName", "bell\x07"), ("displayName", "two\nlines"),
                                         ("displayName", "c1\x85"), ("displayName", "tab\there"),
                                         ("description", "esc\x1b[31m"), ("description", "nul\x00"),
                                         ("description", "tab\tand\nline")])
def test_control_characters_in_names_and_descriptions_are_refused_naming_the_field(api, group_id, field, text):
    job_id = unique("job")
    _refused(api.put(f"jobs/{job_id}", job_body(group_id, **{field: text})), field)
    assert api.get(f"jobs/{job_id}").status_code == 404

    new_group = unique("group")
    group = {"displayName": "Group", "filter": device_filter("vending-0001"), field: text}
    _refused(api.put(f"deviceGroups/{new_group}", group), field)
    assert api.get(f"deviceGroups/{new_group}").status_code == 404
    before = api.get(f"deviceGroups/{group_id}").json()
    _refused(api.patch(f"deviceGroups/{group_id}", {field: text}), field)
    assert api.get(f"deviceGroups/{group_id}").json() == before


def test_a_tab_is_kept_in_descriptions_and_the_csv_neutralises_it_after_a_separator(api, group_id):
    text = "Speed\t3;\tfast"
    draft = api.post("jobs", job_body(group_id, description=text))
    assert draft.status_code == 201, draft.text
    job_id = draft.json()["id"]
    patched = api.patch(f"jobs/{job_id}", {"description": "\t" + text})
    assert patched.status_code == 200 and patched.json()["description"] == "\t" + text, patched.text
    assert api.get(f"jobs/{job_id}").json()["description"] == "\t" + text
    report = api.get(f"jobs/{job_id}/report.csv").content.decode("utf-8-sig")
    assert "\r\nDescription,\"'\tSpeed\t3;'\tfast\"\r\n" in report, report

    new_group = unique("group")
    body = {"displayName": "Group", "filter": device_filter("vending-0001"), "description": text}
    assert api.put(f"deviceGroups/{new_group}", body).json()["description"] == text
    assert api.patch(f"deviceGroups/{new_group}", {"description": text + "\t"}).json()["description"] == text + "\t"
    assert api.get(f"deviceGroups/{new_group}").json()["description"] == text + "\t"


def test_ordinary_unicode_text_is_kept(api, group_id):
    text = "Ventilateur « rapide » 😀 — 温度 ; = + -"
    job = api.post("jobs", job_body(group_id, displayName=text, description=text)).json()
    assert (job["displayName"], job["description"]) == (text, text)


# Filters nested too deeply: refused by the API at once, never left to the hub's parser.


def test_a_filter_nested_600_deep_is_400_naming_filter_at_once(api, group_id):
    nested = "SELECT * FROM devices WHERE " + "(" * 600 + "$id = 'vending-0001'" + ")" * 600
    started = time.monotonic()
    _refused(api.put(f"deviceGroups/{unique('group')}", {"displayName": "Deep", "filter": nested}), "filter")
    _refused(api.patch(f"deviceGroups/{group_id}", {"filter": nested}), "filter")
    assert time.monotonic() - started < QUICK


def test_a_filter_at_the_nesting_limit_works_and_one_deeper_does_not(api):
    def nested(depth: int) -> str:
        return "SELECT * FROM devices WHERE " + "(" * depth + "$id = 'vending-0001'" + ")" * depth

    group = unique("group")
    assert api.put(f"deviceGroups/{group}", {"displayName": "Twenty", "filter": nested(20)}).status_code == 200
    assert [device["id"] for device in api.get(f"deviceGroups/{group}/devices").json()["value"]] == ["vending-0001"]
    _refused(api.put(f"deviceGroups/{unique('group')}", {"displayName": "21", "filter": nested(21)}), "filter")


def test_a_stored_group_nested_too_deeply_reads_as_corrupted_at_once(api, group_table):
    group = unique("group")
    nested = "SELECT * FROM devices WHERE " + "(" * 600 + "tags.a = 1" + ")" * 600
    group_table.create_entity({"PartitionKey": "group", "RowKey": group, "displayName": "Old", "filter": nested})
    started = time.monotonic()
    view = api.get(f"deviceGroups/{group}")
    assert view.status_code == 200 and view.json()["corrupted"] is True, view.text
    devices = api.get(f"deviceGroups/{group}/devices").json()
    assert devices["value"] == [] and devices["corrupted"] is True
    assert time.monotonic() - started < QUICK


# Download names: ids stay as they are; the file name a browser saves is safe.


@pytest.mark.parametrize("job_id", ["CON", "nul", "COM1", "LPT9", "-rf", "a" * 255])
def test_the_report_download_name_is_safe_for_any_id(api, group_id, job_id):
    created = api.put(f"jobs/{job_id}", job_body(group_id))
    assert created.status_code == 200 and created.json()["id"] == job_id, created.text
    response = api.get(f"jobs/{job_id}/report.csv")
    assert response.status_code == 200
    name = _file_name(response.headers["Content-Disposition"])
    assert name == f"job-{job_id}"[:251] + ".csv" and len(name) <= 255  # most file systems' limit


def test_an_archived_report_downloads_under_a_safe_name(api, archive):
    _archive_job(archive, "PRN", datetime.now(timezone.utc) - timedelta(days=40))
    response = api.get("history/PRN/report.csv")
    assert response.status_code == 200, response.text
    assert _file_name(response.headers["Content-Disposition"]) == "job-PRN.csv"


def _file_name(disposition: str) -> str:
    kind, _, name = disposition.partition("; filename=")
    assert kind == "attachment"
    return json.loads(name)
