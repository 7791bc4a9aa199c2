"""The daily retention run deletes audit entries older than AUDIT_RETENTION_DAYS, and only those."""
from __future__ import annotations

from datetime import timedelta

from retention.audit import purge_audit_log
from shared.domain.access import Action, AuditEntry, Caller, Outcome
from shared.repositories.in_memory import InMemoryAuditLog
from shared.settings import Settings
from tests.fakes import FakeClock, collaborators


def entry(at, resource: str) -> AuditEntry:
    return AuditEntry(time=at, caller=Caller.system("test"), action=Action.STOP_JOB, resource=resource,
                      outcome=Outcome.SUCCEEDED, request_id="r-" + resource)


def test_entries_older_than_the_retention_are_deleted_and_newer_ones_kept():
    clock, log = FakeClock(), InMemoryAuditLog()
    now = clock()
    for days, resource in ((91, "jobs/old"), (89, "jobs/kept"), (0, "jobs/today")):
        log.append(entry(now - timedelta(days=days), resource))
    c = collaborators(clock=clock, audit_log=log, settings=Settings(AUDIT_RETENTION_DAYS=90))

    assert purge_audit_log(c) == 1

    entries, following = log.page(10)
    assert following is None and [e.resource for e in entries] == ["jobs/today", "jobs/kept"]
