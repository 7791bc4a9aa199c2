"""Request and response bodies, as IoT Central (api-version 2022-07-31) shapes them.

Requests forbid unknown fields and coerce nothing (a number is not a string), so a malformed
body is a 400 naming the field. Responses are what the OpenAPI document describes.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator,
                      model_validator)
from pydantic.alias_generators import to_camel

from shared.domain import limits, retries
from shared.domain.devices import JobDevice
from shared.domain.groups import DeviceGroup
from shared.domain.jobs import Actor, Job
from shared.domain.operations import Operation, parse_operation_type
from shared.domain.progress import Progress
from shared.domain.rollout import RolloutBatch, batch_index_of, batch_statuses
from shared.domain.scheduled_jobs import ScheduledJob
from shared.domain.schedules import (MAX_CRON_LENGTH, MAX_MAINTENANCE_WINDOWS, MAX_WINDOW_MINUTES, MaintenanceWindow,
                                     Schedule)
from shared.hub_gateway import DeviceSummary

# The spec's type names, then the class names IoT Central's docs use in examples.
OperationTypeName = Literal["property", "cloudProperty", "command",
                            "PropertyJobData", "CloudPropertyJobData", "CommandJobData"]
Number = StrictInt | StrictFloat


# Checked by the domain (shared/domain/limits.py), which names the field; here for the document.
_TEXT = {"pattern": limits.NO_CONTROL_CHARACTERS}
_FREE_TEXT = {"pattern": limits.NO_CONTROL_CHARACTERS_BUT_TAB}
_ORGANIZATIONS = {"maxItems": limits.MAX_ORGANIZATIONS}
_ORGANIZATIONS_TEXT = ("IoT Central's organization of the resource (at most one). Recorded, returned and copied; "
                       "it does not narrow the devices (IoT Hub devices have no organization).")


class RequestModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", strict=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_json(self) -> dict:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class JobData(RequestModel):
    type: OperationTypeName
    path: StrictStr = Field(description="`name`, or `component.name` for a component's property or command.")
    value: Any = Field(None, description="The property value or the command payload.")
    target: StrictStr | None = Field(None, description="A device template id (dtmi:… or IoT Central's urn:…); "
                                                    "devices of another model fail.")
    response_timeout: StrictInt | None = Field(None, description="Commands only: seconds, 5-300 (default 30).")
    connect_timeout: StrictInt | None = Field(None, description="Commands only: seconds, 0-300 (default 0).")
    completion: Literal["written", "acknowledged"] | None = Field(
        None, description="Properties only, ours: `acknowledged` counts the device completed only once its reported "
                          "properties acknowledge the value (IoT Plug and Play `ac`/`av`/`ad`); left out: `written`, "
                          "completed once the hub stored it.")

    def to_operation(self) -> Operation:
        return Operation(type=parse_operation_type(self.type), path=self.path, value=self.value, target=self.target,
                         response_timeout_seconds=self.response_timeout, connect_timeout_seconds=self.connect_timeout,
                         completion=self.completion)


class JobBatch(RequestModel):
    """Send to the job's devices in batches of `value` devices (or `value` % of them), in device
    id order; a batch starts once every device of the one before it has an outcome."""
    type: Literal["number", "percentage"]
    value: Number
    pause_after_each: StrictBool | None = Field(
        None, description="Ours (after hawkBit's rollout pause): the job stops after each batch, with a reason "
                          "saying which; resuming it sends to the next batch. Left out: false.")

    @model_validator(mode="after")
    def _in_range(self) -> "JobBatch":
        if self.type == "number" and (self.value != int(self.value) or self.value < 1):
            raise ValueError("value must be a whole number of devices, at least 1")
        if self.type == "percentage" and not 0 < self.value <= 100:
            raise ValueError("value must be more than 0 and at most 100 for a percentage")
        return self


class JobCancellationThreshold(RequestModel):
    """Cancel the job once more devices failed than `value` (a number of devices, or a
    percentage of the job's devices); `batch` true applies it to each batch on its own."""
    type: Literal["number", "percentage"]
    value: Number
    batch: StrictBool = False
    min_number_of_executed_devices: StrictInt | None = Field(
        None, ge=1, description="Ours (after AWS IoT Jobs' minNumberOfExecutedThings): no cancellation before "
                                "this many of the job's devices have an outcome, so a few early failures do not "
                                "stop a large job. Left out: from the first outcome.")

    @field_validator("batch", mode="before")
    @classmethod
    def _client_string(cls, value: object) -> object:
        # The Azure CLI (`az iot central job create --cancellation-threshold`) sends "true"/"false".
        return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _in_range(self) -> "JobCancellationThreshold":
        if self.value < 0 or (self.type == "percentage" and self.value > 100):
            raise ValueError("value must be at least 0, and at most 100 for a percentage")
        return self


class RetryCriterion(RequestModel):
    """Failures of this class are tried again up to `numberOfRetries` times (`all`: every class
    not listed on its own). Commands are tried again only after failures that prove the device did
    not run them (DeviceNotOnline, Throttled), after DeviceRejected only when it is listed by name,
    never after Timeout."""
    failure_type: Literal[retries.FAILURE_TYPES]
    number_of_retries: StrictInt = Field(ge=0, le=retries.MAX_RETRIES)


class RetryBackoff(RequestModel):
    """The wait before retry n doubles from `initialSeconds` up to `maximumSeconds`, then a random
    part of it is taken off (jitter), so devices that failed together do not come back together."""
    initial_seconds: StrictInt = Field(retries.DEFAULT_INITIAL_SECONDS, ge=1, le=retries.MAX_BACKOFF_SECONDS)
    maximum_seconds: StrictInt = Field(retries.MAX_BACKOFF_SECONDS, ge=1, le=retries.MAX_BACKOFF_SECONDS)

    @model_validator(mode="after")
    def _ordered(self) -> "RetryBackoff":
        if self.maximum_seconds < self.initial_seconds:
            raise ValueError("maximumSeconds must be at least initialSeconds")
        return self


class JobRetry(RequestModel):
    """Ours (after AWS IoT Jobs' jobExecutionsRetryConfig): devices that fail with a listed
    class are tried again later instead of failing; each device row shows its `attempts`."""
    criteria: list[RetryCriterion] = Field(min_length=1, max_length=len(retries.FAILURE_TYPES))
    backoff: RetryBackoff | None = None

    @field_validator("criteria")
    @classmethod
    def _each_class_once(cls, criteria: list[RetryCriterion]) -> list[RetryCriterion]:
        named = [criterion.failure_type for criterion in criteria]
        twice = sorted({name for name in named if named.count(name) > 1})
        if twice:
            raise ValueError(f"failureType {twice[0]} is listed more than once")
        return criteria


class JobTimeout(RequestModel):
    """Ours (after AWS IoT Jobs' timeoutConfig): how long a device may be in progress."""
    in_progress_minutes: StrictInt = Field(ge=1, le=limits.MAX_IN_PROGRESS_MINUTES, description=(
        "From the device's last attempt to its outcome; past it the device fails with Timeout. It bounds above all "
        "the wait for an acknowledgement (`completion: acknowledged`; without a timeout that wait is at most "
        f"{limits.DEFAULT_ACKNOWLEDGEMENT_MINUTES} minutes); a single hub call ends sooner by its own timeout."))


class RolloutRateIncrease(RequestModel):
    """When the exponential rate grows: after every this many devices were sent to (notified) or
    completed (succeeded). Exactly one of the two."""
    number_of_notified_devices: StrictInt | None = Field(None, ge=1, le=limits.MAX_ROLLOUT_RATE_PER_MINUTE * 60)
    number_of_succeeded_devices: StrictInt | None = Field(None, ge=1, le=limits.MAX_ROLLOUT_RATE_PER_MINUTE * 60)

    @model_validator(mode="after")
    def _one(self) -> "RolloutRateIncrease":
        if (self.number_of_notified_devices is None) == (self.number_of_succeeded_devices is None):
            raise ValueError("give exactly one of numberOfNotifiedDevices and numberOfSucceededDevices")
        return self


class ExponentialRolloutRate(RequestModel):
    """Start at `baseRatePerMinute`, multiplied by `incrementFactor` each time the criteria are met."""
    base_rate_per_minute: StrictInt = Field(ge=1, le=limits.MAX_ROLLOUT_RATE_PER_MINUTE)
    increment_factor: Number = Field(ge=1.1, le=5)
    rate_increase_criteria: RolloutRateIncrease


class JobRolloutRate(RequestModel):
    """Ours (after AWS IoT Jobs' jobExecutionsRolloutConfig): how many devices the job starts per
    minute, on top of the hub-wide pacing and across every instance sending it."""
    maximum_per_minute: StrictInt | None = Field(None, ge=1, le=limits.MAX_ROLLOUT_RATE_PER_MINUTE,
                                                 description="The most devices started in a minute; with "
                                                             "exponentialRate, the rate it grows to.")
    exponential_rate: ExponentialRolloutRate | None = None

    @model_validator(mode="after")
    def _some_rate(self) -> "JobRolloutRate":
        if self.maximum_per_minute is None and self.exponential_rate is None:
            raise ValueError("give maximumPerMinute, exponentialRate or both")
        if (self.maximum_per_minute is not None and self.exponential_rate is not None
                and self.exponential_rate.base_rate_per_minute > self.maximum_per_minute):
            raise ValueError("exponentialRate.baseRatePerMinute must be at most maximumPerMinute")
        return self


_WINDOWS_TEXT = ("Ours (after AWS IoT Jobs' maintenanceWindows): devices are sent to only while one of these "
                 "windows is open; outside them the job waits (running, with a reason saying until when). "
                 "Left out: always.")
_WINDOWS = {"maxItems": MAX_MAINTENANCE_WINDOWS}
_ZONE_TEXT = "The IANA zone the windows' cron times are read in (ours; UTC when left out)."
_ZONE_VIEW_TEXT = "The IANA zone the windows' cron times are read in (ours; shown with windows)."


class MaintenanceWindowDefinition(RequestModel):
    """Opens at each time `cron` names, for `durationMinutes`; a device started before it
    closes finishes."""
    cron: StrictStr = Field(description="5 fields: minute hour day-of-month month day-of-week, such as '0 2 * * SUN'.",
                            max_length=MAX_CRON_LENGTH)
    duration_minutes: StrictInt = Field(ge=1, le=MAX_WINDOW_MINUTES)

    def to_window(self) -> MaintenanceWindow:
        return MaintenanceWindow(self.cron, self.duration_minutes)


class JobDefinition(RequestModel):
    """The body of `PUT /jobs/{id}` (create and run), IoT Central's Job plus `devices`."""

    display_name: StrictStr | None = Field(None, max_length=limits.MAX_DISPLAY_NAME_LENGTH, json_schema_extra=_TEXT)
    description: StrictStr | None = Field(None, max_length=limits.MAX_DESCRIPTION_LENGTH, json_schema_extra=_FREE_TEXT)
    group: StrictStr = Field(description="The device group's id.")
    data: list[JobData] = Field(min_length=1, max_length=limits.MAX_OPERATIONS_PER_JOB)
    devices: list[StrictStr] | None = Field(None, description="An explicit subset of the group's devices.",
                                            max_length=limits.MAX_EXPLICIT_DEVICES)
    batch: JobBatch | None = None
    cancellation_threshold: JobCancellationThreshold | None = None
    retry: JobRetry | None = None
    rollout_rate: JobRolloutRate | None = None
    timeout: JobTimeout | None = None
    organizations: list[StrictStr] | None = Field(None, description=_ORGANIZATIONS_TEXT,
                                                  json_schema_extra=_ORGANIZATIONS)
    maintenance_windows: list[MaintenanceWindowDefinition] | None = Field(None, description=_WINDOWS_TEXT,
                                                                          json_schema_extra=_WINDOWS)
    maintenance_time_zone: StrictStr | None = Field(None, description=_ZONE_TEXT)

    def to_job(self, job_id: str, now: datetime) -> Job:
        return Job.draft(job_id, self.display_name or job_id, self.group, [item.to_operation() for item in self.data],
                         now, **self.optional_fields())

    def optional_fields(self) -> dict:
        return {"description": self.description,
                "devices": tuple(self.devices) if self.devices is not None else None,
                "batch": _dumped(self.batch), "cancellation_threshold": _dumped(self.cancellation_threshold),
                "retry": _dumped(self.retry), "rollout_rate": _dumped(self.rollout_rate),
                "timeout": _dumped(self.timeout),
                "organizations": tuple(self.organizations) if self.organizations is not None else None,
                **_maintenance(self.maintenance_windows, self.maintenance_time_zone)}


class DraftRequest(JobDefinition):
    """The body of `POST /jobs`: a draft with a server-made id, run at once when `run` is true."""

    run: StrictBool = False


class JobPatch(RequestModel):
    """`PATCH /jobs/{id}` of a draft: fields given replace the stored ones; `devices: null` drops the subset."""

    display_name: StrictStr | None = Field(None, max_length=limits.MAX_DISPLAY_NAME_LENGTH, json_schema_extra=_TEXT)
    description: StrictStr | None = Field(None, max_length=limits.MAX_DESCRIPTION_LENGTH, json_schema_extra=_FREE_TEXT)
    group: StrictStr | None = None
    data: list[JobData] | None = Field(None, min_length=1, max_length=limits.MAX_OPERATIONS_PER_JOB)
    devices: list[StrictStr] | None = Field(None, max_length=limits.MAX_EXPLICIT_DEVICES)
    batch: JobBatch | None = None
    cancellation_threshold: JobCancellationThreshold | None = None
    retry: JobRetry | None = None
    rollout_rate: JobRolloutRate | None = None
    timeout: JobTimeout | None = None
    organizations: list[StrictStr] | None = Field(None, description=_ORGANIZATIONS_TEXT,
                                                  json_schema_extra=_ORGANIZATIONS)
    maintenance_windows: list[MaintenanceWindowDefinition] | None = Field(None, description=_WINDOWS_TEXT + " "
                                                                          "null or [] removes them.",
                                                                          json_schema_extra=_WINDOWS)
    maintenance_time_zone: StrictStr | None = Field(None, description=_ZONE_TEXT)

    def changes(self) -> dict:
        """The domain's field names and values of what the patch sets."""
        given = self.model_fields_set
        changes = {name: getattr(self, name)
                   for name in ("display_name", "description", "group", "devices", "organizations") if name in given}
        if "group" in changes:
            changes["group_id"] = changes.pop("group")
        if "data" in given:
            changes["operations"] = [item.to_operation() for item in self.data or []]
        for name in ("batch", "cancellation_threshold", "retry", "rollout_rate", "timeout"):
            if name in given:
                changes[name] = _dumped(getattr(self, name))
        if "maintenance_windows" in given:
            changes["maintenance_windows"] = [window.to_window() for window in self.maintenance_windows or []]
        if "maintenance_time_zone" in given:
            changes["maintenance_time_zone"] = self.maintenance_time_zone or "UTC"
        return changes


class DeviceGroupDefinition(RequestModel):
    """The body of `PUT /deviceGroups/{id}`. `etag` (IoT Central's field) works like If-Match."""

    display_name: StrictStr = Field(max_length=limits.MAX_DISPLAY_NAME_LENGTH, json_schema_extra=_TEXT)
    filter: StrictStr = Field(max_length=limits.MAX_GROUP_FILTER_LENGTH,
                              description='SELECT * FROM devices WHERE … ($id, $template, $provisioned, $simulated, twin fields); '
                                          f'parentheses nest at most {limits.MAX_GROUP_FILTER_NESTING} deep.')
    description: StrictStr | None = Field(None, max_length=limits.MAX_DESCRIPTION_LENGTH, json_schema_extra=_FREE_TEXT)
    organizations: list[StrictStr] | None = Field(None, description=_ORGANIZATIONS_TEXT,
                                                  json_schema_extra=_ORGANIZATIONS)
    etag: StrictStr | None = None


class DeviceGroupPatch(RequestModel):
    display_name: StrictStr | None = Field(None, max_length=limits.MAX_DISPLAY_NAME_LENGTH, json_schema_extra=_TEXT)
    filter: StrictStr | None = Field(None, max_length=limits.MAX_GROUP_FILTER_LENGTH)
    description: StrictStr | None = Field(None, max_length=limits.MAX_DESCRIPTION_LENGTH, json_schema_extra=_FREE_TEXT)
    organizations: list[StrictStr] | None = Field(None, description=_ORGANIZATIONS_TEXT,
                                                  json_schema_extra=_ORGANIZATIONS)
    etag: StrictStr | None = None


class ScheduleEnd(RequestModel):
    type: Literal["date", "occurrences"]
    date: StrictStr | None = Field(None, description="With type date: the last local date with runs, YYYY-MM-DD.")
    occurrences: StrictInt | None = Field(None, description="With type occurrences: the number of runs, 1-999.")


class ScheduleDefinition(RequestModel):
    """IoT Central's `schedule`, plus our `timeZone` (shared/domain/schedules.py has the rules)."""

    start: StrictStr = Field(description="The first run: an ISO 8601 instant with Z or an offset.")
    recurrence: Literal["daily", "weekly", "monthly"] | None = Field(None, description="Left out: runs once.")
    end: ScheduleEnd | None = None
    time_zone: StrictStr | None = Field(None, description="An IANA zone whose wall clock the runs keep (an "
                                                        "extension; UTC when left out).")

    def to_schedule(self, now: datetime) -> Schedule:
        """The schedule, whatever its start; the use case decides whether a past start is allowed."""
        return Schedule.from_api(self.model_dump(by_alias=True, exclude_none=True), now,
                                 one_time_start_must_be_future=False)


class ScheduledJobDefinition(RequestModel):
    """The body of `PUT /scheduledJobs/{id}`, IoT Central's ScheduledJob. `etag` works like If-Match."""

    display_name: StrictStr | None = Field(None, max_length=limits.MAX_DISPLAY_NAME_LENGTH, json_schema_extra=_TEXT)
    description: StrictStr | None = Field(None, max_length=limits.MAX_DESCRIPTION_LENGTH, json_schema_extra=_FREE_TEXT)
    group: StrictStr = Field(description="The device group's id.")
    data: list[JobData] = Field(min_length=1, max_length=limits.MAX_OPERATIONS_PER_JOB)
    batch: JobBatch | None = None
    cancellation_threshold: JobCancellationThreshold | None = None
    retry: JobRetry | None = None
    rollout_rate: JobRolloutRate | None = None
    timeout: JobTimeout | None = None
    organizations: list[StrictStr] | None = Field(None, description=_ORGANIZATIONS_TEXT,
                                                  json_schema_extra=_ORGANIZATIONS)
    maintenance_windows: list[MaintenanceWindowDefinition] | None = Field(
        None, description=_WINDOWS_TEXT + " Passed on to each run.", json_schema_extra=_WINDOWS)
    maintenance_time_zone: StrictStr | None = Field(None, description=_ZONE_TEXT)
    schedule: ScheduleDefinition
    enabled: StrictBool = True
    etag: StrictStr | None = None

    def to_scheduled_job(self, job_id: str, now: datetime) -> ScheduledJob:
        return ScheduledJob.define(
            job_id, self.display_name or job_id, self.group, [item.to_operation() for item in self.data],
            self.schedule.to_schedule(now), now, description=self.description, batch=_dumped(self.batch),
            cancellation_threshold=_dumped(self.cancellation_threshold), retry=_dumped(self.retry),
            rollout_rate=_dumped(self.rollout_rate), timeout=_dumped(self.timeout), enabled=self.enabled,
            organizations=tuple(self.organizations) if self.organizations is not None else None,
            **_maintenance(self.maintenance_windows, self.maintenance_time_zone))


def scheduled_job_as_definition(job: ScheduledJob) -> dict:
    """The stored definition as a request body: what a merge patch applies to."""
    body = {"displayName": job.display_name, "description": job.description, "group": job.group_id,
            "data": [_operation_view(operation).to_json() for operation in job.operations], "batch": job.batch,
            "cancellationThreshold": job.cancellation_threshold, "retry": job.retry, "rolloutRate": job.rollout_rate,
            "timeout": job.timeout, "organizations": list(job.organizations) if job.organizations is not None else None,
            "schedule": job.schedule.to_api(), "enabled": job.enabled, **_maintenance_view(job)}
    return {name: value for name, value in body.items() if value is not None}


def _maintenance(windows: list[MaintenanceWindowDefinition] | None, zone: str | None) -> dict:
    return {"maintenance_windows": tuple(window.to_window() for window in windows or ()),
            "maintenance_time_zone": zone}


def _maintenance_view(job: Job | ScheduledJob) -> dict:
    """The windows and their zone, or nothing for a job without windows (shown as before)."""
    if not job.maintenance_windows and job.maintenance_time_zone == "UTC":
        return {}
    return {"maintenanceWindows": [window.to_api() for window in job.maintenance_windows],
            "maintenanceTimeZone": job.maintenance_time_zone}


# Responses


class JobDataView(ResponseModel):
    type: Literal["property", "cloudProperty", "command"]
    path: str
    value: Any = None
    target: str | None = None
    response_timeout: int | None = None
    connect_timeout: int | None = None
    completion: Literal["written", "acknowledged"] | None = None


class JobProgress(ResponseModel):
    total: int
    pending: int
    running: int
    completed: int
    failed: int


class BatchView(ResponseModel):
    """One rollout batch of a job with `batch` (an extension): its devices and how they fare."""
    index: int = Field(description="1 for the first batch sent to; device rows name it as `batch`.")
    status: Literal["pending", "running", "stopped", "completed", "failed", "cancelled"]
    total: int
    pending: int
    running: int
    completed: int
    failed: int
    first_device_id: str
    last_device_id: str = Field(description="The batch holds the job's devices from the first id to this one, "
                                            "both included, in id order.")

    @classmethod
    def of(cls, batch: RolloutBatch, status: str) -> "BatchView":
        return cls(index=batch.index + 1, status=status, first_device_id=batch.first_device_id,
                   last_device_id=batch.last_device_id, **batch.progress.as_dict())


class ActorView(ResponseModel):
    type: Literal["apiToken", "user", "servicePrincipal", "system"]
    id: str
    display_name: str

    @classmethod
    def of(cls, actor: Actor | None) -> "ActorView | None":
        return cls(type=actor.type, id=actor.id, display_name=actor.display_name) if actor else None


class MaintenanceWindowView(ResponseModel):
    cron: str
    duration_minutes: int


def _maintenance_fields(job: Job | ScheduledJob) -> dict:
    """Shown when set: a job without windows reads as before."""
    if not job.maintenance_windows and job.maintenance_time_zone == "UTC":
        return {}
    return {"maintenance_windows": [MaintenanceWindowView(cron=window.cron, duration_minutes=window.duration_minutes)
                                    for window in job.maintenance_windows],
            "maintenance_time_zone": job.maintenance_time_zone}


class JobView(ResponseModel):
    id: str
    display_name: str
    description: str | None = None
    group: str
    devices: list[str] | None = None
    data: list[JobDataView]
    status: Literal["draft", "pending", "running", "stopped", "completed", "failed", "cancelled"]
    reason: str | None = Field(None, description="Why the job failed or was cancelled; while a running job waits "
                                                 "for its maintenance window, until when.")
    start: datetime | None = None
    end: datetime | None = None
    created: datetime
    last_modified: datetime
    progress: JobProgress
    batch: dict[str, Any] | None = None
    batches: list[BatchView] | None = Field(None, description="For a job with `batch`, once it is planned: each "
                                                              "batch's status and counters (an extension).")
    cancellation_threshold: dict[str, Any] | None = None
    retry: dict[str, Any] | None = Field(None, description="Retries by failure class (an extension).")
    rollout_rate: dict[str, Any] | None = Field(None, description="Devices started per minute (an extension).")
    timeout: dict[str, Any] | None = Field(None, description="How long a device may be in progress (an extension).")
    rerun_of: str | None = Field(None, description="For a rerun: the job whose failed devices it targets.")
    scheduled_job_id: str | None = Field(None, description="For a run of a scheduled job: its id.")
    organizations: list[str] | None = None
    maintenance_windows: list[MaintenanceWindowView] | None = Field(None, description=_WINDOWS_TEXT)
    maintenance_time_zone: str | None = Field(None, description=_ZONE_VIEW_TEXT)
    created_by: ActorView | None = Field(None, description="Who made the job (an extension).")
    last_stopped_by: ActorView | None = Field(None, description="Who last stopped it (an extension).")
    last_resumed_by: ActorView | None = Field(None, description="Who last resumed it (an extension).")
    etag: str | None = None

    @classmethod
    def of(cls, job: Job, progress: Progress, batches: list[RolloutBatch] = ()) -> "JobView":
        shown = batch_statuses(list(batches), progress.rollout, progress, job.status.value)
        return cls(batches=[BatchView.of(batch, status) for batch, status in shown] or None, id=job.id, display_name=job.display_name, description=job.description, group=job.group_id,
                   devices=list(job.devices) if job.devices is not None else None,
                   data=[_operation_view(operation) for operation in job.operations], status=job.status.value,
                   reason=job.reason, start=job.started_at, end=job.ended_at, created=job.created_at,
                   last_modified=job.last_modified, progress=JobProgress(**progress.as_dict()), batch=job.batch,
                   cancellation_threshold=job.cancellation_threshold, retry=job.retry,
                   rollout_rate=job.rollout_rate, timeout=job.timeout, rerun_of=job.rerun_of,
                   scheduled_job_id=job.scheduled_job_id,
                   organizations=list(job.organizations) if job.organizations is not None else None,
                   created_by=ActorView.of(job.created_by), last_stopped_by=ActorView.of(job.stopped_by),
                   last_resumed_by=ActorView.of(job.resumed_by), etag=job.etag, **_maintenance_fields(job))


class ScheduleView(ResponseModel):
    start: str
    recurrence: Literal["daily", "weekly", "monthly"] | None = None
    end: dict[str, Any] | None = None
    time_zone: str = Field(description="The IANA zone whose wall clock the runs keep (an extension).")


class ScheduledJobView(ResponseModel):
    id: str
    etag: str | None = None
    display_name: str
    description: str | None = None
    group: str
    batch: dict[str, Any] | None = None
    cancellation_threshold: dict[str, Any] | None = None
    retry: dict[str, Any] | None = Field(None, description="Retries by failure class, passed on to each run "
                                                           "(an extension).")
    rollout_rate: dict[str, Any] | None = Field(None, description="Devices started per minute, passed on to "
                                                                  "each run (an extension).")
    timeout: dict[str, Any] | None = Field(None, description="How long a device may be in progress, passed on to "
                                                             "each run (an extension).")
    data: list[JobDataView]
    organizations: list[str] | None = None
    maintenance_windows: list[MaintenanceWindowView] | None = Field(None, description=_WINDOWS_TEXT +
                                                                    " Passed on to each run.")
    maintenance_time_zone: str | None = Field(None, description=_ZONE_VIEW_TEXT)
    schedule: ScheduleView
    enabled: bool
    completed: bool
    next_runs: list[datetime] = Field(description="The next runs' times, at most 5 (an extension).")
    missed: int = Field(description="Runs that were due but did not start (an extension).")
    last_error: str | None = Field(None, description="Why the last run that was due was refused (an extension).")
    created_by: ActorView | None = Field(None, description="Who made the scheduled job (an extension).")

    @classmethod
    def of(cls, job: ScheduledJob, now: datetime) -> "ScheduledJobView":
        return cls(id=job.id, etag=job.etag, display_name=job.display_name, description=job.description,
                   group=job.group_id, batch=job.batch, cancellation_threshold=job.cancellation_threshold,
                   retry=job.retry, rollout_rate=job.rollout_rate, timeout=job.timeout, data=[_operation_view(operation) for operation in job.operations],
                   organizations=list(job.organizations) if job.organizations is not None else None,
                   schedule=ScheduleView.model_validate(job.schedule.to_api()), enabled=job.enabled,
                   completed=job.completed, next_runs=job.next_runs(now), missed=job.missed,
                   last_error=job.last_error, created_by=ActorView.of(job.created_by), **_maintenance_fields(job))


class ScheduledJobCollection(ResponseModel):
    value: list[ScheduledJobView]
    next_link: str | None = None


class JobCollection(ResponseModel):
    value: list[JobView]
    next_link: str | None = None


class JobDeviceStatus(ResponseModel):
    id: str
    status: Literal["pending", "running", "completed", "failed"]
    error_code: str | None = None
    error_message: str | None = None
    time: datetime | None = Field(None, description="When the device's status last changed.")
    deleted: bool = Field(False, description="The device was deleted from the hub after the job was created.")
    batch: int | None = Field(None, description="For a job with `batch`: the number of the batch the device is in "
                                                "(an extension).")
    attempts: int = Field(0, description="Attempts whose outcome is known: more than 1 after retries, 0 before the "
                                         "first (an extension).")
    last_attempt_time: datetime | None = Field(None, description="When the last attempt's outcome was recorded "
                                                                 "(an extension).")

    @classmethod
    def of(cls, device: JobDevice, batches: list[RolloutBatch] = ()) -> "JobDeviceStatus":
        batch_index = batch_index_of(batches, device.device_id) if batches else None
        return cls(id=device.device_id, status=device.status.value,
                   error_code=device.error_code.value if device.error_code else None,
                   error_message=device.error_message, time=device.updated_at, deleted=device.deleted,
                   batch=batch_index + 1 if batch_index is not None else None, attempts=device.attempts,
                   last_attempt_time=device.last_attempt_at)


class JobDeviceCollection(ResponseModel):
    value: list[JobDeviceStatus]
    next_link: str | None = None


class DeviceGroupView(ResponseModel):
    id: str
    display_name: str
    filter: str
    description: str | None = None
    organizations: list[str] | None = None
    etag: str | None = None
    corrupted: bool = Field(False, description="The filter is no longer accepted; the group has no devices.")
    corruption_reason: str | None = None

    @classmethod
    def of(cls, group: DeviceGroup, corruption: str | None = None) -> "DeviceGroupView":
        return cls(id=group.id, display_name=group.display_name, filter=group.filter, description=group.description,
                   organizations=list(group.organizations) if group.organizations is not None else None,
                   etag=group.etag, corrupted=corruption is not None, corruption_reason=corruption)


class DeviceGroupCollection(ResponseModel):
    value: list[DeviceGroupView]
    next_link: str | None = None


class Device(ResponseModel):
    """IoT Central's device fields, as IoT Hub knows them; `iotEdge` and `connectionState` are ours."""
    id: str
    etag: str | None = Field(None, description="The device twin's ETag.")
    display_name: str
    template: str | None = Field(None, description="The device's model id.")
    enabled: bool = Field(True, description="The device's status in the hub's registry is enabled.")
    provisioned: bool = Field(True, description="Always true: every device in the hub's registry is provisioned.")
    simulated: bool = Field(False, description="Always false: IoT Central's simulated devices never reach a hub.")
    iot_edge: bool = False
    connection_state: str | None = None

    @classmethod
    def of(cls, device: DeviceSummary) -> "Device":
        return cls(id=device.device_id, etag=device.etag, display_name=device.device_id, template=device.model_id,
                   enabled=device.enabled, iot_edge=device.is_edge, connection_state=device.connection_state)


class DeviceCollection(ResponseModel):
    value: list[Device]
    next_link: str | None = None
    corrupted: bool = False
    corruption_reason: str | None = None


class HealthCheck(ResponseModel):
    status: Literal["up", "down"]
    error: str | None = None


class HealthReport(ResponseModel):
    status: Literal["healthy", "unhealthy"]
    checks: dict[str, HealthCheck]


class ErrorDetail(ResponseModel):
    code: str
    message: str
    target: str | None = None


class ErrorInfo(ResponseModel):
    code: str
    message: str
    target: str | None = None
    details: list[ErrorDetail] | None = None
    request_id: str | None = None
    time: str | None = None


class ErrorResponse(ResponseModel):
    error: ErrorInfo


def _operation_view(operation: Operation) -> JobDataView:
    return JobDataView(type=operation.type.value, path=operation.path, value=operation.value,
                       target=operation.target, response_timeout=operation.response_timeout_seconds,
                       connect_timeout=operation.connect_timeout_seconds, completion=operation.completion)


def _dumped(model: BaseModel | None) -> dict | None:
    return model.model_dump(by_alias=True, exclude_none=True) if model is not None else None


class ArchiveLocation(ResponseModel):
    path: str = Field(description="The blob's name in the `job-history` container: YYYY/MM/<job id>.csv.")
    size: int
    content_md5: str


class HistoryEntry(ResponseModel):
    id: str
    display_name: str
    status: str
    progress: JobProgress
    created_at: datetime
    retention_anchor: datetime = Field(description="When the job ended (or, for a draft or stopped job, last changed).")
    archived_at: datetime
    report: str = Field(description="The URL of the archived results CSV.")
    archive: ArchiveLocation


class HistoryCollection(ResponseModel):
    value: list[HistoryEntry]
    next_link: str | None = None


# Access: roles, API tokens, users (role assignments) as IoT Central shapes them; the audit log is ours.


class RoleAssignment(RequestModel):
    role: StrictStr
    organization: StrictStr | None = Field(None, description="Not supported: every role applies to the whole app.")


class ApiTokenRequest(RequestModel):
    roles: list[RoleAssignment] = Field(min_length=1, max_length=10)
    expiry: StrictStr | None = Field(None, description="ISO 8601 time; default one year from now, at most two.")


class UserRequest(RequestModel):
    type: Literal["email", "servicePrincipal"]
    roles: list[RoleAssignment] = Field(min_length=1, max_length=10)
    email: StrictStr | None = Field(None, max_length=320, description="For `email` users: their Entra user name.")
    tenant_id: StrictStr | None = Field(None, max_length=64, description="For service principals.")
    object_id: StrictStr | None = Field(None, max_length=64, description="For service principals.")


class RoleAssignmentView(ResponseModel):
    role: str


class RoleView(ResponseModel):
    id: str
    display_name: str


class RoleCollection(ResponseModel):
    value: list[RoleView]


class ApiTokenView(ResponseModel):
    id: str
    roles: list[RoleAssignmentView]
    expiry: datetime
    token: str | None = Field(None, description="Only in the answer to the PUT that made it: it is not stored.")
    created_by: str | None = Field(None, description="Who made the token (an extension).")


class ApiTokenCollection(ResponseModel):
    value: list[ApiTokenView]


class UserView(ResponseModel):
    id: str
    type: Literal["email", "servicePrincipal"]
    roles: list[RoleAssignmentView]
    email: str | None = None
    tenant_id: str | None = None
    object_id: str | None = None


class UserCollection(ResponseModel):
    value: list[UserView]


class AuditCaller(ResponseModel):
    type: str
    id: str
    display_name: str
    roles: list[str]


class AuditEntryView(ResponseModel):
    id: str
    time: datetime
    caller: AuditCaller
    action: str
    resource: str
    outcome: Literal["succeeded", "failed", "forbidden", "unauthenticated"]
    request_id: str
    code: str | None = None


class AuditLogCollection(ResponseModel):
    value: list[AuditEntryView]
    next_link: str | None = None
