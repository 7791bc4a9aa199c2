"""What the audit trail keeps of a request, called as jobs_api/http.py `respond()` calls it."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest

from shared.access.audit import AuditTrail
from shared.domain.access import (BUILDER, CHANGES, OPERATOR, VIEWER, Action, AuditEntry, Caller, CallerKind,
                                  Forbidden, IdentityProviderUnavailable, Outcome, RateLimited, Unauthenticated)
from shared.domain.errors import AlreadyExists, ConcurrencyConflict, InvalidField, JobNotFound

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
OPS = Caller(CallerKind.API_TOKEN, "ops", "ops", (OPERATOR.id,))
VIEW = Caller(CallerKind.USER, "ana", "Ana Silva", (VIEWER.id,))
READS = [action for action in Action if action not in CHANGES]


class FakeLog(list):
    def append(self, entry: AuditEntry) -> AuditEntry:
        super().append(entry)
        return entry


class BrokenLog:
    def append(self, entry: AuditEntry) -> AuditEntry:
        raise ConnectionError("table service unreachable")


@pytest.fixture
def log() -> FakeLog:
    return FakeLog()


@pytest.fixture
def trail(log) -> AuditTrail:
    return AuditTrail(log, clock=lambda: NOW)


def entry(caller: Caller, action: Action, resource: str, outcome: Outcome, code: str | None = None) -> AuditEntry:
    return AuditEntry(time=NOW, caller=caller, action=action, resource=resource, outcome=outcome, request_id="req-1",
                      code=code)


@pytest.mark.parametrize("action", sorted(CHANGES, key=lambda action: action.value), ids=lambda action: action.value)
def test_a_succeeded_change_is_recorded(trail, log, action):
    trail.succeeded(OPS, action, "jobs/reboot-west", "req-1")
    assert log == [entry(OPS, action, "jobs/reboot-west", Outcome.SUCCEEDED)]


@pytest.mark.parametrize("action", READS, ids=lambda action: action.value)
def test_a_succeeded_read_is_not_recorded(trail, log, action):
    trail.succeeded(VIEW, action, "jobs", "req-1")
    assert log == []


def test_unauthenticated_is_recorded_with_the_claimed_id(trail, log):
    error = Unauthenticated("The API token is not valid.", "SharedAccessSignature", claimed="stolen")
    trail.refused_or_failed(error, None, Action.DELETE_JOB, "jobs/reboot-west", "req-1", "Unauthorized")
    assert log == [entry(Caller.anonymous("stolen"), Action.DELETE_JOB, "jobs/reboot-west", Outcome.UNAUTHENTICATED,
                         "Unauthorized")]
    assert log[0].caller.kind is CallerKind.ANONYMOUS and log[0].caller.role_ids == ()


def test_unauthenticated_without_a_claim_is_recorded_as_anonymous(trail, log):
    trail.refused_or_failed(Unauthenticated("no credential", "x"), None, Action.READ_JOBS, "jobs", "req-1",
                            "Unauthorized")
    assert [(e.caller.id, e.outcome, e.action) for e in log] == [("", Outcome.UNAUTHENTICATED, Action.READ_JOBS)]


@pytest.mark.parametrize("action", [Action.RUN_JOB, Action.READ_AUDIT_LOGS], ids=lambda action: action.value)
def test_forbidden_is_recorded_with_the_caller_for_changes_and_reads(trail, log, action):
    trail.refused_or_failed(Forbidden(VIEW, action), None, action, "jobs/reboot-west/run", "req-1", "Forbidden")
    assert log == [entry(VIEW, action, "jobs/reboot-west/run", Outcome.FORBIDDEN, "Forbidden")]


@pytest.mark.parametrize("error", [RateLimited(3, 20.0), IdentityProviderUnavailable("keys")],
                         ids=["RateLimited", "IdentityProviderUnavailable"])
def test_rate_limited_and_unjudged_requests_are_not_recorded(trail, log, error):
    trail.refused_or_failed(error, None, Action.DELETE_JOB, "jobs/reboot-west", "req-1", "TooManyRequests")
    assert log == []


@pytest.mark.parametrize("error, code", [
    (AlreadyExists("Job", "reboot-west"), "AlreadyExists"),
    (ConcurrencyConflict("Job", "reboot-west"), "PreconditionFailed"),
    (InvalidField("data[0].type", "unknown"), "InvalidRequest"),
    (JobNotFound("reboot-west"), "NotFound"),
    (RuntimeError("boom"), "InternalServerError"),
], ids=["409", "412", "400", "404", "500"])
def test_a_failed_change_is_recorded_as_failed_with_its_code(trail, log, error, code):
    trail.refused_or_failed(error, OPS, Action.CREATE_JOB, "jobs/reboot-west", "req-1", code)
    assert log == [entry(OPS, Action.CREATE_JOB, "jobs/reboot-west", Outcome.FAILED, code)]


def test_a_failed_read_is_not_recorded(trail, log):
    trail.refused_or_failed(JobNotFound("nope"), VIEW, Action.READ_JOBS, "jobs/nope", "req-1", "NotFound")
    assert log == []


def test_a_failure_before_the_caller_is_known_is_not_recorded_as_failed(trail, log):
    """A 503 of storage while admitting: no one was judged, and there is no caller to name."""
    trail.refused_or_failed(ConnectionError("storage"), None, Action.CREATE_JOB, "jobs/x", "req-1",
                            "ServiceUnavailable")
    assert log == []


def test_entries_carry_the_clocks_time_and_the_request_id(log):
    times = iter([NOW, NOW.replace(minute=1)])
    trail = AuditTrail(log, clock=lambda: next(times))
    trail.succeeded(OPS, Action.STOP_JOB, "jobs/a/stop", "first")
    trail.refused_or_failed(Forbidden(VIEW, Action.MANAGE_GROUPS), None, Action.MANAGE_GROUPS, "deviceGroups/g",
                            "second", "Forbidden")
    assert [(e.time, e.request_id, e.code) for e in log] == [(NOW, "first", None),
                                                             (NOW.replace(minute=1), "second", "Forbidden")]


def test_a_log_that_fails_does_not_fail_the_request(caplog):
    trail = AuditTrail(BrokenLog(), clock=lambda: NOW)
    builder = Caller(CallerKind.SERVICE_PRINCIPAL, "ci", "ci", (BUILDER.id,))
    with caplog.at_level(logging.ERROR, logger="shared.access.audit"):
        trail.succeeded(builder, Action.MANAGE_GROUPS, "deviceGroups/west", "req-9")
        trail.refused_or_failed(Unauthenticated("x", "y", "z"), None, Action.RUN_JOB, "jobs/a/run", "req-10",
                                "Unauthorized")
        trail.refused_or_failed(Forbidden(VIEW, Action.RUN_JOB), None, Action.RUN_JOB, "jobs/a/run", "req-11",
                                "Forbidden")
    assert [record.exc_info[0] for record in caplog.records] == [ConnectionError] * 3
    assert "req-9" in caplog.records[0].getMessage() and "servicePrincipal:ci" in caplog.records[0].getMessage()
