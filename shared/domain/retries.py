"""Retries by failure class (a job's `retry`, after AWS IoT Jobs' jobExecutionsRetryConfig).

A device whose attempt fails with a class the job lists is tried again later instead of
failing: its row goes back to `pending` (keeping the error it last met) and a dispatch message
for it is sent with a delay, an exponential backoff with jitter. It counts once in the job's
progress whatever its attempts, and fails for good once its retries for that class are spent.

What may be tried again depends on what the failure proves:
- a property or cloud-property write is idempotent: any listed class may be retried.
- a command is retried only when the failure shows the device never ran it: `DeviceNotOnline`
  (the hub had no connection to deliver it on) and `Throttled` (the hub refused the call).
  `DeviceRejected` (the device ran its handler and answered an error) only when the job lists
  it by name, never through "all"; `Timeout` and `OutcomeUnknown` never: the device may have run it.
  Nor is a device whose attempt ran a command before a later step failed (the retry would run
  that command again).
- `numberOfRetries` counts the device's attempts, whatever their classes: a device retried once
  for `DeviceNotOnline` has used one retry of `Throttled` too.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any, Callable

from shared.domain.devices import DeviceErrorCode, DeviceOutcome
from shared.domain.errors import InvalidField
from shared.domain.operations import Operation, commands

ALL = "all"
RETRYABLE = (DeviceErrorCode.DEVICE_NOT_ONLINE, DeviceErrorCode.TIMEOUT, DeviceErrorCode.THROTTLED,
             DeviceErrorCode.DEVICE_REJECTED)
FAILURE_TYPES = tuple(code.value for code in RETRYABLE) + (ALL,)
_COMMAND_RETRYABLE = (DeviceErrorCode.DEVICE_NOT_ONLINE, DeviceErrorCode.THROTTLED)

MAX_RETRIES = 10
DEFAULT_INITIAL_SECONDS = 30
# Retries come before the stall watchdog would look at a job whose counters stand still (15 min).
MAX_BACKOFF_SECONDS = 600


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries each failure class gets, and how long to wait before each."""

    retries: dict[str, int]  # failure type (or "all") → retries
    initial_seconds: float = DEFAULT_INITIAL_SECONDS
    maximum_seconds: float = MAX_BACKOFF_SECONDS

    @classmethod
    def of(cls, retry: dict[str, Any] | None) -> "RetryPolicy":
        """From a job's `retry` as stored (API field names); none: no retries."""
        if not retry:
            return NO_RETRIES
        backoff = retry.get("backoff") or {}
        return cls({item["failureType"]: item["numberOfRetries"] for item in retry.get("criteria", ())},
                   backoff.get("initialSeconds", DEFAULT_INITIAL_SECONDS),
                   backoff.get("maximumSeconds", MAX_BACKOFF_SECONDS))

    def retries_for(self, code: DeviceErrorCode | None, operations: tuple[Operation, ...]) -> int:
        if code not in RETRYABLE:
            return 0
        named = self.retries.get(code.value)
        if commands(operations):
            if code is DeviceErrorCode.DEVICE_REJECTED:
                return named or 0
            if code not in _COMMAND_RETRYABLE:
                return 0
        return named if named is not None else self.retries.get(ALL, 0)

    def backoff_seconds(self, attempt: int, uniform: Callable[[float, float], float] = random.uniform) -> float:
        """The wait after failed attempt `attempt` (1-based): doubling from the initial wait up to
        the maximum, then drawn from its upper half so that devices that failed together do not
        all come back at once."""
        ceiling = min(self.maximum_seconds, self.initial_seconds * 2 ** (attempt - 1))
        return uniform(ceiling / 2, ceiling)

    def judged(self, outcome: DeviceOutcome, previous_attempts: int, operations: tuple[Operation, ...],
               uniform: Callable[[float, float], float] = random.uniform) -> DeviceOutcome:
        """The outcome of attempt `previous_attempts + 1`, to be tried again (`retry_in` set) if
        the job's retries for its failure class are not spent."""
        attempt = previous_attempts + 1
        judged = replace(outcome, attempt=attempt)
        if outcome.succeeded or not outcome.retryable or attempt > self.retries_for(outcome.error_code, operations):
            return judged
        return replace(judged, retry_in=self.backoff_seconds(attempt, uniform))


NO_RETRIES = RetryPolicy({})


def validate_retry(retry: dict[str, Any] | None, operations: tuple[Operation, ...]) -> None:
    """A criterion that could never apply to this job is a mistake worth saying."""
    for index, criterion in enumerate((retry or {}).get("criteria", ())):
        if criterion["failureType"] == DeviceErrorCode.TIMEOUT.value and commands(operations):
            raise InvalidField(f"retry.criteria[{index}].failureType",
                               "Timeout is never retried in a job with commands: the device may have run the command.")
