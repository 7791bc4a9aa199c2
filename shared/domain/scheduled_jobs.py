"""The scheduled job aggregate: IoT Central's `/scheduledJobs`, a job definition plus a schedule
(shared/domain/schedules.py says when it runs). Each occurrence runs as an ordinary job, made by
`run_for`, whose id is the same on every scheduler (`run_job_id`), so a run is created once.

State a scheduler keeps: `last_index`, the last occurrence started or missed (occurrences
before the scheduled job was made are not its own: they count as neither), `missed`, `completed`
and `last_error`. Runs are numbered on from the earlier schedules' (`run_base`), so replacing
the schedule never gives a new run the id of an earlier one.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.domain import limits
from shared.domain.acknowledgements import validate_timeout
from shared.domain.retries import validate_retry
from shared.domain.jobs import Actor, Job, validate_maintenance
from shared.domain.operations import Operation, validate_operations
from shared.domain.schedules import (Decision, MaintenanceWindow, Occurrence, Schedule, next_due, nth_occurrence, occurrences,
                                     run_display_name, run_job_id)

NEXT_RUNS_SHOWN = 5


@dataclass
class ScheduledJob:
    id: str
    display_name: str
    group_id: str
    operations: tuple[Operation, ...]
    schedule: Schedule
    created_at: datetime
    last_modified: datetime
    description: str | None = None
    batch: dict[str, Any] | None = None  # IoT Central's JobBatch, stored as given (runs refuse it)
    cancellation_threshold: dict[str, Any] | None = None  # stored as given
    retry: dict[str, Any] | None = None  # ours, passed on to each run
    rollout_rate: dict[str, Any] | None = None  # ours, passed on to each run
    timeout: dict[str, Any] | None = None  # ours, passed on to each run
    organizations: tuple[str, ...] | None = None
    maintenance_windows: tuple[MaintenanceWindow, ...] = ()  # passed on to each run
    maintenance_time_zone: str = "UTC"
    enabled: bool = True
    completed: bool = False  # no occurrence is left
    last_index: int = 0  # the last occurrence started or missed (0: none)
    run_base: int = 0  # runs of earlier schedules: occurrence n of this one is run run_base + n
    missed: int = 0
    last_error: str | None = None  # why the last run that was due could not start
    created_by: Actor | None = None
    etag: str | None = field(default=None, compare=False)

    DEFINING_FIELDS = ("display_name", "description", "group_id", "operations", "schedule", "batch",
                       "cancellation_threshold", "retry", "rollout_rate", "timeout", "organizations", "maintenance_windows", "maintenance_time_zone",
                       "enabled")

    @classmethod
    def define(cls, id: str, display_name: str, group_id: str, operations: list[Operation], schedule: Schedule,
               now: datetime, **optional: Any) -> "ScheduledJob":
        """A new scheduled job: the occurrences already past when it is made are not its own."""
        job = cls(id=id, display_name=display_name, group_id=group_id, operations=tuple(operations),
                  schedule=schedule, created_at=now, last_modified=now, **optional)
        job.validated()
        job.last_index = _past_occurrences(schedule, now)
        job.completed = nth_occurrence(schedule, job.last_index + 1) is None
        return job

    def validated(self) -> "ScheduledJob":
        limits.validate_job_id(self.id)
        limits.validate_text(self.display_name, "displayName", limits.MAX_DISPLAY_NAME_LENGTH, required=True)
        limits.validate_text(self.description, "description", limits.MAX_DESCRIPTION_LENGTH)
        limits.validate_group_id(self.group_id, "group")
        self.operations = validate_operations(list(self.operations))
        self.organizations = limits.validate_organizations(self.organizations)
        self.maintenance_windows, self.maintenance_time_zone = validate_maintenance(self.maintenance_windows,
                                                                                    self.maintenance_time_zone)
        validate_retry(self.retry, self.operations)
        validate_timeout(self.timeout, self.operations)
        return self

    def redefined(self, new: "ScheduledJob", now: datetime) -> "ScheduledJob":
        """This scheduled job with `new`'s definition (a PUT over it, or a merge patch). A new
        schedule starts counting afresh: its past occurrences are skipped, its runs numbered on
        after this one's; enabling it again skips what fell due while it was disabled."""
        changed = copy.deepcopy(self)
        for name in self.DEFINING_FIELDS:
            setattr(changed, name, getattr(new, name))
        changed.validated()
        if new.schedule != self.schedule:
            changed.run_base, changed.last_index = self.run_base + self.last_index, _past_occurrences(new.schedule, now)
        elif new.enabled and not self.enabled:
            changed.last_index = max(self.last_index, _past_occurrences(new.schedule, now))
        changed.completed = nth_occurrence(changed.schedule, changed.last_index + 1) is None
        changed.last_modified = now
        return changed

    def is_defined_as(self, other: "ScheduledJob") -> bool:
        return all(getattr(self, name) == getattr(other, name) for name in self.DEFINING_FIELDS)

    def due(self, now: datetime, grace: timedelta) -> Decision:
        return next_due(self.schedule, self.last_index, now, grace, enabled=self.enabled)

    def record(self, decision: Decision, refusal: str | None = None) -> None:
        """What a scheduler did about `decision`: the run started, or was refused (`refusal`,
        then it counts as missed)."""
        self.missed += len(decision.missed) + (1 if decision.start and refusal else 0)
        self.last_index, self.completed = decision.last_index, decision.completed
        if decision.start:
            self.last_error = refusal

    def run_id(self, occurrence: Occurrence) -> str:
        return run_job_id(self.id, self.run_base + occurrence.index)

    def run_for(self, occurrence: Occurrence, now: datetime, by: Actor | None = None) -> Job:
        """The job that runs `occurrence`: the same on every scheduler but for its times."""
        name = run_display_name(self.display_name, occurrence.at, self.schedule.time_zone)
        return Job.draft(self.run_id(occurrence), name, self.group_id, list(self.operations), now,
                         description=self.description, batch=copy.deepcopy(self.batch),
                         cancellation_threshold=copy.deepcopy(self.cancellation_threshold),
                         retry=copy.deepcopy(self.retry), rollout_rate=copy.deepcopy(self.rollout_rate),
                         timeout=copy.deepcopy(self.timeout),
                         organizations=self.organizations, maintenance_windows=self.maintenance_windows,
                         maintenance_time_zone=self.maintenance_time_zone, created_by=by, scheduled_job_id=self.id)

    def next_runs(self, now: datetime, limit: int = NEXT_RUNS_SHOWN) -> list[datetime]:
        """The next occurrences that will run (none while disabled)."""
        if not self.enabled or self.completed:
            return []
        after = max(now, nth_occurrence(self.schedule, self.last_index) or now) if self.last_index else now
        return occurrences(self.schedule, after, limit)


def _past_occurrences(schedule: Schedule, now: datetime) -> int:
    """How many occurrences are before `now`."""
    return next_due(schedule, 0, now - timedelta(microseconds=1), timedelta(0), enabled=False).last_index

