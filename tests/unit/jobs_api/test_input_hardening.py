"""Input that used to answer 500 or pass through: page sizes in other scripts' digits, JSON that
no store can take, and `$skiptoken`s that this service never issued."""
from __future__ import annotations

import json

import azure.functions as func
import pytest

from jobs_api.errors import ApiError, from_exception
from jobs_api.history import history_page
from jobs_api.http import read_json
from jobs_api.paging import MAX_PAGE_SIZE, decode_token, is_position, is_text, page, page_by_key, page_size
from shared.domain.errors import InvalidField
from shared.job_archive import InMemoryArchiveStore, JobArchive
from shared.repositories.tables import decode_continuation, encode_continuation
from shared.tokens import MAX_SERVICE_TOKEN_LENGTH, opaque_token

LIST_URL = "http://localhost/api/jobs"


def _request(body: bytes) -> func.HttpRequest:
    return func.HttpRequest("PUT", "http://localhost/api/jobs/j", body=body, headers={})


def _refusal(action) -> ApiError:
    with pytest.raises(Exception) as refused:
        action()
    return from_exception(refused.value)


@pytest.mark.parametrize("raw", ["²", "١٢", "1²", "+5", " 5", "5 ", "", "0", "1001", "0x10", "1e2", "9" * 5000])
@pytest.mark.parametrize("name", ["maxpagesize", "$top"])
def test_a_page_size_that_is_not_ascii_digits_in_range_is_400_naming_the_parameter(name, raw):
    error = _refusal(lambda: page_size({name: raw}))
    assert (error.status, error.code, error.target) == (400, "InvalidRequest", name)


def test_page_sizes_in_range_are_read_and_maxpagesize_wins():
    assert page_size({}) == 100
    assert page_size({"maxpagesize": "1"}) == 1 and page_size({"$top": "0007"}) == 7
    assert page_size({"maxpagesize": str(MAX_PAGE_SIZE), "$top": "3"}) == MAX_PAGE_SIZE


@pytest.mark.parametrize("body, target", [
    (b'{"description": "\\ud800"}', "description"),
    (b'{"data": [{"type": "property", "path": "p", "value": {"a": ["ok", "\\udfff"]}}]}', "data[0].value.a[1]"),
    ('{"displayName": "\ud83d"}'.encode("utf-8", "surrogatepass"), "displayName"),  # raw bytes, not an escape
    (b'{"data": [{"value": {"\\ud800": 1}}]}', "data[0].value"),
    (b'{"data": [{"type": "property", "path": "p", "value": 1e400}]}', "data[0].value"),
    (b'{"data": [{"type": "command", "path": "p", "value": {"n": [-1E999]}}]}', "data[0].value.n[0]"),
])
def test_json_that_cannot_be_stored_or_sent_is_400_naming_its_path(body, target):
    error = _refusal(lambda: read_json(_request(body)))
    assert (error.status, error.code, error.target) == (400, "InvalidRequest", target)
    json.dumps(error.body())  # the answer itself is valid JSON


@pytest.mark.parametrize("body", [b'"\\ud800"', b"1e400", b'["\\udc00"]'])
def test_a_bad_top_level_value_names_the_body(body):
    error = _refusal(lambda: read_json(_request(body)))
    assert error.status == 400 and ("body" in error.message or error.target == "[0]")


def test_ordinary_json_still_reads_including_pairs_of_surrogates():
    body = b'{"v": "\\ud83d\\ude00", "n": 1.5e300, "i": -4}'
    assert read_json(_request(body)) == {"v": "😀", "n": 1.5e300, "i": -4}


@pytest.mark.parametrize("payload", ["a\r\nX-Injected: 1", "line\nbreak", "tab\there", "nul\x00", "é", "\x7f",
                                     "x" * (MAX_SERVICE_TOKEN_LENGTH + 1), ""])
def test_a_continuation_that_no_service_issues_is_refused_before_use(payload):
    error = _refusal(lambda: decode_token(opaque_token(payload), is_text))
    assert (error.status, error.target) == (400, "$skiptoken")


