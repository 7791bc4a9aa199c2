"""The `jobs` table: one entity per job (PartitionKey `job`, RowKey the job id).

Listing reads the one partition with a filter on `createdAt` (plus every pending, running or
stopped job, however old) and sorts in memory. Thousands of jobs are a few pages of 1,000
entities, selected down to the listed columns, which is cheaper than keeping index rows in
step. `retentionAnchor` (see Job.retention_anchor) is stored so retention filters on it.
"""
from __future__ import annotations

import abc
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode

from shared.domain.errors import AlreadyExists, ConcurrencyConflict, JobNotFound
from shared.domain.jobs import Actor, Job, JobStatus
from shared.domain.operations import Operation, OperationType
from shared.domain.schedules import MaintenanceWindow
from shared.repositories.tables import change_with_retries, join_json, split_json
from shared.storage_names import JOBS_TABLE

JOB_PARTITION = "job"
_ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.STOPPED)

Decision = Callable[[Job], "Job | None"]


def require_version(job: Job, if_match: str | None) -> Job:
    """`job` if it is the version `if_match` names (or any, for none or `*`)."""
    if if_match and if_match != "*" and if_match != job.etag:
        raise ConcurrencyConflict("Job", job.id)
    return job


@dataclass(frozen=True)
class JobChange:
    """A job as `JobStore.change` read it and as it left it (the same object when unchanged)."""
    before: Job
    after: Job

    @property
    def changed(self) -> bool:
        return self.after is not self.before


class JobStore(abc.ABC):
    """The jobs, stored; `change` is the one way to change a stored job."""

    @abc.abstractmethod
    def add(self, job: Job) -> Job: ...

    @abc.abstractmethod
    def get(self, job_id: str) -> Job: ...

    @abc.abstractmethod
    def update(self, job: Job) -> Job:
        """Replace the stored job if it still has `job.etag`; raises ConcurrencyConflict if not."""

    @abc.abstractmethod
    def delete(self, job_id: str, etag: str | None = None) -> None: ...

    @abc.abstractmethod
    def list_recent(self, now: datetime, days: int = 30) -> list[Job]: ...

    @abc.abstractmethod
    def list_for_retention(self, cutoff: datetime) -> Iterator[Job]: ...

    @abc.abstractmethod
    def count(self, statuses: Iterable[JobStatus]) -> int:
        """How many jobs are in one of these states (for the app's limits)."""

    def change(self, job_id: str, decide: Decision, if_match: str | None = None) -> JobChange:
        """Read the job, let `decide` change it, save it with the read's ETag.

        `decide` is a function of the fresh job only (domain methods, no I/O): it changes the job
        it is given, or returns the job it should become; a job it leaves as it was is not
        written. A lost race means another writer moved the job meanwhile: read it again and
        decide again. With `if_match` the caller decided on that version, so a job that is no
        longer it is the caller's ConcurrencyConflict, at once. Raises JobNotFound.
        """
        before, after = change_with_retries(lambda: self.get(job_id), self.update, decide, if_match,
                                            lambda: ConcurrencyConflict("Job", job_id))
        return JobChange(before, after)


