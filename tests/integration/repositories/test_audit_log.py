"""The audit log, against Azurite and the in-memory fake: entries round trip, pages run newest
first across days, filters and continuations, and purges remove exactly the older entries."""
import random
from datetime import datetime, timedelta

import pytest

from shared.domain.access import OPERATOR, Action, AuditEntry, Caller, CallerKind, Outcome
from shared.domain.errors import InvalidField
from shared.repositories.audit_log import AuditLog, partition_key
from tests.integration.repositories.conftest import NOW

ALICE = Caller(CallerKind.USER, "alice", "Alice Example", (OPERATOR.id,))
DEPLOYER = Caller(CallerKind.API_TOKEN, "deployer", "deployer")


def an_entry(time: datetime = NOW, caller: Caller = ALICE, resource: str = "jobs/reboot-west", **changes) -> AuditEntry:
    fields = {"time": time, "caller": caller, "action": Action.STOP_JOB, "resource": resource,
              "outcome": Outcome.SUCCEEDED, "request_id": "req-1"}
    return AuditEntry(**{**fields, **changes})


def walk(audit_log, size: int, **filters) -> list[list[AuditEntry]]:
    pages, continuation = [], None
    while True:
        entries, continuation = audit_log.page(size, continuation, **filters)
        assert len(entries) <= size
        pages.append(entries)
        if continuation is None:
            return pages
        assert isinstance(continuation, str)


def flat(pages: list[list[AuditEntry]]) -> list[AuditEntry]:
    return [entry for page in pages for entry in page]


def spread_over_days(audit_log, count: int, days: int = 3) -> list[AuditEntry]:
    """`count` entries over the last `days` days, appended out of order; returned newest first."""
    times = [NOW - timedelta(days=days) * index / count + timedelta(microseconds=index) for index in range(count)]
    random.Random(7).shuffle(times)
    stored = [audit_log.append(an_entry(time, resource=f"jobs/job-{index % 3}", caller=(ALICE, DEPLOYER)[index % 2]))
              for index, time in enumerate(times)]
    return sorted(stored, key=lambda entry: entry.time, reverse=True)


def test_an_entry_round_trips_every_field(audit_log):
    entry = an_entry(NOW + timedelta(microseconds=123456), outcome=Outcome.FORBIDDEN, code="Forbidden",
                     action=Action.MANAGE_USERS, resource="users/bob", request_id="req-42")
    stored = audit_log.append(entry)
    assert stored.id and stored == AuditEntry(**{**entry.__dict__, "id": stored.id})
    assert audit_log.page(10) == ([stored], None)


def test_anonymous_refusals_round_trip(audit_log):
    stored = audit_log.append(an_entry(caller=Caller.anonymous(), outcome=Outcome.UNAUTHENTICATED,
                                       code="Unauthenticated"))
    assert audit_log.page(1)[0] == [stored]


def test_entries_of_one_microsecond_never_collide(audit_log):
    ids = {audit_log.append(an_entry(request_id=f"req-{index}")).id for index in range(20)}
    assert len(ids) == 20
    assert len(flat(walk(audit_log, 7))) == 20


def test_pages_run_newest_first_across_days(audit_log):
    expected = spread_over_days(audit_log, 30, days=3)
    assert len({partition_key(entry.time) for entry in expected}) >= 3
    pages = walk(audit_log, 4)
    assert [entry.id for entry in flat(pages)] == [entry.id for entry in expected]
    assert len(pages) >= 8 and all(len(page) == 4 for page in pages[:7])


def test_one_page_can_hold_the_whole_log(audit_log):
    expected = spread_over_days(audit_log, 12)
    assert audit_log.page(1000) == (expected, None)


def test_an_empty_log_has_one_empty_page(audit_log):
    assert audit_log.page(10) == ([], None)


def test_a_continuation_resumes_where_its_page_ended(audit_log):
    expected = spread_over_days(audit_log, 9)
    first, continuation = audit_log.page(5)
    assert first == expected[:5]
    audit_log.append(an_entry(NOW + timedelta(hours=1)))  # newer than the walk: not in its rest
    rest = flat(walk_from(audit_log, 5, continuation))
    assert rest == expected[5:]


