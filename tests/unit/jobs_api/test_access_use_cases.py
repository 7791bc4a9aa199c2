"""Access use cases (jobs_api/access.py) over the in-memory token, user and audit stores."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from jobs_api import access as cases
from jobs_api.models import ApiTokenRequest, UserRequest
from shared.access import api_tokens
from shared.access.api_tokens import CredentialRefused
from shared.access.audit import AuditTrail
from shared.collaborators import Collaborators
from shared.domain.access import (ADMINISTRATOR, BUILDER, OPERATOR, ROLES, VIEWER, Action, ApiTokenNotFound, Caller,
                                  CallerKind, Forbidden, Outcome, UserNotFound, UserType)
from shared.domain.errors import AlreadyExists, InvalidField
from shared.repositories.in_memory import InMemoryApiTokenRepository, InMemoryAuditLog, InMemoryUserRepository
from shared.settings import Settings
from tests.fakes import FakeClock, collaborators

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
ANA = Caller(CallerKind.USER, "ana", "Ana Silva", (ADMINISTRATOR.id,))
TENANT = "72F988BF-86F1-41AF-91AB-2D7CD011DB47"
OBJECT = "0B1C2D3E-4F50-6172-8394-A5B6C7D8E9F0"


@pytest.fixture
def ctx() -> Collaborators:
    return collaborators(api_tokens=InMemoryApiTokenRepository(), users=InMemoryUserRepository(),
                         audit_log=InMemoryAuditLog(), clock=FakeClock(NOW, step=timedelta(0)),
                         settings=Settings(app_name="fleet-west"))


def token_request(*role_ids: str, expiry: str | None = None, **extra) -> ApiTokenRequest:
    body = {"roles": [{"role": role_id} for role_id in role_ids or (OPERATOR.id,)], **extra}
    if expiry is not None:
        body["expiry"] = expiry
    return ApiTokenRequest.model_validate(body)


def email_user(email: str | None = "ana@contoso.com", *role_ids: str, **extra) -> UserRequest:
    body = {"type": "email", "roles": [{"role": r} for r in role_ids or (VIEWER.id,)], **extra}
    if email is not None:
        body["email"] = email
    return UserRequest.model_validate(body)


def service_principal(*role_ids: str, **fields) -> UserRequest:
    body = {"type": "servicePrincipal", "roles": [{"role": r} for r in role_ids or (BUILDER.id,)],
            "tenantId": TENANT, "objectId": OBJECT, **fields}
    return UserRequest.model_validate({name: value for name, value in body.items() if value is not None})


def invalid(call, *args) -> InvalidField:
    with pytest.raises(InvalidField) as refused:
        call(*args)
    return refused.value


# Roles


def test_roles_are_listed_and_read_by_id():
    assert cases.list_roles() == ROLES
    assert cases.get_role(BUILDER.id) == BUILDER


def test_an_unknown_role_is_not_found_naming_at_most_100_characters():
    with pytest.raises(cases.RoleNotFound) as refused:
        cases.get_role("r" * 300)
    assert refused.value.identifier == "r" * 100


# API tokens


def test_a_created_token_verifies_against_the_stored_record(ctx):
    minted = cases.create_api_token("ci-deploy", token_request(OPERATOR.id, VIEWER.id), ctx)
    stored = ctx.api_tokens.get("ci-deploy")
    assert stored == minted.record
    assert api_tokens.verify(minted.token, ctx.api_tokens.get, "fleet-west", NOW) == stored
    assert minted.token.startswith("SharedAccessSignature sr=fleet-west&sig=")
    assert stored.role_ids == (OPERATOR.id, VIEWER.id)


def test_the_stored_record_does_not_hold_the_token(ctx):
    minted = cases.create_api_token("ci-deploy", token_request(), ctx)
    secret = api_tokens.parse(minted.token).secret
    assert all(secret not in repr(record) for record in cases.list_api_tokens(ctx))


def test_created_by_records_the_caller(ctx):
    cases.create_api_token("by-ana", token_request(), replace(ctx, caller=ANA))
    cases.create_api_token("by-app", token_request(), ctx)
    assert cases.get_api_token("by-ana", ctx).created_by == "user:ana"
    assert cases.get_api_token("by-app", ctx).created_by == "system:app"


def test_an_id_in_use_is_already_exists_and_the_first_token_stays_valid(ctx):
    first = cases.create_api_token("ci-deploy", token_request(VIEWER.id), ctx)
    with pytest.raises(AlreadyExists):
        cases.create_api_token("ci-deploy", token_request(ADMINISTRATOR.id), ctx)
    assert api_tokens.verify(first.token, ctx.api_tokens.get, "fleet-west", NOW).role_ids == (VIEWER.id,)


@pytest.mark.parametrize("token_id", ["", "a b", "a/b", "x" * 256])
def test_a_malformed_token_id_is_refused_naming_it(ctx, token_id):
    assert invalid(cases.create_api_token, token_id, token_request(), ctx).field == "tokenId"
    assert ctx.api_tokens.list() == []


def test_an_unknown_role_is_refused_naming_its_index(ctx):
    refused = invalid(cases.create_api_token, "ci", token_request(VIEWER.id, "not-a-role"), ctx)
    assert refused.field == "roles[1].role"
    assert ctx.api_tokens.list() == []


def test_an_organization_is_refused_naming_its_index(ctx):
    request = ApiTokenRequest.model_validate({"roles": [{"role": VIEWER.id},
                                                        {"role": OPERATOR.id, "organization": "seattle"}]})
    assert invalid(cases.create_api_token, "ci", request, ctx).field == "roles[1].organization"


def test_repeated_roles_are_kept_once(ctx):
    minted = cases.create_api_token("ci", token_request(VIEWER.id, OPERATOR.id, VIEWER.id), ctx)
    assert minted.record.role_ids == (VIEWER.id, OPERATOR.id)


def test_the_expiry_defaults_to_one_year(ctx):
    assert cases.create_api_token("ci", token_request(), ctx).record.expiry == NOW + timedelta(days=365)


@pytest.mark.parametrize("expiry, expected", [
    ("2027-01-31T00:00:00Z", datetime(2027, 1, 31, tzinfo=timezone.utc)),
    ("2027-01-31T00:00:00", datetime(2027, 1, 31, tzinfo=timezone.utc)),  # no offset: UTC
    ("2027-01-31T02:00:00+02:00", datetime(2027, 1, 31, tzinfo=timezone.utc)),
    ("2026-11-26T12:00:00.001Z", NOW + timedelta(milliseconds=1)),
    ("2028-11-25T12:00:00Z", NOW + timedelta(days=730)),  # two years exactly
])
def test_an_expiry_in_the_next_two_years_is_taken(ctx, expiry, expected):
    minted = cases.create_api_token("ci", token_request(expiry=expiry), ctx)
    assert minted.record.expiry == expected
    assert api_tokens.parse(minted.token).expiry_ms == int(expected.timestamp() * 1000)


@pytest.mark.parametrize("expiry", [
    "2026-11-26T12:00:00Z",  # now
    "2026-11-26T11:59:59Z",
    "2020-01-01T00:00:00Z",
    "2028-11-25T12:00:00.000001Z",  # a microsecond past two years
    "2030-01-01T00:00:00Z",
    "tomorrow",
    "",
    "2027-13-01T00:00:00Z",
])
def test_an_expiry_past_or_beyond_two_years_or_unreadable_is_refused(ctx, expiry):
    assert invalid(cases.create_api_token, "ci", token_request(expiry=expiry), ctx).field == "expiry"
    assert ctx.api_tokens.list() == []


def test_deleting_a_token_revokes_it_at_once(ctx):
    minted = cases.create_api_token("ci", token_request(), ctx)
    cases.delete_api_token("ci", ctx)
    with pytest.raises(CredentialRefused) as refused:
        api_tokens.verify(minted.token, ctx.api_tokens.get, "fleet-west", NOW)
    assert refused.value.reason == "The API token is not valid."
    with pytest.raises(ApiTokenNotFound):
        cases.get_api_token("ci", ctx)


def test_deleting_an_unknown_token_is_not_found(ctx):
    with pytest.raises(ApiTokenNotFound):
        cases.delete_api_token("nobody", ctx)
    assert invalid(cases.delete_api_token, "a/b", ctx).field == "tokenId"


def test_a_deleted_id_may_be_used_again_with_a_new_secret(ctx):
    first = cases.create_api_token("ci", token_request(), ctx)
    cases.delete_api_token("ci", ctx)
    second = cases.create_api_token("ci", token_request(), ctx)
    assert api_tokens.verify(second.token, ctx.api_tokens.get, "fleet-west", NOW) == second.record
    with pytest.raises(CredentialRefused):
        api_tokens.verify(first.token, ctx.api_tokens.get, "fleet-west", NOW)


def test_tokens_are_listed_by_id(ctx):
    for token_id in ("b", "a", "c"):
        cases.create_api_token(token_id, token_request(), ctx)
    assert [token.id for token in cases.list_api_tokens(ctx)] == ["a", "b", "c"]


# Users


def test_an_email_user_is_stored_with_its_email_normalised(ctx):
    user = cases.put_user("ana", email_user("  Ana.Silva@Contoso.COM ", OPERATOR.id), ctx)
    assert (user.type, user.email, user.role_ids) == (UserType.EMAIL, "ana.silva@contoso.com", (OPERATOR.id,))
    assert ctx.users.find_by_identity("email:ana.silva@contoso.com") == user == cases.get_user("ana", ctx)


def test_a_service_principal_is_stored_by_tenant_and_object(ctx):
    user = cases.put_user("ci", service_principal(BUILDER.id), ctx)
    assert (user.type, user.tenant_id, user.object_id, user.email) == (
        UserType.SERVICE_PRINCIPAL, TENANT.lower(), OBJECT.lower(), None)
    assert ctx.users.find_by_identity(f"sp:{TENANT.lower()}/{OBJECT.lower()}") == user


@pytest.mark.parametrize("email", [None, "", "ana"])
def test_an_email_user_needs_an_email(ctx, email):
    assert invalid(cases.put_user, "ana", email_user(email), ctx).field == "email"


@pytest.mark.parametrize("extra", [{"tenantId": TENANT}, {"objectId": OBJECT}])
def test_an_email_user_with_service_principal_fields_is_refused(ctx, extra):
    invalid(cases.put_user, "ana", email_user("ana@contoso.com", **extra), ctx)
    assert ctx.users.list() == []


@pytest.mark.parametrize("fields", [{"objectId": None}, {"tenantId": None}, {"tenantId": ""},
                                    {"email": "ci@contoso.com"}])
def test_a_service_principal_needs_tenant_and_object_and_no_email(ctx, fields):
    invalid(cases.put_user, "ci", service_principal(**fields), ctx)
    assert ctx.users.list() == []


def test_a_service_principal_without_an_object_id_is_refused_naming_it(ctx):
    assert invalid(cases.put_user, "ci", service_principal(objectId=None), ctx).field == "objectId"


@pytest.mark.parametrize("request_, field", [
    (lambda: email_user("ana@contoso.com", tenantId=TENANT), "tenantId"),
    (lambda: email_user("ana@contoso.com", objectId=OBJECT), "objectId"),
    (lambda: service_principal(tenantId=None), "tenantId"),
    (lambda: service_principal(email="ci@contoso.com"), "email"),
], ids=["email-with-tenantId", "email-with-objectId", "sp-without-tenantId", "sp-with-email"])
def test_a_mismatched_field_is_refused_naming_that_field(ctx, request_, field):
    assert invalid(cases.put_user, "u", request_(), ctx).field == field


def test_a_user_is_replaced_by_a_second_put(ctx):
    cases.put_user("ana", email_user("ana@contoso.com", VIEWER.id), ctx)
    cases.put_user("ana", email_user("ana.silva@contoso.com", OPERATOR.id), ctx)
    assert ctx.users.find_by_identity("email:ana@contoso.com") is None
    assert ctx.users.find_by_identity("email:ana.silva@contoso.com").role_ids == (OPERATOR.id,)


def test_an_identity_held_by_another_user_is_already_exists(ctx):
    cases.put_user("ana", email_user("ana@contoso.com"), ctx)
    with pytest.raises(AlreadyExists):
        cases.put_user("ana-again", email_user("ANA@contoso.com"), ctx)
    assert [user.id for user in cases.list_users(ctx)] == ["ana"]


def test_a_users_roles_are_validated_as_a_tokens_are(ctx):
    assert invalid(cases.put_user, "ana", email_user("ana@contoso.com", VIEWER.id, "x"), ctx).field == "roles[1].role"
    request = UserRequest.model_validate({"type": "email", "email": "ana@contoso.com",
                                          "roles": [{"role": VIEWER.id, "organization": "seattle"}]})
    assert invalid(cases.put_user, "ana", request, ctx).field == "roles[0].organization"


def test_a_malformed_user_id_is_refused_naming_it(ctx):
    assert invalid(cases.put_user, "a@b", email_user(), ctx).field == "userId"
    assert invalid(cases.get_user, "a b", ctx).field == "userId"
    assert invalid(cases.delete_user, "", ctx).field == "userId"


def test_deleting_a_user_frees_its_identity(ctx):
    cases.put_user("ana", email_user("ana@contoso.com"), ctx)
    cases.delete_user("ana", ctx)
    assert ctx.users.find_by_identity("email:ana@contoso.com") is None
    with pytest.raises(UserNotFound):
        cases.get_user("ana", ctx)
    with pytest.raises(UserNotFound):
        cases.delete_user("ana", ctx)


# The audit log


def audited(ctx: Collaborators) -> None:
    """Three entries, a second apart: ops made a job, ana was refused, ops stopped it."""
    clock = FakeClock(NOW, step=timedelta(seconds=1))
    trail = AuditTrail(ctx.audit_log, clock)
    ops = Caller(CallerKind.API_TOKEN, "ops", "ops", (OPERATOR.id,))
    viewer = Caller(CallerKind.USER, "ana", "Ana", (VIEWER.id,))
    trail.succeeded(ops, Action.CREATE_JOB, "jobs/reboot-west", "r1")
    trail.refused_or_failed(Forbidden(viewer, Action.DELETE_JOB), None, Action.DELETE_JOB, "jobs/reboot-west", "r2",
                            "Forbidden")
    trail.succeeded(ops, Action.STOP_JOB, "jobs/reboot-west/stop", "r3")


def test_the_audit_log_is_newest_first(ctx):
    audited(ctx)
    entries, following = cases.audit_page(10, None, None, None, ctx)
    assert [entry.request_id for entry in entries] == ["r3", "r2", "r1"] and following is None
    assert entries[1].outcome is Outcome.FORBIDDEN


def test_the_audit_log_is_filtered_by_exact_resource_and_caller(ctx):
    audited(ctx)
    by_resource, _ = cases.audit_page(10, None, "jobs/reboot-west", None, ctx)
    by_caller, _ = cases.audit_page(10, None, None, "ops", ctx)
    both, _ = cases.audit_page(10, None, "jobs/reboot-west", "ops", ctx)
    assert [e.request_id for e in by_resource] == ["r2", "r1"]
    assert [e.request_id for e in by_caller] == ["r3", "r1"]
    assert [e.request_id for e in both] == ["r1"]
    assert cases.audit_page(10, None, "jobs/reboot", None, ctx)[0] == []


def test_the_audit_log_is_paged(ctx):
    audited(ctx)
    first, following = cases.audit_page(2, None, None, None, ctx)
    rest, end = cases.audit_page(2, following, None, None, ctx)
    assert [e.request_id for e in first + rest] == ["r3", "r2", "r1"] and end is None


@pytest.mark.parametrize("value", ["", "x" * 513, "jobs/a\n", "jobs/\x00", "jobs/\u200b"])
@pytest.mark.parametrize("field", ["resource", "caller"])
def test_audit_filters_are_validated(ctx, field, value):
    filters = {"resource": None, "caller": None, field: value}
    refused = invalid(cases.audit_page, 10, None, filters["resource"], filters["caller"], ctx)
    assert refused.field == field


def test_an_audit_filter_of_512_printable_characters_is_taken(ctx):
    assert cases.audit_page(10, None, "é" * 512, "x" * 512, ctx) == ([], None)


@pytest.mark.parametrize("size", [0, 1001, -1])
def test_the_audit_page_size_is_validated(ctx, size):
    assert invalid(cases.audit_page, size, None, None, None, ctx).field == "size"
