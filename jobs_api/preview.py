"""The dry run of a draft (`POST /jobs/{id}/preview`, ours: IoT Central has no preview): what a run
would target, refuse, find offline, cut into batches and take, asked of IoT Hub now, with nothing
written (no rows, no messages, no change to the job, no audit entry: it is a read).

IoT Hub is asked through the gateway's reads view (their share of the query budget; over it, 429
with Retry-After), with as few queries as are faithful:
- a group: two aggregate queries, each over one dimension, `COUNT() … GROUP BY
  capabilities.iotEdge` over the group, and `COUNT() … GROUP BY connectionState` over the
  devices that would be sent to (not IoT Edge, of the operations' model);
- an explicit subset: its devices' ids, model, capabilities and connection state, 50 ids a
  query, as a run checks them (membership is per id, which counts cannot tell).

The refusals are the run's and the planner's rules (jobs_api/jobs.py `require_runnable`,
dispatcher/planning.py `refusal`): an id of the subset not in the group, or an IoT Edge device in
it, refuses the run itself (400 naming `devices[i]`); in the group, an IoT Edge device fails at
planning, then a device whose model is not an operation's `target`.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from shared.collaborators import Collaborators
from shared.domain.devices import DeviceErrorCode
from shared.domain.errors import IllegalTransition, InvalidGroupFilter
from shared.domain.groups import SUBSET_CHUNK, DeviceGroup, subset_query
from shared.domain.registry_export import plans_from_export
from shared.domain.jobs import Job, JobStatus
from shared.domain.limits import MAX_BATCH_SIZE, MAX_ROLLOUT_RATE_PER_MINUTE
from shared.domain.operations import Operation
from shared.domain.rollout import batch_size
from shared.domain.hub_quotas import HubQuotas, hub_pace
from shared.hub_gateway import DeviceSummary
from jobs_api.models import ResponseModel
from jobs_api.targets import TargetRefused, asked, group_of

SUBSET_FIELDS = "deviceId, modelId, capabilities, connectionState"
DISCONNECTED = "Disconnected"
PLANNING_PAGE = MAX_BATCH_SIZE  # the planner reads the group this many devices a page
_WHERE = re.compile(r"\bWHERE\b", re.IGNORECASE)


# What the hub answered, counted


@dataclass(frozen=True)
class TargetCounts:
    """`targets`: the devices the job names (the group's, or the subset's ids); of them
    `not_in_group` (subset ids the group does not hold), `edge` and `model_mismatch` are refused,
    and `offline` counts those that would be sent to and are disconnected now."""
    targets: int
    edge: int = 0
    model_mismatch: int = 0
    not_in_group: int = 0
    offline: int = 0
    subset: bool = False

    @property
    def planned(self) -> int:
        """Devices that would get a row (and a batch): every target the group holds."""
        return self.targets - self.not_in_group

    @property
    def to_send(self) -> int:
        return self.planned - self.edge - self.model_mismatch


def model_required(operations: Iterable[Operation]) -> tuple[str, ...]:
    """The distinct models the operations target: a device must be of each (so of two or more, none is)."""
    return tuple(dict.fromkeys(operation.target for operation in operations if operation.target))


def mismatches(model_id: str | None, models: tuple[str, ...]) -> bool:
    """The planner's rule: a device fails when its model is not an operation's `target`."""
    return any((model_id or None) != model for model in models)


def counts_of_group(edge_rows: list[dict], sendable_rows: list[dict] | None) -> TargetCounts:
    """From `COUNT() AS n … GROUP BY capabilities.iotEdge` (alias `edge`) over the group, and
    `COUNT() AS n … GROUP BY connectionState` (alias `state`) over its devices that would be sent
    to (None when none could be: the operations target two models)."""
    total = sum(row.get("n", 0) for row in edge_rows)
    edge = sum(row.get("n", 0) for row in edge_rows if row.get("edge") is True)
    sendable = sum(row.get("n", 0) for row in sendable_rows or [])
    offline = sum(row.get("n", 0) for row in sendable_rows or [] if row.get("state") == DISCONNECTED)
    return TargetCounts(targets=total, edge=edge, model_mismatch=total - edge - sendable, offline=offline)


def counts_of_subset(device_ids: Iterable[str], members: Iterable[DeviceSummary],
                     models: tuple[str, ...]) -> TargetCounts:
    """The subset's ids against the group's devices among them, each refused for its first reason."""
    found = {device.device_id: device for device in members}
    ids = list(dict.fromkeys(device_ids))
    tally = {"not_in_group": 0, "edge": 0, "model_mismatch": 0, "offline": 0}
    for device_id in ids:
        device = found.get(device_id)
        reason = ("not_in_group" if device is None else "edge" if device.is_edge
                  else "model_mismatch" if mismatches(device.model_id, models)
                  else "offline" if device.connection_state == DISCONNECTED else None)
        if reason:
            tally[reason] += 1
    return TargetCounts(targets=len(ids), subset=True, **tally)


# Batches and the estimate


@dataclass(frozen=True)
class BatchPlan:
    count: int
    size: int
    last_size: int


def batch_plan(batch: dict[str, Any] | None, planned: int) -> BatchPlan | None:
    """The rollout batches a run would cut from `planned` devices (shared/domain/rollout.py)."""
    if batch is None or planned == 0:
        return None
    size = batch_size(batch, planned)
    count = math.ceil(planned / size)
    return BatchPlan(count, min(size, planned), planned - size * (count - 1))


@dataclass(frozen=True)
class Estimate:
    seconds: float
    planning_seconds: float
    sending_seconds: float
    devices_per_minute: float | None  # the pace that bounds sending; None when nothing does
    limited_by: str | None  # twinUpdates, directMethods, rolloutRate, or None


def planning_queries(counts: TargetCounts) -> int:
    """The planner's queries: a page of the group at a time (at least one), or 50 subset ids a query."""
    if counts.subset:
        return math.ceil(counts.targets / SUBSET_CHUNK)
    return max(1, math.ceil(counts.planned / PLANNING_PAGE))


