"""The OpenAPI document is served and valid, and a bounded, seeded schemathesis run against the
live API finds no 5xx and no response that contradicts the document."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from jobs_api.openapi import OPERATIONS as DOCUMENTED
from jobs_api.openapi import openapi_document

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES_PER_OPERATION = 6


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


# schemathesis' own pytest loader (from_fixture) does not run under pytest 9, so each operation
# gets a plain Hypothesis test of its own here.
OPERATIONS = [(operation.method.upper(), operation.path) for operation in DOCUMENTED]


@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_honours_its_document(live_schema, api, method, path):
    operation = live_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case):
        case.call_and_validate(session=api.session, checks=CHECKS, timeout=60)

    call()
