"""What one device of a job costs of the hub's quotas, the pace they allow, and the fair share
of jobs that run at once."""
from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass

from shared.domain.operations import Operation, OperationType

METHOD_METER_BYTES = 4096  # IoT Hub meters direct methods in 4 KB units
# Dispatch messages become visible this much faster than the hub's pace for the job alone, so that
# senders always find one waiting.
FAIR_SHARE_HEADROOM = 1.25


@dataclass(frozen=True)
class HubQuotas:
    """The hub's limits this app paces under (0: not paced), and the part of the query budget
    planning may spend at once (what the reads' share leaves)."""
    twin_updates_per_second: float
    method_units_per_second: float
    queries_per_minute: float
    planning_share: float = 0.75

    @classmethod
    def of(cls, settings) -> "HubQuotas":
        return cls(settings.hub_twin_updates_per_second, settings.hub_method_units_per_second,
                   settings.hub_queries_per_minute, 1 - settings.hub_interactive_query_percent / 100)


def method_units(payload: object) -> int:
    """What one direct-method call costs of the hub's method quota: 4 KB of payload each, at least one."""
    return max(1, math.ceil(len(json.dumps(payload)) / METHOD_METER_BYTES))


def hub_cost(operations: Iterable[Operation]) -> tuple[int, int]:
    """Per device: twin updates, and direct-method units."""
    updates = units = 0
    for operation in operations:
        if operation.type is OperationType.COMMAND:
            units += method_units(operation.value)
        else:
            updates += 1
    return updates, units


def hub_pace(operations: Iterable[Operation], quotas: HubQuotas) -> tuple[float | None, str | None]:
    """Devices a minute the hub's quotas allow, and which quota it is; None when none applies.
    Twin updates and methods are paced apart, so the slower of the two bounds the job."""
    updates, units = hub_cost(operations)
    paces = [(60 * quotas.twin_updates_per_second / updates, "twinUpdates")
             if updates and quotas.twin_updates_per_second else None,
             (60 * quotas.method_units_per_second / units, "directMethods")
             if units and quotas.method_units_per_second else None]
    paces = [pace for pace in paces if pace]
    return min(paces) if paces else (None, None)


def fair_share_delay(devices_before: int, operations: Iterable[Operation], quotas: HubQuotas) -> float:
    """Seconds after a job's first dispatch message that the one after `devices_before` of its
    devices should become visible: at the pace the hub allows the job alone (a little faster).
    The queue hands out messages in the order they become visible, so jobs that run at once
    have their batches interleaved and share the hub evenly; a job alone loses nothing."""
    pace, _ = hub_pace(operations, quotas)
    return devices_before * 60 / (pace * FAIR_SHARE_HEADROOM) if pace else 0.0