def planning_seconds(queries: int, quotas: HubQuotas) -> float:
    """Queries past planning's part of a minute's budget wait for the query pace."""
    if not quotas.queries_per_minute:
        return 0.0
    burst = max(1.0, quotas.queries_per_minute * quotas.planning_share)
    return max(0.0, queries - burst) * 60 / quotas.queries_per_minute


def sending_seconds(devices: int, hub_per_minute: float | None,
                    rollout_rate: dict | None) -> tuple[float, float | None, bool]:
    """Seconds to start `devices`, the pace the last ones go at (None: nothing bounds it), and
    whether the job's rollout rate is what bounds it. An exponential rate starts at its base and
    grows by its factor after each step's devices, up to maximumPerMinute (else the most a
    rolloutRate may say) and the hub's pace; its devices are counted as notified, so a rate that
    grows on successes is taken as if every device succeeded."""
    rate = rollout_rate or {}
    cap, ramp = rate.get("maximumPerMinute"), rate.get("exponentialRate")
    limit = min((pace for pace in (cap, hub_per_minute) if pace), default=None)
    if not ramp:
        seconds = devices * 60 / limit if limit else 0.0
        return seconds, limit, bool(cap) and cap == limit
    ceiling = min(cap or MAX_ROLLOUT_RATE_PER_MINUTE, hub_per_minute or math.inf)  # the ramp's, as the planner's
    pace, seconds, left = float(ramp["baseRatePerMinute"]), 0.0, devices
    criteria = ramp["rateIncreaseCriteria"]
    step = criteria.get("numberOfNotifiedDevices") or criteria.get("numberOfSucceededDevices")
    while left > 0 and pace < ceiling:
        chunk = min(step, left)
        seconds, left = seconds + chunk * 60 / pace, left - chunk
        if left:
            pace = min(pace * ramp["incrementFactor"], ceiling)
    seconds += left * 60 / ceiling
    return seconds, pace, hub_per_minute is None or ramp["baseRatePerMinute"] < hub_per_minute


