"""The OpenAPI 3.1 document, generated from the request and response models.

The operations are listed here as data; a unit test checks the list against the blueprint's
routes, so neither can drift from the other.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.domain import limits
from jobs_api.http import API_VERSION, API_VERSION_PARAM, MAX_BODY_BYTES
from jobs_api.models import (ApiTokenCollection, ApiTokenRequest, ApiTokenView, AuditLogCollection, DeviceCollection,
                             DeviceGroupCollection, DeviceGroupDefinition, DeviceGroupPatch, DeviceGroupView,
                             DraftRequest, ErrorResponse, HealthReport, HistoryCollection, JobCollection,
                             JobDefinition, JobDeviceCollection, JobPatch, JobView, RoleCollection, RoleView,
                             ScheduledJobCollection, ScheduledJobDefinition, ScheduledJobView, UserCollection,
                             UserRequest, UserView)
from jobs_api.paging import MAX_PAGE_SIZE, SKIP_TOKEN
from jobs_api.preview import JobPreview

_ID_PATTERN = f"^{limits.JOB_ID_PATTERN.pattern}$"


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": _ID_PATTERN}}


_VERSION = _query(API_VERSION_PARAM, {"type": "string", "enum": [API_VERSION]}, "Optional; only this version.")
_PAGING = [_query("maxpagesize", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}, "Page size."),
           _query("$top", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}, "Page size (older name)."),
           _query(SKIP_TOKEN, {"type": "string"}, "From the previous page's nextLink.")]
_IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "The resource's ETag (or *); 412 when it does not match."}
_DEVICE_STATUS = _query("status", {"type": "string", "enum": ["pending", "running", "completed", "failed"]},
                        "Only devices in this status.")


@dataclass(frozen=True)
class ApiOperation:
    method: str
    path: str
    operation_id: str
    summary: str
    status: int
    response: type[BaseModel] | str | None = None  # a model, a media type, or no body
    request: type[BaseModel] | None = None
    parameters: list[dict] = field(default_factory=list)
    also: tuple[int, ...] = ()  # other statuses answered with the success body
    public: bool = False  # answered without a credential
    merge_patch: bool = False  # the body is a JSON merge patch of the resource's definition (RFC 7396)


OPERATIONS = [
    ApiOperation("get", "/health", "Health_Get", "Reachability of the tables, the queues and IoT Hub (503 naming the part that is down)", 200,
                 HealthReport, also=(503,), public=True),
    ApiOperation("get", "/openapi.json", "OpenApi_Get", "This document", 200, "application/json", public=True),
    ApiOperation("get", "/deviceGroups", "DeviceGroups_List", "List device groups", 200, DeviceGroupCollection,
                 parameters=_PAGING),
    ApiOperation("get", "/deviceGroups/{deviceGroupId}", "DeviceGroups_Get", "Get a device group", 200,
                 DeviceGroupView),
    ApiOperation("put", "/deviceGroups/{deviceGroupId}", "DeviceGroups_Create", "Create or replace a device group",
                 200, DeviceGroupView, DeviceGroupDefinition, [_IF_MATCH]),
    ApiOperation("patch", "/deviceGroups/{deviceGroupId}", "DeviceGroups_Update", "Update a device group", 200,
                 DeviceGroupView, DeviceGroupPatch, [_IF_MATCH]),
    ApiOperation("delete", "/deviceGroups/{deviceGroupId}", "DeviceGroups_Remove", "Delete a device group", 204,
                 parameters=[_IF_MATCH]),
    ApiOperation("get", "/deviceGroups/{deviceGroupId}/devices", "DeviceGroups_GetDevices",
                 "The group's devices, as IoT Hub answers its query now", 200, DeviceCollection,
                 parameters=_PAGING),
    ApiOperation("get", "/jobs", "Jobs_List", "Jobs of the history window, newest first", 200,
                 JobCollection, parameters=_PAGING),
    ApiOperation("post", "/jobs", "Jobs_SaveDraft", "Save a draft (server-made id); run it at once with run=true",
                 201, JobView, DraftRequest),
    ApiOperation("get", "/jobs/{jobId}", "Jobs_Get", "Get a job with its progress", 200, JobView),
    ApiOperation("put", "/jobs/{jobId}", "Jobs_Create", "Create a job and run it", 200, JobView, JobDefinition),
    ApiOperation("patch", "/jobs/{jobId}", "Jobs_Update", "Edit a draft", 200, JobView, JobPatch, [_IF_MATCH]),
    ApiOperation("delete", "/jobs/{jobId}", "Jobs_Remove", "Delete a draft, stopped or ended job", 204,
                 parameters=[_IF_MATCH]),
    ApiOperation("post", "/jobs/{jobId}/run", "Jobs_Run", "Run a draft", 200, JobView, parameters=[_IF_MATCH]),
    ApiOperation("post", "/jobs/{jobId}/preview", "Jobs_Preview",
                 "Dry run of a draft (an extension): its targets, the devices a run would refuse and why, those "
                 "offline now, its rollout batches and an estimated duration; nothing is written", 200, JobPreview),
    ApiOperation("post", "/jobs/{jobId}/stop", "Jobs_Stop", "Stop a running job", 204, parameters=[_IF_MATCH]),
    ApiOperation("post", "/jobs/{jobId}/resume", "Jobs_Resume", "Resume a stopped job", 204,
                 parameters=[_IF_MATCH]),
    ApiOperation("post", "/jobs/{jobId}/copy", "Jobs_Copy", 'Copy a job into a new draft "<name> Copy"', 201,
                 JobView),
    ApiOperation("get", "/jobs/{jobId}/devices", "Jobs_GetDevices", "The job's devices and their outcomes", 200,
                 JobDeviceCollection, parameters=[*_PAGING, _DEVICE_STATUS]),
    ApiOperation("put", "/jobs/{jobId}/rerun/{rerunId}", "Jobs_Rerun",
                 "Run the job's operations again, on the devices that failed in it, as a new job rerunId", 200,
                 JobView),
    ApiOperation("get", "/jobs/{jobId}/report.csv", "Jobs_GetReport", "The job's results as CSV", 200, "text/csv"),
    ApiOperation("get", "/scheduledJobs", "ScheduledJobs_List", "List scheduled jobs, by id", 200,
                 ScheduledJobCollection, parameters=_PAGING),
    ApiOperation("get", "/scheduledJobs/{scheduledJobId}", "ScheduledJobs_Get",
                 "Get a scheduled job, with its next runs", 200, ScheduledJobView),
    ApiOperation("put", "/scheduledJobs/{scheduledJobId}", "ScheduledJobs_Create",
                 "Create or replace a scheduled job", 200, ScheduledJobView, ScheduledJobDefinition, [_IF_MATCH]),
    ApiOperation("patch", "/scheduledJobs/{scheduledJobId}", "ScheduledJobs_Update",
                 "Update a scheduled job with a JSON merge patch of its definition", 200, ScheduledJobView,
                 parameters=[_IF_MATCH], merge_patch=True),
    ApiOperation("delete", "/scheduledJobs/{scheduledJobId}", "ScheduledJobs_Remove",
                 "Delete a scheduled job: its future runs never start, its past runs stay", 204,
                 parameters=[_IF_MATCH]),
    ApiOperation("get", "/scheduledJobs/{scheduledJobId}/jobs", "ScheduledJobs_ListJobs",
                 "The scheduled job's runs, newest first", 200, JobCollection, parameters=_PAGING),
    ApiOperation("get", "/history", "History_List",
                 "Jobs archived after the retention period, newest first, with their counts", 200,
                 HistoryCollection, parameters=_PAGING),
    ApiOperation("get", "/history/{jobId}/report.csv", "History_GetReport",
                 "An archived job's results CSV, as archived", 200, "text/csv"),
    ApiOperation("get", "/roles", "Roles_List", "The roles", 200, RoleCollection),
    ApiOperation("get", "/roles/{roleId}", "Roles_Get", "A role", 200, RoleView),
    ApiOperation("get", "/apiTokens", "ApiTokens_List", "The API tokens (never their secrets)", 200,
                 ApiTokenCollection),
    ApiOperation("get", "/apiTokens/{tokenId}", "ApiTokens_Get", "An API token (never its secret)", 200, ApiTokenView),
    ApiOperation("put", "/apiTokens/{tokenId}", "ApiTokens_Create",
                 "Make an API token; the answer carries the token, shown this once", 200, ApiTokenView,
                 ApiTokenRequest),
    ApiOperation("delete", "/apiTokens/{tokenId}", "ApiTokens_Remove", "Revoke an API token at once", 204),
    ApiOperation("get", "/users", "Users_List", "Role assignments of people and service principals", 200,
                 UserCollection),
    ApiOperation("get", "/users/{userId}", "Users_Get", "A role assignment", 200, UserView),
    ApiOperation("put", "/users/{userId}", "Users_Create", "Assign roles to a person (email) or service principal",
                 200, UserView, UserRequest),
    ApiOperation("delete", "/users/{userId}", "Users_Remove", "Remove a role assignment", 204),
    ApiOperation("get", "/auditLogs", "AuditLogs_List",
                 "Every change and every refused request, newest first (an extension)", 200, AuditLogCollection,
                 parameters=[*_PAGING, _query("resource", {"type": "string"}, "Only entries of this resource path."),
                             _query("caller", {"type": "string"}, "Only entries of this caller id.")]),
]

SECURITY_SCHEMES = {
    "apiToken": {"type": "apiKey", "in": "header", "name": "Authorization",
                 "description": "An API token of this app, as IoT Central issues them: "
                                "`SharedAccessSignature sr=<app>&sig=<secret>&skn=<token id>&se=<expiry>`, "
                                "made with PUT /apiTokens/{tokenId}."},
    "entra": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
              "description": "A Microsoft Entra ID access token for the app (ENTRA_TENANT_ID, ENTRA_AUDIENCES); "
                             "the caller's roles are its role assignment (PUT /users/{userId})."},
}


def allowed_methods(path: str) -> list[str]:
    """The methods this API serves at `path` (relative to /api, matched as the host matches routes:
    any case, one segment per path parameter); none for a path it does not serve."""
    segments = path.strip("/").lower().split("/")
    return sorted({operation.method.upper() for operation in OPERATIONS
                   if _matches(operation.path.strip("/").lower().split("/"), segments)})


def _matches(template: list[str], segments: list[str]) -> bool:
    return len(template) == len(segments) and all(
        (part.startswith("{") and segment) or part == segment for part, segment in zip(template, segments))


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    schemas = _component_schemas()
    paths: dict[str, dict] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation_object(operation)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Bulk device jobs", "version": API_VERSION,
                 "description": "IoT Central-compatible jobs and device groups (api-version 2022-07-31), "
                                "plus drafts, copy, explicit device subsets and CSV reports. Request bodies are "
                                f"at most {MAX_BODY_BYTES} bytes. Every operation but the health check and "
                                "this document needs a credential in `Authorization` (401 without one, 403 "
                                "when the caller's roles do not allow the operation)."},
        "servers": [{"url": "/api"}],
        "security": [{"apiToken": []}, {"entra": []}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }


def _operation_object(operation: ApiOperation) -> dict:
    path_names = [part[1:-1] for part in operation.path.split("/") if part.startswith("{")]
    document = {"operationId": operation.operation_id, "summary": operation.summary,
                "parameters": [_path(name) for name in path_names] + [_VERSION, *operation.parameters],
                "responses": {str(status): _success(operation) for status in (operation.status, *operation.also)}}
    document["responses"]["default"] = _error_response()
    if operation.public:
        document["security"] = []
    if operation.merge_patch:
        document["requestBody"] = {"required": True, "content": {
            media: {"schema": {"type": "object"}} for media in ("application/merge-patch+json", "application/json")}}
    if operation.request is not None:
        document["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{operation.request.__name__}"}}}}
    return document


def _success(operation: ApiOperation) -> dict:
    if operation.response is None:
        return {"description": "Done; no body."}
    if isinstance(operation.response, str):
        schema = {"type": "object"} if operation.response.endswith("json") else {"type": "string"}
        return {"description": "The document.", "content": {operation.response: {"schema": schema}}}
    reference = {"$ref": f"#/components/schemas/{operation.response.__name__}"}
    return {"description": "Success.", "content": {"application/json": {"schema": reference}}}


def _error_response() -> dict:
    return {"description": "An error in IoT Central's shape; the code is also in `x-ms-error-code`.",
            "headers": {"x-ms-error-code": {"schema": {"type": "string"}}},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}


def _component_schemas() -> dict:
    requests = {operation.request for operation in OPERATIONS if operation.request is not None}
    responses = {operation.response for operation in OPERATIONS if isinstance(operation.response, type)}
    models = [(model, "validation") for model in sorted(requests, key=lambda m: m.__name__)]
    models += [(model, "serialization") for model in sorted(responses | {ErrorResponse}, key=lambda m: m.__name__)]
    _, schema = models_json_schema(models, by_alias=True, ref_template="#/components/schemas/{model}")
    return schema["$defs"]