def walk_from(audit_log, size: int, continuation: str) -> list[list[AuditEntry]]:
    pages = []
    while continuation is not None:
        entries, continuation = audit_log.page(size, continuation)
        pages.append(entries)
    return pages


def test_filters_by_resource_by_caller_and_both_across_pages(audit_log):
    expected = spread_over_days(audit_log, 30)
    by_resource = [entry for entry in expected if entry.resource == "jobs/job-1"]
    by_caller = [entry for entry in expected if entry.caller.id == "deployer"]
    both = [entry for entry in by_resource if entry in by_caller]
    assert flat(walk(audit_log, 3, resource="jobs/job-1")) == by_resource
    assert flat(walk(audit_log, 4, caller_id="deployer")) == by_caller
    assert flat(walk(audit_log, 2, resource="jobs/job-1", caller_id="deployer")) == both
    assert flat(walk(audit_log, 5, resource="jobs/none")) == []


def test_filter_values_are_values_not_query_text(audit_log):
    audit_log.append(an_entry(resource="jobs/o'brien"))
    assert len(audit_log.page(10, resource="jobs/o'brien")[0]) == 1
    assert audit_log.page(10, resource="x' or resource ne 'x")[0] == []


@pytest.mark.parametrize("size", [0, 1001, -1, True])
def test_page_sizes_outside_1_to_1000_are_refused(audit_log, size):
    with pytest.raises(InvalidField):
        audit_log.page(size)


@pytest.mark.parametrize("continuation", ["garbage", "eyJmb28iOiAxfQ"])
def test_continuations_the_log_did_not_issue_are_refused(audit_log, continuation):
    with pytest.raises(InvalidField):
        audit_log.page(10, continuation)


def test_purge_removes_only_the_older_entries_and_counts_them(audit_log):
    cutoff = NOW - timedelta(days=2, hours=3)
    times = [NOW - timedelta(days=5) + timedelta(minutes=50) * index for index in range(170)]
    times += [NOW - timedelta(days=4) + timedelta(seconds=index) for index in range(130)]  # > one transaction
    times += [cutoff - timedelta(microseconds=1), cutoff, cutoff + timedelta(microseconds=1)]
    stored = [audit_log.append(an_entry(time)) for time in times]
    kept = sorted((entry for entry in stored if entry.time >= cutoff), key=lambda entry: entry.time, reverse=True)
    assert audit_log.purge_before(cutoff) == len(stored) - len(kept)
    assert flat(walk(audit_log, 1000)) == kept
    assert audit_log.purge_before(cutoff) == 0


def test_a_purge_at_midnight_keeps_the_whole_day(audit_log):
    midnight = NOW.replace(hour=0)
    stored = [audit_log.append(an_entry(midnight + offset))
              for offset in (timedelta(microseconds=-1), timedelta(0), timedelta(hours=23))]
    assert audit_log.purge_before(midnight) == 1
    assert [entry.id for entry in flat(walk(audit_log, 10))] == [stored[2].id, stored[1].id]


def test_entries_are_partitioned_by_day_and_their_id_is_the_row_key(table_service, table_name):
    audit_log = AuditLog(table_service, table_name)
    today, yesterday = audit_log.append(an_entry(NOW)), audit_log.append(an_entry(NOW - timedelta(days=1)))
    rows = {row["RowKey"]: row for row in table_service.get_table_client(table_name).list_entities()}
    assert set(rows) == {today.id, yesterday.id}
    assert rows[today.id]["PartitionKey"] == "79738873"  # 99999999 - 20261126
    assert rows[yesterday.id]["PartitionKey"] == "79738874"
    assert set(rows[today.id]) == {"PartitionKey", "RowKey", "time", "callerKind", "callerId", "callerName",
                                   "callerRoles", "action", "resource", "outcome", "requestId"}