def estimate(counts: TargetCounts, job: Job, quotas: HubQuotas, from_export: bool = False) -> Estimate:
    """A lower bound: the job alone on the hub, devices answering at once, no pause or window waited.
    Planning `from_export` is one jobs operation, whatever the group's size (the hub's own time to
    write the export is not known ahead, and sending starts with the first page)."""
    planning = 0.0 if from_export else planning_seconds(planning_queries(counts), quotas)
    hub_per_minute, hub_quota = hub_pace(job.operations, quotas)
    sending, pace, by_rate = sending_seconds(counts.to_send, hub_per_minute, getattr(job, "rollout_rate", None))
    limited_by = "rolloutRate" if by_rate else hub_quota if pace else None
    return Estimate(round(planning + sending, 1), round(planning, 1), round(sending, 1),
                    round(pace, 1) if pace else None, limited_by if counts.to_send else None)


# The answer (ours, camelCase like the rest of the API)


class PreviewRefusal(ResponseModel):
    code: Literal["DeviceNotInGroup", "EdgeDeviceNotSupported", "EdgeNotSupported", "ModelMismatch"] = Field(
        description="DeviceNotInGroup and EdgeDeviceNotSupported: ids of `devices`, which make the run itself "
                    "answer 400 naming `devices[i]`; EdgeNotSupported and ModelMismatch: devices of the group "
                    "that would fail at planning with this error code, without being sent anything.")
    count: int
    refuses_run: bool = Field(description="True when POST /jobs/{id}/run would be refused (400) for these.")


class PreviewBatches(ResponseModel):
    count: int = Field(description="Rollout batches, cut in device id order from every device that gets a row "
                                   "(refused ones fail in their batch, as in a run).")
    size: int = Field(description="Devices in each batch but the last.")
    last_size: int = Field(description="Devices in the last batch.")
    pause_after_each: bool = Field(description="The job would stop after each batch but the last until resumed; "
                                               "the estimate does not count those waits.")


class PreviewEstimate(ResponseModel):
    seconds: float = Field(description="Planning plus sending, at the hub's quotas and the job's rollout rate: a "
                                       "lower bound (the job alone on the hub, devices answering at once, no "
                                       "pause or maintenance window waited for).")
    planning_seconds: float = Field(description="Reading the group at HUB_QUERIES_PER_MINUTE: a query per 98 "
                                                "devices, 50 ids of a subset; 0 when the group is planned from "
                                                "a registry export (PLAN_FROM_REGISTRY_EXPORT), one jobs operation.")
    sending_seconds: float
    devices_per_minute: float | None = Field(None, description="The pace that bounds sending; left out when none.")
    limited_by: Literal["twinUpdates", "directMethods", "rolloutRate"] | None = Field(
        None, description="HUB_TWIN_UPDATES_PER_SECOND, HUB_METHOD_UNITS_PER_SECOND, or the job's rolloutRate.")


class PreviewHubLimits(ResponseModel):
    twin_updates_per_second: float
    method_units_per_second: float
    queries_per_minute: float


class JobPreview(ResponseModel):
    """A dry run of a draft (an extension): what a run would do now, with nothing written."""
    job_id: str
    etag: str | None = Field(None, description="The draft's ETag as previewed: run it with If-Match to run "
                                               "exactly this definition.")
    group: str
    targets: int = Field(description="Devices the job names: the group's, or the ids of `devices`.")
    refused: int = Field(description="Of the targets, those a run would refuse at once.")
    refusals: list[PreviewRefusal] = Field(description="The refused, per reason (each device once, for its first).")
    to_send: int = Field(description="Targets that would be sent the operations.")
    offline: int = Field(description="Of those to send to, the ones IoT Hub has disconnected now.")
    batches: PreviewBatches | None = Field(None, description="With `batch`: the rollout batches.")
    estimated_duration: PreviewEstimate
    hub_limits: PreviewHubLimits = Field(description="The quotas the estimate used (this app's settings).")


