"""The OpenAPI document: valid 3.1, generated from the models, and in step with the blueprint."""
from __future__ import annotations

import azure.functions as func
from openapi_spec_validator import validate

from jobs_api import bp
from jobs_api.openapi import OPERATIONS, openapi_document


def test_the_document_is_valid_openapi_3_1():
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_route_of_the_blueprint_is_documented_and_nothing_else():
    app = func.FunctionApp()
    app.register_functions(bp)
    routes = {(method.value.lower(), "/" + function.get_trigger().route)
              for function in app.get_functions() for method in function.get_trigger().methods}
    assert routes == {(operation.method, operation.path) for operation in OPERATIONS}


def test_request_schemas_forbid_unknown_fields_and_responses_use_the_error_shape():
    schemas = openapi_document()["components"]["schemas"]
    assert schemas["JobDefinition"]["additionalProperties"] is False
    assert set(schemas["JobDefinition"]["required"]) == {"group", "data"}
    assert schemas["JobData"]["properties"]["type"]["enum"][:3] == ["property", "cloudProperty", "command"]
    error = schemas["ErrorInfo"]
    assert set(error["required"]) == {"code", "message"}
    for path_item in openapi_document()["paths"].values():
        for operation in path_item.values():
            assert "default" in operation["responses"]
