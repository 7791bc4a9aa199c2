"""The `scheduledjobs` table: one entity per scheduled job (PartitionKey `scheduledjob`, RowKey
its id). Scheduled jobs are few (hundreds): listing reads the one partition.

The scheduler's state (last occurrence started or missed, missed count, completed, last error)
is stored with the definition, so every write is conditioned on the ETag it read: a scheduler
that lost a race to another, or to a caller's edit, writes nothing.
"""
from __future__ import annotations

import abc
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode

from shared.domain.errors import AlreadyExists, ConcurrencyConflict, ScheduledJobNotFound
from shared.domain.jobs import Actor
from shared.domain.scheduled_jobs import ScheduledJob
from shared.domain.schedules import Schedule
from shared.repositories.jobs import (maintenance_from_options, maintenance_to_options, operation_from_dict,
                                     operation_to_dict)
from shared.repositories.tables import change_with_retries, join_json, split_json
from shared.storage_names import SCHEDULED_JOBS_TABLE

SCHEDULED_JOB_PARTITION = "scheduledjob"
_STORED = datetime(1970, 1, 1, tzinfo=timezone.utc)  # a stored schedule is read back whatever its start


class ScheduledJobStore(abc.ABC):
    @abc.abstractmethod
    def add(self, job: ScheduledJob) -> ScheduledJob: ...

    @abc.abstractmethod
    def get(self, job_id: str) -> ScheduledJob: ...

    @abc.abstractmethod
    def update(self, job: ScheduledJob) -> ScheduledJob:
        """Replace the stored one if it still has `job.etag`; ConcurrencyConflict if not."""

    @abc.abstractmethod
    def delete(self, job_id: str, etag: str | None = None) -> None: ...

    @abc.abstractmethod
    def list(self) -> list[ScheduledJob]:
        """Every scheduled job, by id."""

    def change(self, job_id: str, decide: Callable[[ScheduledJob], ScheduledJob],
               if_match: str | None = None) -> ScheduledJob:
        """Read, let `decide` return what it becomes, save with the read's ETag; a lost race is
        decided again on the fresh one, unless the caller named its version (`if_match`)."""
        return change_with_retries(lambda: self.get(job_id), self.update, decide, if_match,
                                   lambda: ConcurrencyConflict("Scheduled job", job_id))[1]


class ScheduledJobRepository(ScheduledJobStore):
    def __init__(self, service: TableServiceClient, table_name: str = SCHEDULED_JOBS_TABLE):
        self._table = service.get_table_client(table_name)

    def add(self, job: ScheduledJob) -> ScheduledJob:
        try:
            metadata = self._table.create_entity(scheduled_job_to_entity(job))
        except ResourceExistsError:
            raise AlreadyExists("Scheduled job", job.id) from None
        job.etag = metadata["etag"]
        return job

    def get(self, job_id: str) -> ScheduledJob:
        try:
            return scheduled_job_from_entity(self._table.get_entity(SCHEDULED_JOB_PARTITION, job_id))
        except ResourceNotFoundError:
            raise ScheduledJobNotFound(job_id) from None

    def update(self, job: ScheduledJob) -> ScheduledJob:
        try:
            metadata = self._table.update_entity(scheduled_job_to_entity(job), mode=UpdateMode.REPLACE, etag=job.etag,
                                                 match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError:
            raise ConcurrencyConflict("Scheduled job", job.id) from None
        except ResourceNotFoundError:
            raise ScheduledJobNotFound(job.id) from None
        job.etag = metadata["etag"]
        return job

    def delete(self, job_id: str, etag: str | None = None) -> None:
        condition = MatchConditions.IfNotModified if etag else MatchConditions.Unconditionally
        self.get(job_id)  # an unknown id is a 404, as in IoT Central
        try:
            self._table.delete_entity(SCHEDULED_JOB_PARTITION, job_id, etag=etag, match_condition=condition)
        except ResourceModifiedError:
            raise ConcurrencyConflict("Scheduled job", job_id) from None
        except ResourceNotFoundError:
            raise ScheduledJobNotFound(job_id) from None

    def list(self) -> list[ScheduledJob]:
        entities = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": SCHEDULED_JOB_PARTITION},
                                              results_per_page=1000)
        return sorted((scheduled_job_from_entity(entity) for entity in entities), key=lambda job: job.id)


def scheduled_job_to_entity(job: ScheduledJob) -> dict:
    entity = {
        "PartitionKey": SCHEDULED_JOB_PARTITION, "RowKey": job.id, "displayName": job.display_name,
        "description": job.description, "group": job.group_id, "schedule": json.dumps(job.schedule.to_api()),
        "enabled": job.enabled, "completed": job.completed, "lastIndex": job.last_index, "runBase": job.run_base,
        "missed": job.missed, "lastError": job.last_error, "createdAt": job.created_at,
        "lastModified": job.last_modified,
        "createdBy": json.dumps(asdict(job.created_by)) if job.created_by else None,
    }
    entity.update(split_json("operations", [operation_to_dict(operation) for operation in job.operations]))
    options = {"batch": job.batch, "cancellationThreshold": job.cancellation_threshold,
               "retry": job.retry, "rolloutRate": job.rollout_rate, "timeout": job.timeout,
               "organizations": list(job.organizations) if job.organizations is not None else None,
               **maintenance_to_options(job.maintenance_windows, job.maintenance_time_zone)}
    entity.update(split_json("options", options))
    return {key: value for key, value in entity.items() if value is not None}


def scheduled_job_from_entity(entity: dict) -> ScheduledJob:
    options = join_json(entity, "options") or {}
    created_by = json.loads(entity["createdBy"]) if entity.get("createdBy") else None
    return ScheduledJob(
        id=entity["RowKey"], display_name=entity["displayName"], description=entity.get("description"),
        group_id=entity["group"], operations=tuple(operation_from_dict(item) for item in join_json(entity, "operations")),
        schedule=Schedule.from_api(json.loads(entity["schedule"]), _STORED, one_time_start_must_be_future=False),
        created_at=entity["createdAt"], last_modified=entity["lastModified"], batch=options.get("batch"),
        cancellation_threshold=options.get("cancellationThreshold"), retry=options.get("retry"),
        rollout_rate=options.get("rolloutRate"), timeout=options.get("timeout"),
        organizations=tuple(options["organizations"]) if options.get("organizations") is not None else None,
        **maintenance_from_options(options), enabled=entity.get("enabled", True), completed=entity.get("completed", False),
        last_index=entity.get("lastIndex", 0), run_base=entity.get("runBase", 0), missed=entity.get("missed", 0),
        last_error=entity.get("lastError"), created_by=Actor(**created_by) if created_by else None,
        etag=entity.metadata["etag"])
