"""Every setting the app reads, in one place.

Each field's alias is the app setting (environment variable) it comes from. Storage follows the
Functions convention for the `AzureWebJobsStorage` connection: a connection string locally, or
identity-based `AzureWebJobsStorage__accountName` / `__<service>ServiceUri` settings in Azure.
IoT Hub is reached with a connection string locally, or by host name with a managed identity.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

STORAGE_CONNECTION = "AzureWebJobsStorage"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    storage_connection_string: str | None = Field(None, alias=STORAGE_CONNECTION)
    storage_account_name: str | None = Field(None, alias=f"{STORAGE_CONNECTION}__accountName")
    storage_table_uri: str | None = Field(None, alias=f"{STORAGE_CONNECTION}__tableServiceUri")
    storage_queue_uri: str | None = Field(None, alias=f"{STORAGE_CONNECTION}__queueServiceUri")
    storage_blob_uri: str | None = Field(None, alias=f"{STORAGE_CONNECTION}__blobServiceUri")
    managed_identity_client_id: str | None = Field(None, alias="AZURE_CLIENT_ID")

    iothub_connection_string: str | None = Field(None, alias="IOTHUB_CONNECTION_STRING")
    iothub_host_name: str | None = Field(None, alias="IOTHUB_HOST_NAME")

    # Pacing per operation class for the whole hub, split among the processes sending at once;
    # defaults are one unit of an S1 hub. 0 = no pacing.
    hub_twin_reads_per_second: float = Field(100, ge=0, alias="HUB_TWIN_READS_PER_SECOND")
    hub_twin_updates_per_second: float = Field(50, ge=0, alias="HUB_TWIN_UPDATES_PER_SECOND")
    hub_method_units_per_second: float = Field(40, ge=0, alias="HUB_METHOD_UNITS_PER_SECOND")
    hub_queries_per_minute: float = Field(20, ge=0, alias="HUB_QUERIES_PER_MINUTE")
    hub_max_attempts: int = Field(8, ge=1, le=20, alias="HUB_MAX_ATTEMPTS")
    # A 429 is the hub asking to slow down: a call keeps waiting its turn this long before it fails
    # `Throttled` (below the host's 10-minute functionTimeout, which bounds a sender).
    hub_throttled_wait_seconds: int = Field(300, ge=1, le=540, alias="HUB_THROTTLED_WAIT_SECONDS")

    # Hub calls made for an HTTP caller (group reads and checks, device listings, job checks).
    # Group reads and listings may use this percentage of the query budget; the rest is the
    # pipeline's (planning), which may also use whatever callers leave idle.
    hub_interactive_query_percent: int = Field(25, ge=1, le=100, alias="HUB_INTERACTIVE_QUERY_PERCENT")
    # The most a caller's hub call may take, retries included, before the caller gets a 503.
    hub_interactive_deadline_seconds: int = Field(10, ge=1, le=120, alias="HUB_INTERACTIVE_DEADLINE_SECONDS")
    # How long IoT Hub's verdict on a group filter (accepted or refused) is reused.
    group_check_cache_seconds: int = Field(60, ge=0, le=3600, alias="GROUP_CHECK_CACHE_SECONDS")

    # GET /api/health answers from a result at most this old (it is anonymous: each check costs
    # storage calls and a hub call). 0: check on every call.
    health_cache_seconds: int = Field(30, ge=0, le=3600, alias="HEALTH_CACHE_SECONDS")

    # The pipeline (planner, sender, watchdog).
    dispatch_concurrency: int = Field(32, ge=1, le=256, alias="DISPATCH_CONCURRENCY")
    dispatch_status_check_seconds: int = Field(1, ge=0, le=60, alias="DISPATCH_STATUS_CHECK_SECONDS")
    plan_seconds_per_invocation: int = Field(120, ge=1, le=540, alias="PLAN_SECONDS_PER_INVOCATION")
    dispatch_stall_seconds: int = Field(900, ge=0, le=86400, alias="DISPATCH_STALL_SECONDS")
    # Plan a group's devices from an export of the hub's registry (one jobs operation; sending
    # starts with the first planned page) instead of twin queries, which IoT Hub quotes per minute.
    # Off, or for filters the planner cannot evaluate itself, planning pages through twin queries.
    plan_from_registry_export: bool = Field(True, alias="PLAN_FROM_REGISTRY_EXPORT")

    # Scheduled jobs: when the scheduler's timer ticks (six-field NCRONTAB, UTC; read by the Functions
    # host as %SCHEDULED_JOBS_TIMER_SCHEDULE%, so it must be set), and how late an occurrence may still
    # start (a tick missed, the app down): later than this it is recorded as missed instead.
    scheduled_jobs_timer_schedule: str = Field("0 * * * * *", min_length=1, alias="SCHEDULED_JOBS_TIMER_SCHEDULE")
    scheduled_jobs_grace_minutes: int = Field(15, ge=0, le=1440, alias="SCHEDULED_JOBS_GRACE_MINUTES")

    # Job history: ended jobs older than this are archived to Blob Storage as CSV, then purged.
    job_history_retention_days: int = Field(30, ge=0, le=3650, alias="JOB_HISTORY_RETENTION_DAYS")

    # Links the API writes (nextLink, Location, archive pointers) are absolute. PUBLIC_BASE_URL
    # (for example https://jobs.contoso.com) wins when set; otherwise, with TRUST_FORWARDED_HEADERS,
    # the X-Forwarded-Proto/-Host or Forwarded headers of the reverse proxy in front of the app;
    # otherwise the URL the host saw. Trust forwarded headers only when every request passes
    # through that proxy: anyone reaching the app directly could set them.
    public_base_url: str | None = Field(None, alias="PUBLIC_BASE_URL")
    trust_forwarded_headers: bool = Field(False, alias="TRUST_FORWARDED_HEADERS")

    # Access (shared/access). API tokens name the app they are for (`sr=`): in Azure, the Function
    # App's name, which the platform sets as WEBSITE_SITE_NAME.
    app_name: str = Field("bulk-jobs", min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._-]+$", alias="APP_NAME")
    # Microsoft Entra ID bearer tokens are accepted when a tenant is set: their audience must be one
    # of ENTRA_AUDIENCES (the app registration's client id or Application ID URI, comma-separated).
    entra_tenant_id: str | None = Field(None, alias="ENTRA_TENANT_ID")
    entra_audiences: str | None = Field(None, alias="ENTRA_AUDIENCES")
    entra_jwks_url: str | None = Field(None, alias="ENTRA_JWKS_URL")  # default: the tenant's published keys
    # Principals (object ids in ENTRA_TENANT_ID, comma-separated) who are Administrators whatever the
    # role assignments say: the deployment's first administrator, so that none is made by default.
    entra_administrators: str | None = Field(None, alias="ENTRA_ADMINISTRATORS")
    # The console's sign-in with Entra ID in the browser (authorization code flow with PKCE), with
    # ENTRA_TENANT_ID: the client id of its app registration (a single-page application whose redirect
    # URI is the console's URL) and the API scope it asks for (such as api://bulk-jobs/user_impersonation,
    # which must give tokens an audience in ENTRA_AUDIENCES). Unset: the console signs in with API tokens only.
    entra_console_client_id: str | None = Field(None, alias="ENTRA_CONSOLE_CLIENT_ID")
    entra_console_scope: str | None = Field(None, alias="ENTRA_CONSOLE_SCOPE")
    # Where the browser signs in: Entra's global cloud unless a national cloud (or, in tests, a local
    # stand-in) is meant; its /<tenant>/oauth2/v2.0/authorize and /token endpoints are used.
    entra_login_url: str = Field("https://login.microsoftonline.com", alias="ENTRA_LOGIN_URL")
    # App Service Authentication in front of the app: its X-MS-CLIENT-PRINCIPAL header names the
    # caller. Only where it is on (App Service then drops that header from callers): elsewhere anyone can send it.
    trust_easy_auth: bool = Field(False, alias="TRUST_EASY_AUTH")
    # Requests per second each caller may make (IoT Central allows 20), with bursts up to the burst size.
    api_requests_per_second: float = Field(20, gt=0, le=10_000, alias="API_REQUESTS_PER_SECOND")
    api_request_burst: int = Field(40, ge=1, le=100_000, alias="API_REQUEST_BURST")
    # The audit log outlives the job history.
    audit_retention_days: int = Field(90, ge=1, le=3650, alias="AUDIT_RETENTION_DAYS")

    # What one app holds at most, so that one client cannot fill it (0: no limit).
    max_active_jobs: int = Field(100, ge=0, alias="MAX_ACTIVE_JOBS")  # pending, running or stopped
    max_draft_jobs: int = Field(1000, ge=0, alias="MAX_DRAFT_JOBS")
    max_device_groups: int = Field(1000, ge=0, alias="MAX_DEVICE_GROUPS")

    @field_validator("public_base_url")
    @classmethod
    def _absolute_base(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("PUBLIC_BASE_URL must be an absolute http(s) URL without query, such as "
                             "https://jobs.contoso.com")
        return value.rstrip("/")

    @field_validator("entra_login_url")
    @classmethod
    def _login_origin(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("ENTRA_LOGIN_URL must be an absolute http(s) URL, such as https://login.microsoftonline.com")
        return value.rstrip("/")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        source = os.environ if environ is None else environ
        # An empty app setting means "not set", as it does for the Functions host.
        values = {key: value for key, value in source.items() if value != ""}
        if "APP_NAME" not in values and "WEBSITE_SITE_NAME" in values:
            values["APP_NAME"] = values["WEBSITE_SITE_NAME"]
        return cls.model_validate(values)

    @staticmethod
    def listed(value: str | None) -> tuple[str, ...]:
        """A comma-separated setting's entries."""
        return tuple(part.strip() for part in (value or "").split(",") if part.strip())

    def storage_service_uri(self, service: str) -> str | None:
        """The identity-based endpoint of `service` (table, queue or blob), if configured."""
        explicit = getattr(self, f"storage_{service}_uri")
        if explicit:
            return explicit
        if self.storage_account_name:
            return f"https://{self.storage_account_name}.{service}.core.windows.net"
        return None
