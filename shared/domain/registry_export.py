"""Which jobs an export of IoT Hub's registry can plan: the planner (dispatcher.export_planning)
plans them from the export, and the preview estimates their planning as one jobs operation
instead of a twin query per page."""
from __future__ import annotations

from shared.domain.jobs import Job
from shared.domain.twin_filter import TwinFilter, compile_filter

# What a registry export holds of a device beyond its tags and properties: IoT Hub's export has
# no modelId, connection state or activity times.
EXPORTED_ROOT_FIELDS = frozenset({"deviceId", "status", "capabilities.iotEdge"})


def exportable(job: Job) -> bool:
    """A group's whole set (not a rerun or an explicit subset), and no operation that targets a
    model (the export does not say a device's model)."""
    return not (job.rerun_of or job.devices) and not any(operation.target for operation in job.operations)


def export_condition(hub_query: str) -> TwinFilter | None:
    """The group's condition over exported devices; None when it reads what an export lacks, or
    what the evaluator does not evaluate exactly as IoT Hub."""
    return compile_filter(hub_query, EXPORTED_ROOT_FIELDS)


def plans_from_export(job: Job, hub_query: str, exports_on: bool) -> bool:
    """Whether a run of `job` over a group with `hub_query` is planned from an export, exports
    being on (PLAN_FROM_REGISTRY_EXPORT with a place to write them)."""
    return exports_on and exportable(job) and export_condition(hub_query) is not None
