"""The wire: api-version, body limits, JSON, the error shape and the one error mapping."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import azure.functions as func
import pytest
from pydantic import ValidationError

from jobs_api.errors import ApiError, from_exception
from jobs_api.http import (MAX_BODY_BYTES, caller_url, error_response, query, read_body, read_json,
                           require_api_version)
from shared.settings import Settings
from jobs_api.jobs import PlanningUnavailable
from jobs_api.models import JobDefinition
from jobs_api.targets import HubUnavailable, TargetRefused
from shared.domain.errors import (AlreadyExists, ConcurrencyConflict, DeviceGroupNotFound, IllegalTransition,
                                  InvalidField, JobNotFound)


def _request(body: bytes = b"", params: dict | None = None, headers: dict | None = None,
             query_string: str | None = None) -> func.HttpRequest:
    """As the host builds it: the URL carries the query as sent, `params` the values joined by commas."""
    query_string = urlencode(params or {}) if query_string is None else query_string
    url = "http://localhost/api/jobs/j" + (f"?{query_string}" if query_string else "")
    return func.HttpRequest("PUT", url, body=body, params=params or {}, headers=headers or {})


def test_api_version_is_optional_and_only_ours():
    require_api_version(_request())
    require_api_version(_request(params={"api-version": "2022-07-31"}))
    with pytest.raises(ApiError) as refused:
        require_api_version(_request(params={"api-version": "2022-10-31-preview"}))
    assert (refused.value.status, refused.value.target) == (400, "api-version")


def test_a_parameter_repeated_with_one_value_is_that_value():
    # IoT Central's clients append api-version to a nextLink that already has it.
    request = _request(query_string="api-version=2022-07-31&$top=5&api-version=2022-07-31")
    require_api_version(request)
    assert query(request) == {"api-version": "2022-07-31", "$top": "5"}


def test_a_parameter_repeated_with_different_values_is_refused_by_name():
    with pytest.raises(ApiError) as refused:
        query(_request(query_string="api-version=2022-07-31&status=failed&status=completed"))
    assert (refused.value.status, refused.value.target) == (400, "status")


_URL = "http://10.0.0.4:7071/api/jobs?api-version=2022-07-31"


@pytest.mark.parametrize("environ, headers, expected", [
    ({}, {"x-forwarded-proto": "https", "x-forwarded-host": "jobs.contoso.com"}, _URL),  # untrusted: ignored
    ({"TRUST_FORWARDED_HEADERS": "true"}, {"x-forwarded-proto": "https", "x-forwarded-host": "jobs.contoso.com"},
     "https://jobs.contoso.com/api/jobs?api-version=2022-07-31"),
    # The proxy's own entry is the last: what the caller sent before it is not believed.
    ({"TRUST_FORWARDED_HEADERS": "true"}, {"x-forwarded-proto": "http, https", "x-forwarded-host": "evil.com, a.com:8443"},
     "https://a.com:8443/api/jobs?api-version=2022-07-31"),
    ({"TRUST_FORWARDED_HEADERS": "true"}, {"forwarded": 'proto=http;host="evil.com", for=1.2.3.4;proto=https;host="a.com"'},
     "https://a.com/api/jobs?api-version=2022-07-31"),
    ({"TRUST_FORWARDED_HEADERS": "true"}, {"x-forwarded-host": "evil.com/x?y", "x-forwarded-proto": "javascript"},
     _URL),  # not a host, not a scheme: ignored
    ({"TRUST_FORWARDED_HEADERS": "true", "PUBLIC_BASE_URL": "https://iot.contoso.com/fleet/"},
     {"x-forwarded-host": "a.com"}, "https://iot.contoso.com/fleet/api/jobs?api-version=2022-07-31"),
])
def test_links_are_built_from_the_url_the_caller_used(environ, headers, expected):
    assert caller_url(_URL, headers, Settings.from_environ(environ)) == expected


def test_body_size_is_limited_by_header_and_by_length():
    with pytest.raises(ApiError) as too_big:
        read_json(_request(b"{}", headers={"content-length": str(MAX_BODY_BYTES + 1)}))
    assert too_big.value.status == 413
    with pytest.raises(ApiError) as too_long:
        read_json(_request(b" " * (MAX_BODY_BYTES + 1)))
    assert too_long.value.status == 413


@pytest.mark.parametrize("body", [b"", b"   ", b"{", b"\xff", b"{'a': 1}", b'{"v": NaN}', b"[" * 100_000])
def test_malformed_json_is_400_invalid_json(body):
    with pytest.raises(ApiError) as refused:
        read_json(_request(body))
    assert (refused.value.status, refused.value.code) == (400, "InvalidJson")


@pytest.mark.parametrize("body, target", [
    ({"group": "g", "data": [{"type": "property", "path": "p"}], "extra": 1}, "extra"),
    ({"data": [{"type": "property", "path": "p"}]}, "group"),
    ({"group": 5, "data": [{"type": "property", "path": "p"}]}, "group"),
    ({"group": "g", "data": [{"type": "firmware", "path": "p"}]}, "data[0].type"),
    ({"group": "g", "data": [{"type": "command", "path": "p", "responseTimeout": "5"}]}, "data[0].responseTimeout"),
    ({"group": "g", "data": [{"type": "command", "path": "p", "responseTimeout": True}]}, "data[0].responseTimeout"),
])
def test_validation_errors_name_the_field(body, target):
    error = from_exception(_validation_error(body))
    assert (error.status, error.target) == (400, target)
    assert error.details[0]["target"] == target


def test_the_docs_class_names_are_accepted_and_the_spec_names_emitted():
    definition = JobDefinition.model_validate({"group": "g", "data": [{"type": "CommandJobData", "path": "reboot"}]})
    assert definition.data[0].to_operation().type.value == "command"


@pytest.mark.parametrize("error, status, code", [
    (InvalidField("displayName", "too long"), 400, "InvalidRequest"),
    (TargetRefused("devices[0]", "not in group", "DeviceNotInGroup"), 400, "DeviceNotInGroup"),
    (JobNotFound("j"), 404, "NotFound"),
    (DeviceGroupNotFound("g"), 404, "NotFound"),
    (IllegalTransition("job j", "draft", "stop"), 409, "InvalidJobState"),
    (AlreadyExists("Job", "j"), 409, "AlreadyExists"),
    (ConcurrencyConflict("Job", "j"), 412, "PreconditionFailed"),
    (PlanningUnavailable("queue down"), 503, "ServiceUnavailable"),
    (HubUnavailable("hub down"), 503, "ServiceUnavailable"),
    (RuntimeError("secret detail"), 500, "InternalServerError"),
])
def test_each_failure_maps_to_one_status_and_code(error, status, code):
    mapped = from_exception(error)
    assert (mapped.status, mapped.code) == (status, code)
    assert "secret detail" not in mapped.message


def test_the_error_response_has_central_shape_and_header():
    response = error_response(from_exception(JobNotFound("j")))
    body = json.loads(response.get_body())
    assert response.status_code == 404 and response.headers["x-ms-error-code"] == "NotFound"
    assert set(body["error"]) >= {"code", "message", "requestId", "time"}


def test_read_body_refuses_a_body_that_is_not_an_object():
    with pytest.raises(ValidationError):
        read_body(_request(b"[1]"), JobDefinition)


def _validation_error(body: dict) -> ValidationError:
    try:
        JobDefinition.model_validate(body)
    except ValidationError as error:
        return error
    raise AssertionError("the body was accepted")


@pytest.mark.parametrize("kind, continuation", [("position", {"after": [-40, "job-1"]}), ("text", "opaque")])
def test_skip_tokens_round_trip_and_refuse_the_wrong_kind(kind, continuation):
    from jobs_api.paging import decode_token, is_position, is_text
    from shared.tokens import opaque_token

    accepts = is_position if kind == "position" else is_text
    assert decode_token(opaque_token(continuation), accepts) == continuation
    wrong = "opaque" if kind == "position" else {"after": ["a"]}
    for token in ("not-base64!", opaque_token(wrong), opaque_token(True), opaque_token(-1)):
        with pytest.raises(ApiError):
            decode_token(token, accepts)


@pytest.mark.parametrize("url, resource", [
    ("http://h/api/jobs/j1/stop", "jobs/j1"), ("http://h/api/jobs/j1", "jobs/j1"), ("http://h/api/jobs", "jobs"),
    ("http://h/api/jobs/j1/rerun/j2", "jobs/j1"), ("http://h/api/deviceGroups/g1/devices?x=1", "deviceGroups/g1"),
    ("http://h/api/apiTokens/t1", "apiTokens/t1"), ("https://public.example/fleet/api/jobs/new-1", "jobs/new-1"),
])
def test_the_audit_log_names_the_resource_acted_on_not_the_action(url, resource):
    from jobs_api.http import audited_resource
    assert audited_resource(url) == resource