def preview_job(job_id: str, ctx: Collaborators) -> JobPreview:
    """`POST /jobs/{id}/preview`: drafts only (a job already run has its answer in its progress,
    batches and device rows, so asking again is 409)."""
    job = ctx.jobs.get(job_id)
    if job.status is not JobStatus.DRAFT or job.deleting:
        raise IllegalTransition(f"job {job_id}", "being deleted" if job.deleting else job.status.value,
                                "preview (only drafts are previewed; GET the job and its devices instead)")
    group = group_of(job, ctx.groups)
    counts = _counts(job, group, _reads(ctx.hub))
    return _view(job, counts, HubQuotas.of(ctx.settings), plans_from_export(job, group.hub_query, ctx.exports_on))


def _counts(job: Job, group: DeviceGroup, hub) -> TargetCounts:
    condition = _condition(group)
    models = model_required(job.operations)
    if job.devices:
        queries = [subset_query(list(job.devices[start:start + SUBSET_CHUNK]), SUBSET_FIELDS, group.hub_query)
                   for start in range(0, len(job.devices), SUBSET_CHUNK)]
        return counts_of_subset(job.devices, asked(lambda: list(hub.query_each(queries)), "group"), models)
    queries = [_count_query("capabilities.iotEdge", "edge", condition)]
    if len(models) <= 1:
        sendable = [condition, "capabilities.iotEdge = false"] + [f"modelId = {_literal(model)}" for model in models]
        queries.append(_count_query("connectionState", "state", *sendable))
    rows = asked(lambda: hub.count_devices(queries), "group")
    return counts_of_group(rows[0], rows[1] if len(rows) > 1 else None)


def _count_query(path: str, alias: str, *conditions: str | None) -> str:
    where = " AND ".join(f"({condition})" for condition in conditions if condition)
    return f"SELECT COUNT() AS n, {path} AS {alias} FROM devices" + (f" WHERE {where}" if where else "") + \
        f" GROUP BY {path}"


def _condition(group: DeviceGroup) -> str | None:
    """The group's condition (what follows WHERE in its query), None for every device."""
    try:
        query = group.hub_query
    except InvalidGroupFilter as error:
        raise TargetRefused("group", f"Device group '{group.id}' is corrupted: its filter {error.message}",
                            "DeviceGroupCorrupted") from None
    parts = _WHERE.split(query, maxsplit=1)  # the query starts `SELECT * FROM devices`: the first is the clause
    condition = parts[1].strip() if len(parts) == 2 else ""
    return condition or None


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _reads(hub):
    """The gateway's reads view (the interactive share of the query budget); a stand-in hub as is."""
    return getattr(hub, "for_reads", None) or hub


_REASONS = (("not_in_group", "DeviceNotInGroup", True), ("edge", DeviceErrorCode.EDGE_NOT_SUPPORTED.value, False),
            ("model_mismatch", DeviceErrorCode.MODEL_MISMATCH.value, False))


def _view(job: Job, counts: TargetCounts, quotas: HubQuotas, from_export: bool) -> JobPreview:
    refusals = []
    for name, code, refuses_run in _REASONS:
        count = getattr(counts, name)
        if name == "edge" and counts.subset:
            code, refuses_run = "EdgeDeviceNotSupported", True  # an edge id of the subset refuses the run
        if count:
            refusals.append(PreviewRefusal(code=code, count=count, refuses_run=refuses_run))
    plan, guess = batch_plan(job.batch, counts.planned), estimate(counts, job, quotas, from_export)
    return JobPreview(
        job_id=job.id, etag=job.etag, group=job.group_id, targets=counts.targets,
        refused=counts.not_in_group + counts.edge + counts.model_mismatch, refusals=refusals,
        to_send=counts.to_send, offline=counts.offline,
        batches=plan and PreviewBatches(count=plan.count, size=plan.size, last_size=plan.last_size,
                                        pause_after_each=bool(job.batch.get("pauseAfterEach"))),
        estimated_duration=PreviewEstimate(seconds=guess.seconds, planning_seconds=guess.planning_seconds,
                                           sending_seconds=guess.sending_seconds,
                                           devices_per_minute=guess.devices_per_minute, limited_by=guess.limited_by),
        hub_limits=PreviewHubLimits(twin_updates_per_second=quotas.twin_updates_per_second,
                                    method_units_per_second=quotas.method_units_per_second,
                                    queries_per_minute=quotas.queries_per_minute))
