"""Acknowledged completion of properties (an operation's `completion: "acknowledged"`).

An IoT Plug and Play device acknowledges a writable property in its reported properties:
`{"fanSpeed": {"value": 3, "ac": 200, "av": 7, "ad": "completed"}}` (in a component, under the
component's name), where `av` is the desired version it applied and `ac` an HTTP-like status.
The job wrote the value at desired version v, so the device has answered once `av` >= v (a later
write of the same property, acknowledged, answers for this one too): `ac` 2xx completes it
(but 202, "in progress", and 203, the device's own start-up value), `ac` >= 400 fails it with
the device's `ad`. Anything else is no answer yet.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from shared.domain.devices import DeviceErrorCode, DeviceOutcome, JobDevice
from shared.domain.errors import InvalidField
from shared.domain.operations import Operation, acknowledged

_NOT_AN_ANSWER = (202, 203)
FIRST_LOOK_SECONDS = 5  # an online device acknowledges a write within a few seconds
LONGEST_LOOK_SECONDS = 60


def validate_timeout(timeout: dict | None, operations: tuple[Operation, ...]) -> None:
    """The in-progress timeout bounds the wait for acknowledgements: without one to wait for, it
    would bound nothing."""
    if timeout and not acknowledged(operations):
        raise InvalidField("timeout", "bounds the wait for acknowledgements, and no operation has completion "
                                      "acknowledged; add one, or leave timeout out.")


def verdict(operations: tuple[Operation, ...], reported: dict | None, row: JobDevice) -> DeviceOutcome | None:
    """The device's outcome from its reported properties, or None while it has not answered
    for every acknowledged property. `reported` None: the device no longer exists."""
    if reported is None:
        return _ended(row, False, DeviceErrorCode.DEVICE_NOT_FOUND,
                      "The device was deleted before it acknowledged the job's properties.")
    for operation in acknowledged(operations):
        answer = _answer(reported, operation)
        if answer is None or not isinstance(answer.get("av"), int) or answer["av"] < row.awaiting_version:
            return None
        code = answer.get("ac")
        if isinstance(code, int) and code >= 400:
            description = str(answer.get("ad") or "no description")
            return _ended(row, False, DeviceErrorCode.DEVICE_REJECTED,
                          f"The device rejected {operation.path} (ac {code}): {description}")
        if not isinstance(code, int) or not 200 <= code < 300 or code in _NOT_AN_ANSWER:
            return None
    return _ended(row, True)


def timed_out(row: JobDevice, limit: timedelta, now: datetime) -> DeviceOutcome | None:
    """A Timeout failure once the device waited longer than `limit`, else None."""
    if row.awaiting_since is None or now - row.awaiting_since < limit:
        return None
    minutes = limit.total_seconds() / 60
    return _ended(row, False, DeviceErrorCode.TIMEOUT,
                  f"The device did not acknowledge desired version {row.awaiting_version} within {minutes:g} minutes.")


def next_look_seconds(row: JobDevice, now: datetime, limit: timedelta) -> float:
    """When to look again: soon after the write, then less often (a quarter of the time waited
    so far, 5 s to 60 s), and not after the deadline."""
    waited = (now - row.awaiting_since).total_seconds() if row.awaiting_since else 0
    left = limit.total_seconds() - waited
    return max(1.0, min(LONGEST_LOOK_SECONDS, max(FIRST_LOOK_SECONDS, waited / 4), left + 1))


def _answer(reported: dict, operation: Operation) -> dict | None:
    section = reported.get(operation.component) if operation.component else reported
    answer = section.get(operation.name) if isinstance(section, dict) else None
    return answer if isinstance(answer, dict) else None


def _ended(row: JobDevice, succeeded: bool, code: DeviceErrorCode | None = None, message: str | None = None
           ) -> DeviceOutcome:
    """The outcome that ends the attempt which wrote the value (the row's last)."""
    return DeviceOutcome(row.device_id, succeeded, code, message, attempt=row.attempts)
