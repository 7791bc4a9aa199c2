"""The light transaction codec frames a `$batch` body byte for byte as the Tables SDK does, and
reads the Table service's answers (a success per operation, or the one failed operation)."""
import re

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import DecodeError
from azure.core.pipeline._base import Pipeline
from azure.core.rest import HttpRequest
from azure.data.tables import TableClient, UpdateMode
from azure.data.tables._policies import StorageHeadersPolicy
from azure.data.tables._table_batch import TableBatchOperations

from shared.repositories.table_transactions import batch_body, response_parts

CONNECTION = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
              "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;")


def operations() -> list[HttpRequest]:
    table = TableClient.from_connection_string(CONNECTION, "jobdevices")
    batch = TableBatchOperations(config=table._client._config, endpoint=f"{table.scheme}://{table._primary_hostname}",
                                 table_name="jobdevices")
    batch.add_operation(("create", {"PartitionKey": "job", "RowKey": "d1", "note": "é, \"quoted\"\r\n"}))
    batch.add_operation(("update", {"PartitionKey": "job", "RowKey": "d2", "status": "running"},
                         {"mode": UpdateMode.REPLACE, "etag": 'W/"1"', "match_condition": MatchConditions.IfNotModified}))
    batch.add_operation(("delete", {"PartitionKey": "job", "RowKey": "d3"}))
    return batch.requests


def sdk_body(requests: list[HttpRequest]) -> bytes:
    changeset = HttpRequest("POST", "")
    changeset.set_multipart_mixed(*requests, policies=[StorageHeadersPolicy()], boundary="changeset_1")
    request = HttpRequest("POST", "http://127.0.0.1:10002/devstoreaccount1/$batch")
    request.set_multipart_mixed(changeset, policies=[StorageHeadersPolicy()], enforce_https=False, boundary="batch_1")
    Pipeline(transport=None, policies=[])._prepare_multipart_mixed_request(request)
    request.prepare_multipart_body()
    return request.content


def without_dates(body: bytes) -> bytes:
    return re.sub(rb"(?m)^(x-ms-date|Date): .*\r$", rb"\1: -\r", body)


def test_the_body_is_framed_as_the_sdk_frames_it():
    requests = operations()
    ours = batch_body(requests, "batch_1", "changeset_1")
    assert b"Content-ID: 2" in ours
    assert without_dates(ours) == without_dates(sdk_body(requests))


ANSWER = (
    "--batchresponse_9\r\nContent-Type: multipart/mixed; boundary=changesetresponse_7\r\n\r\n"
    "--changesetresponse_7\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    "HTTP/1.1 201 Created\r\nETag: W/\"datetime'2026-11-26T12%3A00%3A00Z'\"\r\n\r\n\r\n"
    "--changesetresponse_7\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    "HTTP/1.1 204 No Content\r\nEtag: W/\"2\"\r\nDataServiceVersion: 3.0;\r\n\r\n\r\n"
    "--changesetresponse_7--\r\n--batchresponse_9--\r\n")


def test_each_operation_s_answer_is_read_in_order():
    parts = response_parts(ANSWER.encode(), 'multipart/mixed; boundary="batchresponse_9"')
    assert [(part.status_code, part.reason) for part in parts] == [(201, "Created"), (204, "No Content")]
    assert parts[0].headers["etag"] == "W/\"datetime'2026-11-26T12%3A00%3A00Z'\"" and parts[1].headers["ETag"] == 'W/"2"'


def test_a_failed_operation_s_answer_keeps_its_error_body():
    error = '{"odata.error":{"code":"UpdateConditionNotSatisfied","message":{"lang":"en-US","value":"1:No."}}}'
    answer = ("--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: application/http\r\n\r\n"
              "HTTP/1.1 412 Precondition Failed\r\nContent-ID: 1\r\n"
              f"Content-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n{error}\r\n--c--\r\n--b--\r\n")
    [part] = response_parts(answer.encode(), "multipart/mixed; boundary=b")
    assert part.status_code == 412 and part.json()["odata.error"]["code"] == "UpdateConditionNotSatisfied"
    assert part.content_type.startswith("application/json")


def test_an_answer_that_cannot_be_read_is_a_decode_error_not_a_value_error_of_ours():
    with pytest.raises(DecodeError, match="multipart"):
        response_parts(b"{}", "application/json")
    with pytest.raises(DecodeError, match="status line"):
        response_parts(b"--b\r\nContent-Type: application/http\r\n\r\nnot http\r\n--b--\r\n", "multipart/mixed; boundary=b")
