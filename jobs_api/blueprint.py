"""HTTP triggers. Each turns a request into a call of a plain function and its result into a response."""
from __future__ import annotations

import json

import azure.functions as func

from shared.bootstrap import services
from shared.csv_report import report_disposition, write_job_report
from shared.domain import limits
from shared.domain.access import Action
from shared.domain.errors import JobNotFound
from jobs_api import access as access_cases
from jobs_api import groups as group_cases
from jobs_api import jobs as job_cases
from jobs_api import paging
from jobs_api import preview as preview_cases
from jobs_api import scheduled_jobs as schedule_cases
from jobs_api.errors import ApiError
from jobs_api.history import JobPurged, history_page, job_not_found, open_archived_report
from jobs_api.http import (JSON, if_match, json_response, no_content, public_url, query, read_body, read_json,
                           resource_url, respond)
from jobs_api.models import (ApiTokenCollection, ApiTokenRequest, ApiTokenView, AuditCaller, AuditEntryView,
                             AuditLogCollection, Device, DeviceCollection, DeviceGroupCollection, DeviceGroupDefinition,
                             DeviceGroupPatch, DraftRequest, HealthReport, HistoryCollection, JobCollection,
                             JobDefinition, JobDeviceCollection, JobDeviceStatus, JobPatch, RoleAssignmentView,
                             RoleCollection, RoleView, ScheduledJobCollection, ScheduledJobDefinition, UserCollection,
                             UserRequest, UserView)
from jobs_api.openapi import allowed_methods, openapi_document

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    report = HealthReport.model_validate(services().health.report())  # cached: anonymous calls cost nothing
    return json_response(report, status=200 if report.status == "healthy" else 503)


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(openapi_document()), mimetype=JSON)


# Device groups


