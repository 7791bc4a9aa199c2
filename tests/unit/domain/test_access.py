"""The permission table, cell by cell, against a matrix written out by hand (not derived from
PERMISSIONS): a change to who may do what must change this file too."""
from __future__ import annotations

import pytest

from shared.domain.access import (ADMINISTRATOR, BUILDER, CHANGES, OPERATOR, ROLES, ROLES_BY_ID, VIEWER, Action,
                                  Caller, CallerKind, User, UserType, allowed, validate_access_id, validate_role_ids)
from shared.domain.errors import InvalidField

ADMINISTRATOR_ID = "ca310b8d-2f4a-44e0-a36e-957c202cd8d4"
OPERATOR_ID = "ae2c9854-393b-4f97-8c42-479d70ce626e"
BUILDER_ID = "344138e9-8de4-4497-8c54-5237e96d6aaf"
VIEWER_ID = "6d2b3f0e-5c1a-4f7e-9b8d-2a4e6c8f0b1d"

# Columns: Administrator, Operator, Builder, Viewer. 1 = allowed.
MATRIX: dict[str, tuple[int, int, int, int]] = {
    "deviceGroups.read":         (1, 1, 1, 1),
    "deviceGroups.devices.read": (1, 1, 1, 1),
    "deviceGroups.manage":       (1, 0, 1, 0),
    "jobs.read":                 (1, 1, 1, 1),
    "jobs.devices.read":         (1, 1, 1, 1),
    "jobs.report.read":          (1, 1, 1, 1),
    "history.read":              (1, 1, 1, 1),
    "jobs.create":               (1, 1, 0, 0),
    "jobs.saveDraft":            (1, 1, 0, 0),
    "jobs.edit":                 (1, 1, 0, 0),
    "jobs.run":                  (1, 1, 0, 0),
    "jobs.stop":                 (1, 1, 0, 0),
    "jobs.resume":               (1, 1, 0, 0),
    "jobs.copy":                 (1, 1, 0, 0),
    "jobs.rerun":                (1, 1, 0, 0),
    "jobs.delete":               (1, 1, 0, 0),
    "scheduledJobs.read":        (1, 1, 1, 1),
    "scheduledJobs.manage":      (1, 1, 0, 0),
    "roles.read":                (1, 0, 0, 0),  # as IoT Central: only an Administrator sees Permissions
    "apiTokens.read":            (1, 0, 0, 0),
    "apiTokens.manage":          (1, 0, 0, 0),
    "users.read":                (1, 0, 0, 0),
    "users.manage":              (1, 0, 0, 0),
    "auditLogs.read":            (1, 0, 0, 0),
}
COLUMNS = (ADMINISTRATOR_ID, OPERATOR_ID, BUILDER_ID, VIEWER_ID)
CELLS = [(role_id, action, bool(row[column])) for action, row in MATRIX.items()
         for column, role_id in enumerate(COLUMNS)]
WRITES = {"deviceGroups.manage", "jobs.create", "jobs.saveDraft", "jobs.edit", "jobs.run", "jobs.stop", "jobs.resume",
          "jobs.copy", "jobs.rerun", "jobs.delete", "scheduledJobs.manage", "apiTokens.manage", "users.manage"}


def holding(*role_ids: str) -> Caller:
    return Caller(CallerKind.API_TOKEN, "ci", "ci", role_ids)


def test_the_roles_carry_iot_centrals_ids_and_our_viewer():
    assert [(role.id, role.display_name) for role in ROLES] == [
        (ADMINISTRATOR_ID, "Administrator"), (OPERATOR_ID, "Operator"), (BUILDER_ID, "Builder"),
        (VIEWER_ID, "Viewer")]
    assert (ADMINISTRATOR.id, OPERATOR.id, BUILDER.id, VIEWER.id) == COLUMNS
    assert set(ROLES_BY_ID) == set(COLUMNS)


def test_the_matrix_names_every_action_once():
    assert sorted(MATRIX) == sorted(action.value for action in Action)


@pytest.mark.parametrize("role_id, action, expected", CELLS,
                         ids=[f"{ROLES_BY_ID[r].display_name}-{a}" for r, a, _ in CELLS])
def test_permission_cell(role_id, action, expected):
    assert allowed(holding(role_id), Action(action)) is expected