def test_a_continuation_in_a_service_s_shape_is_passed_on():
    hub_like = '{"token":"+RID:~abc==#RT:1#TRC:100","range":{"min":"","max":"FF"}}'
    assert decode_token(opaque_token(hub_like), is_text) == hub_like
    longest = "x" * MAX_SERVICE_TOKEN_LENGTH
    assert decode_token(opaque_token(longest), is_text) == longest


@pytest.mark.parametrize("token", [opaque_token(3), opaque_token([40]), opaque_token({"after": []}),
                                   opaque_token({"after": [True]}), opaque_token({"after": [2.5]}),
                                   opaque_token({"after": ["x" * 1025]}), opaque_token({"after": [1, 2, 3, 4, 5]}),
                                   opaque_token({"after": ["a"], "more": 1}), opaque_token({"after": [["a"]]}),
                                   "QQ" * 10_000, opaque_token(json.loads("[" * 900 + "]" * 900)), "a,b", "=="])
def test_a_position_token_that_was_never_issued_is_refused(token):
    error = _refusal(lambda: decode_token(token, is_position))
    assert (error.status, error.target) == (400, "$skiptoken")


def test_a_position_of_another_shape_than_the_lists_keys_is_refused():
    error = _refusal(lambda: page_by_key(["a", "b"], lambda item: (item,), 1, {"after": [1]}))
    assert (error.status, error.target) == (400, "$skiptoken")


def test_pages_by_key_see_each_item_once_while_items_come_and_go():
    items, key = ["b", "d", "f", "h"], lambda item: (item,)
    first, position = page_by_key(items, key, 2, None)
    assert (first, position) == (["b", "d"], {"after": ["d"]})
    changed = ["a", "c", "f", "g", "h"]  # "a" and "c" made since, "b" and "d" deleted, "g" made after the position
    assert page_by_key(changed, key, 2, position) == (["f", "g"], {"after": ["g"]})
    assert page_by_key(changed, key, 2, {"after": ["g"]}) == (["h"], None)


def test_a_position_past_the_end_is_refused_and_a_first_empty_page_is_not():
    past_end = f"{LIST_URL}?$skiptoken={opaque_token({'after': ['zzz']})}"
    error = _refusal(lambda: page([], None, past_end))
    assert (error.status, error.target) == (400, "$skiptoken")
    assert page([], None, LIST_URL) == {"value": []}
    last_page = f"{LIST_URL}?$skiptoken={opaque_token({'after': ['a']})}"
    assert page([{"id": "b"}], None, last_page) == {"value": [{"id": "b"}]}
    device_list = f"{LIST_URL}/j/devices?$skiptoken={opaque_token('storage-marker')}"
    assert page([], None, device_list) == {"value": []}  # a service's continuation may lead to an empty page


@pytest.mark.parametrize("value", [{"PartitionKey": "p\r\nx", "RowKey": "r"}, {"RowKey": "é"}, {"Other": "x"},
                                   {"PartitionKey": "p", "RowKey": "r", "TableName": "t"}, {}, {"RowKey": None},
                                   {"RowKey": 5}, ["p", "r"], "p"])
def test_a_table_continuation_not_in_the_sdk_s_shape_is_refused(value):
    with pytest.raises(InvalidField):
        decode_continuation(opaque_token(value))


def test_a_table_continuation_round_trips():
    issued = {"PartitionKey": "1!8!am9iLTE-", "RowKey": "1!12!ZGV2LTAwMDAx"}
    assert decode_continuation(encode_continuation(issued)) == issued
    assert decode_continuation(encode_continuation({"RowKey": "dev-2"})) == {"RowKey": "dev-2"}
    assert decode_continuation(encode_continuation({"PartitionKey": "p", "RowKey": None})) == {
        "PartitionKey": "p", "RowKey": None}


@pytest.fixture
def empty_history() -> JobArchive:
    return JobArchive(InMemoryArchiveStore())


@pytest.mark.parametrize("token", [opaque_token({"history": "a\r\nb"}), opaque_token({"history": "é"}),
                                   opaque_token({"history": "m", "more": 1}), opaque_token({"history": ""}),
                                   opaque_token({"history": "zzz"})])
def test_a_history_token_that_was_not_issued_is_refused(empty_history, token):
    error = _refusal(lambda: history_page(empty_history, "http://localhost/api/history", "http://localhost/api/",
                                          skip_token=token))
    assert (error.status, error.target) == (400, "$skiptoken")
