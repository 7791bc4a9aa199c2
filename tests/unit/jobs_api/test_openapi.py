"""The OpenAPI document: valid 3.1, generated from the models, and in step with the blueprint."""
from __future__ import annotations

import azure.functions as func
from openapi_spec_validator import validate

from jobs_api import bp
from jobs_api.openapi import OPERATIONS, allowed_methods, openapi_document


def test_the_document_is_valid_openapi_3_1():
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_route_of_the_blueprint_is_documented_and_nothing_else():
    app = func.FunctionApp()
    app.register_functions(bp)
    triggers = [function.get_trigger() for function in app.get_functions()]
    routes = {(method.value.lower(), "/" + trigger.route) for trigger in triggers for method in trigger.methods or ()}
    assert routes == {(operation.method, operation.path) for operation in OPERATIONS}
    # The one route for every method is the catch-all that answers 404/405 in the error shape.
    assert [trigger.route for trigger in triggers if trigger.methods is None] == ["{*path}"]


def test_allowed_methods_match_paths_as_the_host_does():
    assert allowed_methods("jobs/j1/stop") == ["POST"]
    assert allowed_methods("Jobs/J1") == ["DELETE", "GET", "PATCH", "PUT"]
    assert allowed_methods("deviceGroups") == ["GET"]
    assert allowed_methods("jobs/j1/stop/now") == []
    assert allowed_methods("jobs//stop") == []
    assert allowed_methods("nothing") == []


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