class JobRepository(JobStore):
    def __init__(self, service: TableServiceClient, table_name: str = JOBS_TABLE):
        self._table = service.get_table_client(table_name)

    def add(self, job: Job) -> Job:
        try:
            metadata = self._table.create_entity(job_to_entity(job))
        except ResourceExistsError:
            raise AlreadyExists("Job", job.id) from None
        job.etag = metadata["etag"]
        return job

    def get(self, job_id: str) -> Job:
        try:
            return job_from_entity(self._table.get_entity(JOB_PARTITION, job_id))
        except ResourceNotFoundError:
            raise JobNotFound(job_id) from None

    def update(self, job: Job) -> Job:
        try:
            metadata = self._table.update_entity(job_to_entity(job), mode=UpdateMode.REPLACE, etag=job.etag,
                                                 match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError:
            raise ConcurrencyConflict("Job", job.id) from None
        except ResourceNotFoundError:
            raise JobNotFound(job.id) from None
        job.etag = metadata["etag"]
        return job

    def delete(self, job_id: str, etag: str | None = None) -> None:
        """Delete the job entity (device rows are JobDeviceRepository's). Without etag, a missing job is fine."""
        condition = MatchConditions.IfNotModified if etag else MatchConditions.Unconditionally
        try:
            self._table.delete_entity(JOB_PARTITION, job_id, etag=etag, match_condition=condition)
        except ResourceModifiedError:
            raise ConcurrencyConflict("Job", job_id) from None
        except ResourceNotFoundError:
            raise JobNotFound(job_id) from None

    def list_recent(self, now: datetime, days: int = 30) -> list[Job]:
        """Jobs created in the last `days` plus every active one, newest first."""
        active = " or ".join(f"status eq @active{index}" for index in range(len(_ACTIVE)))
        parameters = {"pk": JOB_PARTITION, "since": now - timedelta(days=days)}
        parameters.update({f"active{index}": status.value for index, status in enumerate(_ACTIVE)})
        # The SDK finds parameters by splitting on spaces, hence the spaced parentheses.
        entities = self._table.query_entities(f"PartitionKey eq @pk and ( createdAt ge @since or {active} )",
                                              parameters=parameters, results_per_page=1000)
        return sorted((job_from_entity(entity) for entity in entities), key=lambda job: job.created_at, reverse=True)

    def count(self, statuses: Iterable[JobStatus]) -> int:
        wanted = list(statuses)
        condition = " or ".join(f"status eq @status{index}" for index in range(len(wanted)))
        parameters = {"pk": JOB_PARTITION, **{f"status{index}": status.value for index, status in enumerate(wanted)}}
        entities = self._table.query_entities(f"PartitionKey eq @pk and ( {condition} )", parameters=parameters,
                                              select=["RowKey"], results_per_page=1000)
        return sum(1 for _ in entities)

    def list_for_retention(self, cutoff: datetime) -> Iterator[Job]:
        """Jobs whose retention anchor is before `cutoff`; pending and running jobs never appear."""
        entities = self._table.query_entities("PartitionKey eq @pk and retentionAnchor lt @cutoff",
                                              parameters={"pk": JOB_PARTITION, "cutoff": cutoff},
                                              results_per_page=100)
        return (job_from_entity(entity) for entity in entities)


def job_to_entity(job: Job) -> dict:
    entity = {
        "PartitionKey": JOB_PARTITION, "RowKey": job.id, "displayName": job.display_name,
        "description": job.description, "group": job.group_id, "status": job.status.value,
        "createdAt": job.created_at, "lastModified": job.last_modified, "startedAt": job.started_at,
        "endedAt": job.ended_at, "reason": job.reason, "retentionAnchor": job.retention_anchor,
        "rerunOf": job.rerun_of, "scheduledJobId": job.scheduled_job_id, "incarnation": job.incarnation,
        "planned": job.planned,
        "deleting": job.deleting,
    }
    entity.update(split_json("operations", [operation_to_dict(op) for op in job.operations]))
    options = {"batch": job.batch, "cancellationThreshold": job.cancellation_threshold}
    if job.retry is not None:
        options["retry"] = job.retry
    if job.rollout_rate is not None:
        options["rolloutRate"] = job.rollout_rate
    if job.timeout is not None:
        options["timeout"] = job.timeout
    if job.organizations is not None:
        options["organizations"] = list(job.organizations)
    options.update(maintenance_to_options(job.maintenance_windows, job.maintenance_time_zone))
    entity.update(split_json("options", options))
    if job.devices is not None:
        entity.update(split_json("devices", list(job.devices)))
    actors = {name: asdict(actor) for name, actor in _actors(job).items() if actor is not None}
    if actors:
        entity["actors"] = json.dumps(actors)
    return {key: value for key, value in entity.items() if value is not None}


def _actors(job: Job) -> dict[str, Actor | None]:
    return {"createdBy": job.created_by, "stoppedBy": job.stopped_by, "resumedBy": job.resumed_by}


def job_from_entity(entity: dict) -> Job:
    options = join_json(entity, "options") or {}
    devices = join_json(entity, "devices")
    actors = {name: Actor(**actor) for name, actor in json.loads(entity.get("actors") or "{}").items()}
    return Job(
        id=entity["RowKey"], display_name=entity["displayName"], description=entity.get("description"),
        group_id=entity["group"], status=JobStatus(entity["status"]),
        operations=tuple(operation_from_dict(item) for item in join_json(entity, "operations")),
        devices=tuple(devices) if devices is not None else None,
        created_at=entity["createdAt"], last_modified=entity["lastModified"],
        started_at=entity.get("startedAt"), ended_at=entity.get("endedAt"), reason=entity.get("reason"),
        batch=options.get("batch"), cancellation_threshold=options.get("cancellationThreshold"),
        retry=options.get("retry"), rollout_rate=options.get("rolloutRate"), timeout=options.get("timeout"),
        rerun_of=entity.get("rerunOf"), scheduled_job_id=entity.get("scheduledJobId"),
        incarnation=entity.get("incarnation", ""),
        organizations=tuple(options["organizations"]) if options.get("organizations") is not None else None,
        **maintenance_from_options(options),
        # Jobs stored before `planned` was: any that ever ran was planned when it did.
        planned=entity.get("planned", JobStatus(entity["status"]) not in (JobStatus.DRAFT, JobStatus.PENDING)),
        deleting=entity.get("deleting", False), created_by=actors.get("createdBy"),
        stopped_by=actors.get("stoppedBy"), resumed_by=actors.get("resumedBy"), etag=entity.metadata["etag"],
    )


def maintenance_to_options(windows: tuple[MaintenanceWindow, ...], zone: str) -> dict:
    """Stored only when set: a job without them is stored as before."""
    if not windows and zone == "UTC":
        return {}
    return {"maintenanceWindows": [window.to_api() for window in windows], "maintenanceTimeZone": zone}


def maintenance_from_options(options: dict) -> dict:
    windows = options.get("maintenanceWindows") or []
    return {"maintenance_windows": tuple(MaintenanceWindow(item["cron"], item["durationMinutes"]) for item in windows),
            "maintenance_time_zone": options.get("maintenanceTimeZone") or "UTC"}


def operation_to_dict(operation: Operation) -> dict:
    return {"type": operation.type.value, "path": operation.path, "value": operation.value,
            "target": operation.target, "responseTimeout": operation.response_timeout_seconds,
            "connectTimeout": operation.connect_timeout_seconds,
            **({"completion": operation.completion} if operation.completion else {})}


def operation_from_dict(item: dict) -> Operation:
    return Operation(type=OperationType(item["type"]), path=item["path"], value=item.get("value"),
                     target=item.get("target"), response_timeout_seconds=item.get("responseTimeout"),
                     connect_timeout_seconds=item.get("connectTimeout"), completion=item.get("completion"))
