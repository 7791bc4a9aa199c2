"""Batches: ranges of consecutive device ids, so one range query reads a batch's rows.

Ids must come in ascending order (the order of Table Storage row keys; the repositories'
key encoding preserves it), which is how the planner reads them back from the job's rows.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from shared.domain.limits import MAX_BATCH_SIZE


@dataclass(frozen=True)
class DeviceBatch:
    """Device ids first..last, both included, as they sort; `size` ids were in it when planned."""

    first_device_id: str
    last_device_id: str
    size: int

    def contains(self, device_id: str) -> bool:
        return self.first_device_id <= device_id <= self.last_device_id


def batches_of(device_ids: Iterable[str], size: int = MAX_BATCH_SIZE) -> Iterator[DeviceBatch]:
    """Group ascending ids into batches of at most `size`; streams, holding one batch's bounds."""
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch size must be 1..{MAX_BATCH_SIZE}")
    first = previous = None
    count = 0
    for device_id in device_ids:
        if previous is not None and device_id <= previous:
            raise ValueError(f"device ids must ascend: {device_id!r} after {previous!r}")
        if count == size:
            yield DeviceBatch(first, previous, count)
            first, count = None, 0
        first = device_id if first is None else first
        previous, count = device_id, count + 1
    if count:
        yield DeviceBatch(first, previous, count)
