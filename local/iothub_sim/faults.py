"""Injected faults: the next N calls of an operation class fail with 429/500/503 or get extra latency."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .errors import INJECTABLE_STATUSES, ArgumentInvalid, IotHubError
from .throttling import OPERATION_CLASSES

ANY_CLASS = "*"


@dataclass
class Fault:
    operation_class: str
    remaining: int
    status: int | None = None
    latency_seconds: float = 0.0

    def error(self) -> IotHubError | None:
        if self.status is None:
            return None
        return INJECTABLE_STATUSES[self.status](f"Injected fault ({self.status}) for '{self.operation_class}'")

    def to_dict(self) -> dict:
        return {"operationClass": self.operation_class, "remaining": self.remaining,
                "status": self.status, "latencyMs": self.latency_seconds * 1000}


class FaultInjector:
    def __init__(self) -> None:
        self.faults: deque[Fault] = deque()

    def inject(self, operation_class: str, count: int, status: int | None, latency_ms: float) -> Fault:
        if operation_class != ANY_CLASS and operation_class not in OPERATION_CLASSES:
            raise ArgumentInvalid(f"unknown operation class {operation_class!r}; use one of {OPERATION_CLASSES} or '*'")
        if status is not None and status not in INJECTABLE_STATUSES:
            raise ArgumentInvalid(f"status must be one of {sorted(INJECTABLE_STATUSES)}")
        if count < 1 or (status is None and latency_ms <= 0):
            raise ArgumentInvalid("a fault needs count >= 1 and a status or a positive latencyMs")
        fault = Fault(operation_class, count, status, latency_ms / 1000)
        self.faults.append(fault)
        return fault

    def take(self, operation_class: str) -> Fault | None:
        """The first pending fault for this class, counted as used by this call."""
        if not self.faults:
            return None
        for fault in self.faults:
            if fault.operation_class in (operation_class, ANY_CLASS):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self.faults.clear()

    def to_list(self) -> list[dict]:
        return [fault.to_dict() for fault in self.faults]