@bp.route(route="deviceGroups", methods=["GET"])
def device_groups_list(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        return _page_by_key(DeviceGroupCollection, group_cases.list_groups(ctx), group_cases.LIST_ORDER, req)
    return respond(req, Action.READ_GROUPS, action)


@bp.route(route="deviceGroups/{deviceGroupId}", methods=["GET"])
def device_groups_get(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        view = group_cases.get_group(_group_id(req), ctx)
        return json_response(view, etag=view.etag)
    return respond(req, Action.READ_GROUPS, action)


@bp.route(route="deviceGroups/{deviceGroupId}", methods=["PUT"])
def device_groups_put(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        definition = read_body(req, DeviceGroupDefinition)
        view = group_cases.put_group(_group_id(req), definition, if_match(req), ctx)
        return json_response(view, etag=view.etag)
    return respond(req, Action.MANAGE_GROUPS, action)


@bp.route(route="deviceGroups/{deviceGroupId}", methods=["PATCH"])
def device_groups_patch(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        patch = read_body(req, DeviceGroupPatch)
        view = group_cases.patch_group(_group_id(req), patch, if_match(req), ctx)
        return json_response(view, etag=view.etag)
    return respond(req, Action.MANAGE_GROUPS, action)


@bp.route(route="deviceGroups/{deviceGroupId}", methods=["DELETE"])
def device_groups_delete(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        group_cases.delete_group(_group_id(req), if_match(req), ctx)
        return no_content()
    return respond(req, Action.MANAGE_GROUPS, action)


@bp.route(route="deviceGroups/{deviceGroupId}/devices", methods=["GET"])
def device_groups_devices(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        token, size = _continuation(req), paging.page_size(query(req))
        devices, corruption = group_cases.group_devices(_group_id(req), size, token, ctx)
        body = paging.page([Device.of(device).to_json() for device in devices.devices], devices.continuation,
                           public_url(req))
        if corruption:
            body.update(corrupted=True, corruptionReason=corruption)
        return json_response(DeviceCollection.model_validate(body))
    return respond(req, Action.READ_GROUP_DEVICES, action)


# Jobs


@bp.route(route="jobs", methods=["GET"])
def jobs_list(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        return _page_by_key(JobCollection, job_cases.list_jobs(ctx), job_cases.LIST_ORDER, req,
                            view=lambda job: job_cases.view_of(job, ctx))
    return respond(req, Action.READ_JOBS, action)


@bp.route(route="jobs", methods=["POST"])
def jobs_save_draft(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        job = job_cases.save_draft(read_body(req, DraftRequest), ctx)
        return _job_response(job, ctx, status=201, location=resource_url(req, f"jobs/{job.id}"))
    return respond(req, Action.SAVE_DRAFT, action)


@bp.route(route="jobs/{jobId}", methods=["GET"])
def jobs_get(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        job_id = _job_id(req)
        try:
            view = job_cases.get_job(job_id, ctx)
        except JobNotFound:
            raise _missing_job(req, job_id, ctx) from None
        return json_response(view, etag=view.etag)
    return respond(req, Action.READ_JOBS, action)


@bp.route(route="jobs/{jobId}", methods=["PUT"])
def jobs_create(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        definition = read_body(req, JobDefinition)
        return _job_response(job_cases.create_job(_job_id(req), definition, ctx), ctx)
    return respond(req, Action.CREATE_JOB, action)


@bp.route(route="jobs/{jobId}", methods=["PATCH"])
def jobs_edit(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        patch = read_body(req, JobPatch)
        return _job_response(job_cases.edit_draft(_job_id(req), patch, if_match(req), ctx), ctx)
    return respond(req, Action.EDIT_JOB, action)


@bp.route(route="jobs/{jobId}", methods=["DELETE"])
def jobs_delete(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        job_cases.delete_job(_job_id(req), if_match(req), ctx)
        return no_content()
    return respond(req, Action.DELETE_JOB, action)


@bp.route(route="jobs/{jobId}/run", methods=["POST"])
def jobs_run(req: func.HttpRequest) -> func.HttpResponse:
    return respond(req, Action.RUN_JOB, lambda ctx: _job_response(job_cases.run_draft(_job_id(req), if_match(req), ctx), ctx))


@bp.route(route="jobs/{jobId}/preview", methods=["POST"])
def jobs_preview(req: func.HttpRequest) -> func.HttpResponse:
    # A read: it writes nothing, so readers may ask it and it is not audited (jobs_api/preview.py).
    return respond(req, Action.READ_JOBS, lambda ctx: json_response(preview_cases.preview_job(_job_id(req), ctx)))


@bp.route(route="jobs/{jobId}/stop", methods=["POST"])
def jobs_stop(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        job_cases.stop_job(_job_id(req), if_match(req), ctx)
        return no_content()
    return respond(req, Action.STOP_JOB, action)


@bp.route(route="jobs/{jobId}/resume", methods=["POST"])
def jobs_resume(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        job_cases.resume_job(_job_id(req), if_match(req), ctx)
        return no_content()
    return respond(req, Action.RESUME_JOB, action)


@bp.route(route="jobs/{jobId}/copy", methods=["POST"])
def jobs_copy(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        job = job_cases.copy_job(_job_id(req), ctx)
        return _job_response(job, ctx, status=201, location=resource_url(req, f"jobs/{job.id}"))
    return respond(req, Action.COPY_JOB, action)


@bp.route(route="jobs/{jobId}/devices", methods=["GET"])
def jobs_devices(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        params = query(req)
        token, size = _continuation(req), paging.page_size(params)
        devices, batches = job_cases.list_job_devices(_job_id(req), params.get("status"), size, token, ctx)
        body = paging.page([JobDeviceStatus.of(device, batches).to_json()
                            for device in devices.devices],
                           devices.continuation, public_url(req))
        return json_response(JobDeviceCollection.model_validate(body))
    return respond(req, Action.READ_JOB_DEVICES, action)


@bp.route(route="jobs/{jobId}/report.csv", methods=["GET"])
def jobs_report(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        job_id = _job_id(req)
        try:
            job = ctx.jobs.get(job_id)
        except JobNotFound:
            raise _missing_job(req, job_id, ctx) from None
        chunks = write_job_report(job, ctx.job_devices.get_progress(job_id), ctx.job_devices.iter_devices(job_id),
                                  ctx.job_devices.rollout_batches(job_id))
        # The Python worker cannot stream a body, so the chunks are joined here; the writer streams.
        body = "".join(chunks).encode("utf-8")
        headers = {"Content-Disposition": report_disposition(job_id)}
        return func.HttpResponse(body, mimetype="text/csv", charset="utf-8", headers=headers)
    return respond(req, Action.READ_JOB_REPORT, action)


@bp.route(route="jobs/{jobId}/rerun/{rerunId}", methods=["PUT"])
def jobs_rerun(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        rerun_id = req.route_params.get("rerunId", "")
        return _job_response(job_cases.rerun_job(_job_id(req), rerun_id, ctx), ctx)
    return respond(req, Action.RERUN_JOB, action)


# Scheduled jobs (each occurrence runs as a job: dispatcher/scheduling.py starts it)


@bp.route(route="scheduledJobs", methods=["GET"])
def scheduled_jobs_list(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        return _page_by_key(ScheduledJobCollection, schedule_cases.list_scheduled_jobs(ctx),
                            schedule_cases.LIST_ORDER, req, view=lambda job: schedule_cases.view(job, ctx))
    return respond(req, Action.READ_SCHEDULED_JOBS, action)


@bp.route(route="scheduledJobs/{scheduledJobId}", methods=["GET"])
def scheduled_jobs_get(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        view = schedule_cases.read_scheduled_job(_scheduled_job_id(req), ctx)
        return json_response(view, etag=view.etag)
    return respond(req, Action.READ_SCHEDULED_JOBS, action)


@bp.route(route="scheduledJobs/{scheduledJobId}", methods=["PUT"])
def scheduled_jobs_put(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        definition = read_body(req, ScheduledJobDefinition)
        job = schedule_cases.put_scheduled_job(_scheduled_job_id(req), definition, if_match(req), ctx)
        return _scheduled_job_response(job, ctx)
    return respond(req, Action.MANAGE_SCHEDULED_JOBS, action)


@bp.route(route="scheduledJobs/{scheduledJobId}", methods=["PATCH"])
def scheduled_jobs_patch(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        patch = read_json(req)  # application/merge-patch+json or application/json alike
        job = schedule_cases.patch_scheduled_job(_scheduled_job_id(req), patch, if_match(req), ctx)
        return _scheduled_job_response(job, ctx)
    return respond(req, Action.MANAGE_SCHEDULED_JOBS, action)


@bp.route(route="scheduledJobs/{scheduledJobId}", methods=["DELETE"])
def scheduled_jobs_delete(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        schedule_cases.delete_scheduled_job(_scheduled_job_id(req), if_match(req), ctx)
        return no_content()
    return respond(req, Action.MANAGE_SCHEDULED_JOBS, action)


@bp.route(route="scheduledJobs/{scheduledJobId}/jobs", methods=["GET"])
def scheduled_jobs_runs(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        return _page_by_key(JobCollection, schedule_cases.list_runs(_scheduled_job_id(req), ctx),
                            job_cases.LIST_ORDER, req, view=lambda job: job_cases.view_of(job, ctx))
    return respond(req, Action.READ_SCHEDULED_JOBS, action)


# Archived history (jobs purged after the retention period)


@bp.route(route="history", methods=["GET"])
def history_list(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        params = query(req)
        body = history_page(ctx.archive, public_url(req), resource_url(req, ""), paging.page_size(params),
                            params.get(paging.SKIP_TOKEN))
        return json_response(HistoryCollection.model_validate(body))
    return respond(req, Action.READ_HISTORY, action)


@bp.route(route="history/{jobId}/report.csv", methods=["GET"])
def history_report(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        report = open_archived_report(ctx.archive, _job_id(req))
        # The Python worker cannot stream a body; the archive is read in blocks all the same.
        return func.HttpResponse(b"".join(report.chunks), mimetype="text/csv", charset="utf-8",
                                 headers=report.headers)
    return respond(req, Action.READ_HISTORY, action)


# Access: roles, API tokens, users (role assignments), the audit log


@bp.route(route="roles", methods=["GET"])
def roles_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(req, Action.READ_ROLES, lambda ctx: json_response(RoleCollection(
        value=[_role_view(role) for role in access_cases.list_roles()])))


@bp.route(route="roles/{roleId}", methods=["GET"])
def roles_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(req, Action.READ_ROLES,
                   lambda ctx: json_response(_role_view(access_cases.get_role(req.route_params.get("roleId", "")))))


@bp.route(route="apiTokens", methods=["GET"])
def api_tokens_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(req, Action.READ_API_TOKENS, lambda ctx: json_response(ApiTokenCollection(
        value=[_token_view(token) for token in access_cases.list_api_tokens(ctx)])))


@bp.route(route="apiTokens/{tokenId}", methods=["GET"])
def api_tokens_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(req, Action.READ_API_TOKENS,
                   lambda ctx: json_response(_token_view(access_cases.get_api_token(_token_id(req), ctx))))


@bp.route(route="apiTokens/{tokenId}", methods=["PUT"])
def api_tokens_create(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        minted = access_cases.create_api_token(_token_id(req), read_body(req, ApiTokenRequest), ctx)
        response = json_response(_token_view(minted.record, token=minted.token))
        response.headers["Cache-Control"] = "no-store"  # the token is in this answer only; keep it out of caches
        return response
    return respond(req, Action.MANAGE_API_TOKENS, action)


@bp.route(route="apiTokens/{tokenId}", methods=["DELETE"])
def api_tokens_delete(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        access_cases.delete_api_token(_token_id(req), ctx)
        return no_content()
    return respond(req, Action.MANAGE_API_TOKENS, action)


@bp.route(route="users", methods=["GET"])
def users_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(req, Action.READ_USERS, lambda ctx: json_response(UserCollection(
        value=[_user_view(user) for user in access_cases.list_users(ctx)])))


@bp.route(route="users/{userId}", methods=["GET"])
def users_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(req, Action.READ_USERS,
                   lambda ctx: json_response(_user_view(access_cases.get_user(_user_id(req), ctx))))


@bp.route(route="users/{userId}", methods=["PUT"])
def users_put(req: func.HttpRequest) -> func.HttpResponse:
    return respond(req, Action.MANAGE_USERS, lambda ctx: json_response(_user_view(
        access_cases.put_user(_user_id(req), read_body(req, UserRequest), ctx))))


@bp.route(route="users/{userId}", methods=["DELETE"])
def users_delete(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        access_cases.delete_user(_user_id(req), ctx)
        return no_content()
    return respond(req, Action.MANAGE_USERS, action)


@bp.route(route="auditLogs", methods=["GET"])
def audit_logs_list(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        params = query(req)
        entries, following = access_cases.audit_page(paging.page_size(params), _continuation(req),
                                                     params.get("resource"), params.get("caller"), ctx)
        body = paging.page([_audit_view(entry).to_json() for entry in entries], following, public_url(req))
        return json_response(AuditLogCollection.model_validate(body))
    return respond(req, Action.READ_AUDIT_LOGS, action)


def _role_view(role) -> RoleView:
    return RoleView(id=role.id, display_name=role.display_name)


def _token_view(record, token: str | None = None) -> ApiTokenView:
    return ApiTokenView(id=record.id, roles=[RoleAssignmentView(role=role) for role in record.role_ids],
                        expiry=record.expiry, token=token, created_by=record.created_by or None)


def _user_view(user) -> UserView:
    return UserView(id=user.id, type=user.type.value, roles=[RoleAssignmentView(role=role) for role in user.role_ids],
                    email=user.email, tenant_id=user.tenant_id, object_id=user.object_id)


def _audit_view(entry) -> AuditEntryView:
    caller = entry.caller
    return AuditEntryView(id=entry.id, time=entry.time, caller=AuditCaller(
        type=caller.kind.value, id=caller.id, display_name=caller.display_name, roles=list(caller.role_ids)),
        action=entry.action.value, resource=entry.resource, outcome=entry.outcome.value,
        request_id=entry.request_id, code=entry.code)


def _token_id(req: func.HttpRequest) -> str:
    return req.route_params.get("tokenId", "")


def _user_id(req: func.HttpRequest) -> str:
    return req.route_params.get("userId", "")


# Anything else under /api: IoT Central's error shape, never the host's empty 404. Registered
# last and the least specific route, so the host tries every other route first.


@bp.route(route="{*path}", methods=None, auth_level=func.AuthLevel.ANONYMOUS)
def unknown_route(req: func.HttpRequest) -> func.HttpResponse:
    def action(ctx):
        path = (req.route_params.get("path") or "")[:300]
        allowed = allowed_methods(path)
        if allowed:
            raise ApiError(405, "MethodNotAllowed", f"{req.method.upper()} is not allowed on /api/{path}; "
                           f"use {', '.join(allowed)}.", headers={"Allow": ", ".join(allowed)})
        raise ApiError(404, "NotFound", f"/api/{path} is not a resource of this API; see /api/openapi.json.")
    return respond(req, None, action)


def _missing_job(req: func.HttpRequest, job_id: str, ctx) -> Exception:
    """404 for a job the tables do not hold; for a purged one, with a pointer to its archive."""
    error = job_not_found(job_id, ctx.archive)
    if isinstance(error, JobPurged):
        return ApiError(404, "NotFound", str(error), target=job_id, details=[error.detail(resource_url(req, ""))])
    return error


def _job_response(job, ctx, status: int = 200, location: str | None = None) -> func.HttpResponse:
    view = job_cases.view_of(job, ctx)
    return json_response(view, status=status, etag=view.etag, location=location)


def _job_id(req: func.HttpRequest) -> str:
    return limits.validate_job_id(req.route_params.get("jobId", ""), "jobId")


def _scheduled_job_id(req: func.HttpRequest) -> str:
    return limits.validate_job_id(req.route_params.get("scheduledJobId", ""), "scheduledJobId")


def _scheduled_job_response(job, ctx) -> func.HttpResponse:
    view = schedule_cases.view(job, ctx)
    return json_response(view, etag=view.etag)


def _group_id(req: func.HttpRequest) -> str:
    return limits.validate_group_id(req.route_params.get("deviceGroupId", ""), "deviceGroupId")




def _continuation(req: func.HttpRequest) -> str | None:
    return paging.decode_token(query(req).get(paging.SKIP_TOKEN), paging.is_text)


def _page_by_key(collection, items: list, order, req: func.HttpRequest, view=lambda item: item) -> func.HttpResponse:
    """Lists held in memory (groups, the job history window), sorted by `order` and paged by it;
    only the page is turned into views (a job's view reads its progress)."""
    params = query(req)
    position = paging.decode_token(params.get(paging.SKIP_TOKEN), paging.is_position)
    chunk, following = paging.page_by_key(items, order, paging.page_size(params), position)
    body = paging.page([view(item).to_json() for item in chunk], following, public_url(req))
    return json_response(collection.model_validate(body))
