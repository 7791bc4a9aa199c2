"""The OpenAPI document is served and valid, and a bounded, seeded schemathesis run against the
live API finds no 5xx and no response that contradicts the document.

Per operation: EXAMPLES_PER_OPERATION cases that follow the document (every check), then
NEGATIVE_EXAMPLES_PER_OPERATION that break it on purpose (no 5xx), and the explicit cases of
EXPLICIT below: input that once answered 500 or hung. FUZZ_SEED (environment) replays a run; the
run's size and seed are printed at the end of the module and recorded as test properties.
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from jobs_api.openapi import OPERATIONS as DOCUMENTED
from jobs_api.openapi import openapi_document
from shared.tokens import opaque_token

from .conftest import device_filter, job_body, unique

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES_PER_OPERATION = 30
NEGATIVE_EXAMPLES_PER_OPERATION = 15
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20261126"))

RUN: dict[str, int] = {"operations": 0, "positive": 0, "negative": 0, "explicit": 0}


def test_the_served_document_is_valid_openapi_3_1(api):
    response = api.get("openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_the_served_document_is_the_generated_one(api):
    assert api.get("openapi.json").json() == openapi_document()


@pytest.fixture(scope="module")
def live_schema(api):
    schema = schemathesis.openapi.from_dict(api.get("openapi.json").json())
    schema.config.update(base_url=api.url("").rstrip("/"))
    return schema


@pytest.fixture(scope="module", autouse=True)
def run_size(request):
    """Prints the run's size and seed once the module is done."""
    yield
    line = (f"schemathesis run: seed {FUZZ_SEED}, {RUN['operations']} operations, "
            f"{RUN['positive']} positive + {RUN['negative']} negative + {RUN['explicit']} explicit cases "
            f"(at most {EXAMPLES_PER_OPERATION} + {NEGATIVE_EXAMPLES_PER_OPERATION} per operation)")
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("\n" + line)


@pytest.fixture(scope="module")
def targets(api) -> dict[str, str]:
    """A group and a draft that exist, so explicit cases reach the hub and the tables."""
    group_id = unique("fuzz-group")
    assert api.put(f"deviceGroups/{group_id}", {"displayName": "Fuzz",
                                                "filter": device_filter("vending-0001", "vending-0002")}).ok
    draft = api.post("jobs", job_body(group_id)).json()
    return {"group": group_id, "job": draft["id"]}


def _explicit(method: str, path: str, targets: dict[str, str]) -> list[dict]:
    """Cases (Case keyword arguments) that once answered 500, hung, or were wrongly accepted."""
    group, job = targets["group"], targets["job"]
    bad_sizes = [{"maxpagesize": "²"}, {"$top": "²"}, {"maxpagesize": "١٢"}]
    lists = {"/deviceGroups": {}, "/jobs": {}, "/history": {},
             "/deviceGroups/{deviceGroupId}/devices": {"deviceGroupId": group},
             "/jobs/{jobId}/devices": {"jobId": job}}
    crafted_tokens = {
        "/deviceGroups": [opaque_token(10 ** 6), opaque_token(0)],
        "/jobs": [opaque_token(10 ** 6), opaque_token(0)],
        "/history": [opaque_token({"history": "zzz"}), opaque_token({"history": "a\r\nb"})],
        "/deviceGroups/{deviceGroupId}/devices": [opaque_token("a\r\nX-Injected: 1"), opaque_token("é"),
                                                  opaque_token("x" * 5000), opaque_token("not-a-hub-token")],
        "/jobs/{jobId}/devices": [opaque_token(opaque_token({"PartitionKey": "p\r\nx", "RowKey": "r"}))],
    }
    nested = "SELECT * FROM devices WHERE " + "(" * 600 + "tags.a = 1" + ")" * 600
    surrogate_job = b'{"group": "%s", "data": [{"type": "property", "path": "p", "value": "\\ud800"}]}' % group.encode()
    infinite_job = b'{"group": "%s", "data": [{"type": "property", "path": "p", "value": 1e400}]}' % group.encode()
    cases: list[dict] = []
    if method == "GET" and path in lists:
        params = lists[path]
        cases += [{"path_parameters": params, "query": query} for query in bad_sizes]
        cases += [{"path_parameters": params, "query": {"$skiptoken": token}} for token in crafted_tokens[path]]
    if (method, path) == ("PUT", "/jobs/{jobId}"):
        cases += [{"path_parameters": {"jobId": unique("fuzz")}, "body": body, "media_type": "application/json"}
                  for body in (surrogate_job, infinite_job)]
        cases.append({"path_parameters": {"jobId": unique("fuzz")}, "body": job_body(group, displayName="a\x07b")})
    if (method, path) == ("POST", "/jobs"):
        cases.append({"body": infinite_job, "media_type": "application/json"})
        cases.append({"body": job_body(group, description="line\nbreak\x85")})
    if (method, path) == ("PATCH", "/jobs/{jobId}"):
        cases.append({"path_parameters": {"jobId": job}, "body": b'{"data": [{"type": "property", "path": "p", '
                                                                   b'"value": {"a": -1e400}}]}',
                      "media_type": "application/json"})
    if (method, path) in (("PUT", "/deviceGroups/{deviceGroupId}"), ("PATCH", "/deviceGroups/{deviceGroupId}")):
        cases.append({"path_parameters": {"deviceGroupId": group}, "body": {"displayName": "x", "filter": nested}})
        cases.append({"path_parameters": {"deviceGroupId": group},
                      "body": {"displayName": "\x1b[31mred", "filter": device_filter("vending-0001")}})
        cases.append({"path_parameters": {"deviceGroupId": group}, "media_type": "application/json",
                      "body": b'{"displayName": "\\udc00", "filter": "SELECT * FROM devices"}'})
    if method == "GET" and path.endswith("/report.csv"):
        cases += [{"path_parameters": {"jobId": job_id}} for job_id in ("CON", "NUL", "COM1", "-rf", "a" * 255)]
    if (method, path) == ("PUT", "/jobs/{jobId}/rerun/{rerunId}"):
        cases.append({"path_parameters": {"jobId": job, "rerunId": "CON"}})
    return cases


# schemathesis' own pytest loader (from_fixture) does not run under pytest 9, so each operation
# gets plain Hypothesis tests of its own here.
OPERATIONS = [(operation.method.upper(), operation.path) for operation in DOCUMENTED]


@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_honours_its_document(live_schema, api, targets, record_property, method, path):
    operation = live_schema[path][method]
    counts = {"positive": 0, "negative": 0, "explicit": 0}

    def run(kind: str, checks):
        def call(case):
            counts[kind] += 1
            case.call_and_validate(session=api.session, checks=checks, timeout=60)
        return call

    options = settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                       suppress_health_check=list(HealthCheck))
    seed(FUZZ_SEED)(given(case=operation.as_strategy())(options(run("positive", CHECKS))))()
    negative = settings(options, max_examples=NEGATIVE_EXAMPLES_PER_OPERATION)
    seed(FUZZ_SEED)(given(case=operation.as_strategy(GenerationMode.NEGATIVE))(
        negative(run("negative", [not_a_server_error]))))()

    # Explicit cases, each with every check.
    explicit = run("explicit", CHECKS)
    for arguments in _explicit(method, path, targets):
        explicit(operation.Case(**arguments))

    RUN["operations"] += 1
    for kind, count in counts.items():
        RUN[kind] += count
        record_property(f"{kind}_cases", count)
    record_property("seed", FUZZ_SEED)
