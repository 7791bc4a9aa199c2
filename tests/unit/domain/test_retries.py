"""Which failures a job's `retry` tries again, and how long it waits."""
from __future__ import annotations

import pytest

from shared.domain.devices import DeviceErrorCode, DeviceOutcome, DeviceStatus, JobDevice
from shared.domain.operations import Operation, OperationType
from shared.domain.retries import NO_RETRIES, RetryPolicy
from tests.fakes import START

PROPERTY = (Operation(OperationType.PROPERTY, "fanSpeed", 3),)
COMMAND = (Operation(OperationType.COMMAND, "reboot", None),)
UPPER = lambda low, high: high  # noqa: E731 - the jitter's largest draw


def failure(code: DeviceErrorCode) -> DeviceOutcome:
    return DeviceOutcome.failure("dev", code, "it failed")


def policy(*criteria, **backoff) -> RetryPolicy:
    return RetryPolicy.of({"criteria": [{"failureType": kind, "numberOfRetries": n} for kind, n in criteria],
                           "backoff": backoff})


@pytest.mark.parametrize("code", ["DeviceNotOnline", "Timeout", "Throttled", "DeviceRejected"])
def test_all_retries_every_class_of_a_property_write(code):
    assert policy(("all", 2)).retries_for(DeviceErrorCode(code), PROPERTY) == 2


def test_a_class_named_on_its_own_wins_over_all():
    retry = policy(("all", 3), ("Throttled", 1))
    assert retry.retries_for(DeviceErrorCode.THROTTLED, PROPERTY) == 1
    assert retry.retries_for(DeviceErrorCode.DEVICE_NOT_ONLINE, PROPERTY) == 3


def test_a_command_is_retried_only_when_the_failure_proves_the_device_did_not_run_it():
    retry = policy(("all", 3))
    assert retry.retries_for(DeviceErrorCode.DEVICE_NOT_ONLINE, COMMAND) == 3
    assert retry.retries_for(DeviceErrorCode.THROTTLED, COMMAND) == 3
    assert retry.retries_for(DeviceErrorCode.DEVICE_REJECTED, COMMAND) == 0  # not through "all"
    assert retry.retries_for(DeviceErrorCode.TIMEOUT, COMMAND) == 0
    assert policy(("Timeout", 3)).retries_for(DeviceErrorCode.TIMEOUT, COMMAND) == 0  # not even by name
    assert policy(("DeviceRejected", 2)).retries_for(DeviceErrorCode.DEVICE_REJECTED, COMMAND) == 2


@pytest.mark.parametrize("code", ["OutcomeUnknown", "HubError", "DeviceNotFound", "InvalidValue"])
def test_other_failures_are_never_retried(code):
    assert policy(("all", 10)).retries_for(DeviceErrorCode(code), PROPERTY) == 0


def test_n_retries_mean_n_plus_1_attempts():
    retry = policy(("DeviceNotOnline", 2))
    first = retry.judged(failure(DeviceErrorCode.DEVICE_NOT_ONLINE), 0, COMMAND)
    second = retry.judged(failure(DeviceErrorCode.DEVICE_NOT_ONLINE), 1, COMMAND)
    third = retry.judged(failure(DeviceErrorCode.DEVICE_NOT_ONLINE), 2, COMMAND)
    assert [(o.attempt, o.retry_in is not None, o.status) for o in (first, second, third)] == [
        (1, True, DeviceStatus.PENDING), (2, True, DeviceStatus.PENDING), (3, False, DeviceStatus.FAILED)]


def test_a_success_and_a_job_without_retries_are_final_and_numbered():
    assert NO_RETRIES.judged(failure(DeviceErrorCode.DEVICE_NOT_ONLINE), 0, COMMAND).retry_in is None
    success = policy(("all", 2)).judged(DeviceOutcome.success("dev"), 1, PROPERTY)
    assert (success.attempt, success.retry_in, success.status) == (2, None, DeviceStatus.COMPLETED)


def test_the_backoff_doubles_up_to_its_maximum_and_jitter_takes_up_to_half_off():
    retry = policy(("all", 10), initialSeconds=20, maximumSeconds=100)
    assert [retry.backoff_seconds(n, UPPER) for n in (1, 2, 3, 4)] == [20, 40, 80, 100]
    assert retry.backoff_seconds(1, lambda low, high: low) == 10
    assert policy(("all", 1)).backoff_seconds(1, UPPER) == 30  # the defaults: 30 s, at most 600 s
    assert policy(("all", 10)).backoff_seconds(10, UPPER) == 600


def test_a_row_records_each_attempt_once_and_a_retry_keeps_the_error_it_met():
    row = JobDevice("job", "dev", DeviceStatus.RUNNING)
    retried = row.with_outcome(policy(("all", 1)).judged(failure(DeviceErrorCode.DEVICE_NOT_ONLINE), 0, COMMAND),
                               START)
    assert (retried.status, retried.attempts, retried.error_code, retried.last_attempt_at) == (
        DeviceStatus.PENDING, 1, DeviceErrorCode.DEVICE_NOT_ONLINE, START)
    again = DeviceOutcome("dev", False, DeviceErrorCode.DEVICE_NOT_ONLINE, "x", attempt=1, retry_in=5)
    assert not retried.records(again)  # the same report delivered twice
    claimed = retried.claimed(START, "message-2")
    assert (claimed.status, claimed.attempts, claimed.error_code) == (DeviceStatus.RUNNING, 1, None)
    assert claimed.records(DeviceOutcome("dev", True, attempt=2))
    assert claimed.records(DeviceOutcome.success("dev"))  # an outcome without an attempt, as before attempts