@pytest.mark.parametrize("action", list(Action), ids=lambda action: action.value)
def test_an_unknown_or_retired_role_grants_nothing(action):
    assert not allowed(holding("00000000-0000-0000-0000-000000000000"), action)
    assert not allowed(holding(ADMINISTRATOR_ID.upper()), action)  # ids are compared exactly
    assert not allowed(holding(), action)


@pytest.mark.parametrize("action", list(Action), ids=lambda action: action.value)
def test_two_roles_grant_their_union(action):
    union = MATRIX[action.value][2] or MATRIX[action.value][1]
    assert allowed(holding(BUILDER_ID, OPERATOR_ID), action) is bool(union)
    assert allowed(holding("retired-role", BUILDER_ID), action) is bool(MATRIX[action.value][2])


def test_builder_and_operator_together_are_still_not_administrator():
    caller = holding(BUILDER_ID, OPERATOR_ID, VIEWER_ID)
    assert allowed(caller, Action.MANAGE_GROUPS) and allowed(caller, Action.RUN_JOB)
    assert not any(allowed(caller, action) for action in Action if action.value.split(".")[0] in
                   ("roles", "apiTokens", "users", "auditLogs"))


def test_changes_are_the_writes():
    assert {action.value for action in CHANGES} == WRITES


def test_the_system_caller_is_an_administrator():
    caller = Caller.system("retention")
    assert (caller.kind, caller.id, caller.role_ids) == (CallerKind.SYSTEM, "retention", (ADMINISTRATOR_ID,))
    assert all(allowed(caller, action) for action in Action)


def test_an_anonymous_caller_may_do_nothing_and_shows_what_it_claimed_but_never_as_its_id():
    caller = Caller.anonymous("stolen-token")
    assert (caller.kind, caller.id, caller.role_ids) == (CallerKind.ANONYMOUS, "", ())
    assert "stolen-token" in caller.display_name  # for the reader of the audit log; a filter by caller id misses it
    assert Caller.anonymous().id == ""
    assert not any(allowed(caller, action) for action in Action)


def test_rate_keys_share_one_bucket_for_every_anonymous_caller():
    assert Caller.anonymous("a").rate_key == Caller.anonymous("b").rate_key == Caller.anonymous().rate_key
    assert holding(VIEWER_ID).rate_key == "apiToken:ci"
    assert Caller(CallerKind.USER, "ci", "ci").rate_key != holding().rate_key  # kinds do not collide


def test_a_caller_as_jobs_record_it():
    actor = Caller(CallerKind.USER, "ana", "Ana Silva", (OPERATOR_ID,)).actor
    assert (actor.type, actor.id, actor.display_name) == ("user", "ana", "Ana Silva")


@pytest.mark.parametrize("value", ["a", "A-z_0-9", "x" * 255])
def test_access_ids_accepted(value):
    assert validate_access_id(value, "tokenId") == value


@pytest.mark.parametrize("value", ["", "x" * 256, "a b", "a/b", "a.b", "é", "a\n", None, 7])
def test_access_ids_refused_naming_the_field(value):
    with pytest.raises(InvalidField) as refusal:
        validate_access_id(value, "tokenId")
    assert refusal.value.field == "tokenId"


def test_role_ids_without_repeats_in_order():
    assert validate_role_ids([VIEWER_ID, OPERATOR_ID, VIEWER_ID]) == (VIEWER_ID, OPERATOR_ID)


def test_role_ids_refused_naming_the_first_unknown():
    with pytest.raises(InvalidField) as refusal:
        validate_role_ids([VIEWER_ID, "nope", "neither"])
    assert refusal.value.field == "roles[1].role"


def test_no_role_ids_refused():
    with pytest.raises(InvalidField) as refusal:
        validate_role_ids([])
    assert refusal.value.field == "roles"


def test_users_are_matched_on_a_normalised_identity():
    person = User("ana", UserType.EMAIL, (VIEWER_ID,), email=" Ana@Contoso.COM ")
    app = User("ci", UserType.SERVICE_PRINCIPAL, (OPERATOR_ID,), tenant_id="T-1 ", object_id=" O-2")
    assert person.identity == "email:ana@contoso.com"
    assert app.identity == "sp:t-1/o-2"
    assert person.as_caller("Ana").kind is CallerKind.USER
    assert app.as_caller("CI") == Caller(CallerKind.SERVICE_PRINCIPAL, "ci", "CI", (OPERATOR_ID,))
