"""The gate: who the caller is (API token, Entra bearer, Easy Auth), at what rate, and whether
their roles allow the action. Storage, Entra and the clocks are in-memory fakes."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from azure.functions._http import HttpRequestHeaders
from requests.structures import CaseInsensitiveDict

from shared.access import api_tokens
from shared.access.api_tokens import CredentialRefused
from shared.access.authentication import AccessControl, RateLimiter
from shared.access.entra import EntraIdentity
from shared.domain.access import (ADMINISTRATOR, BUILDER, OPERATOR, VIEWER, Action, ApiToken, ApiTokenNotFound,
                                  Caller, CallerKind, Forbidden, IdentityProviderUnavailable, RateLimited,
                                  Unauthenticated, User, UserType, email_identity, service_principal_identity)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
APP = "bulk-jobs"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ANA_OID = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
CI_OID = "9f8e7d6c-5b4a-3928-1706-f5e4d3c2b1a0"
ANA = EntraIdentity(email_identity("ana@contoso.com"), "Ana Silva", "user", TENANT, ANA_OID)
CI_APP = EntraIdentity(service_principal_identity(TENANT, CI_OID), "ci-pipeline", "servicePrincipal", TENANT, CI_OID)
STRANGER = EntraIdentity(email_identity("bo@contoso.com"), "Bo", "user", TENANT, "11111111-2222-3333-4444-555555555555")
TOKEN_CHALLENGE = f'SharedAccessSignature realm="{APP}"'
BOTH_CHALLENGES = f'SharedAccessSignature realm="{APP}", Bearer realm="{APP}"'


class Monotonic:
    def __init__(self):
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


class FakeEntra:
    """Bearer tokens by their text; `failure` is raised for every token when set."""

    def __init__(self, identities: dict[str, EntraIdentity]):
        self.identities, self.failure, self.seen = identities, None, []

    def verify(self, token: str) -> EntraIdentity:
        self.seen.append(token)
        if self.failure:
            raise self.failure
        if token not in self.identities:
            raise CredentialRefused("The bearer token is not valid.", "claimed-oid")
        return self.identities[token]


class World:
    """Stored tokens and users, the clocks, and AccessControl over them."""

    def __init__(self, rate: float = 100, burst: int = 100, **options):
        self.tokens: dict[str, ApiToken] = {}
        self.users: dict[str, User] = {}
        self.monotonic = Monotonic()
        self.limiter = RateLimiter(rate, burst, monotonic=self.monotonic)
        self.access = AccessControl(app=APP, find_token=self.find_token, find_user=self.users.get,
                                    clock=lambda: NOW, limiter=self.limiter, **options)

    def find_token(self, token_id: str) -> ApiToken:
        if token_id not in self.tokens:
            raise ApiTokenNotFound(token_id)
        return self.tokens[token_id]

    def token(self, token_id: str = "ci-deploy", *role_ids: str) -> str:
        minted = api_tokens.mint(token_id, role_ids or (OPERATOR.id,), NOW + timedelta(days=30), APP, NOW)
        self.tokens[token_id] = minted.record
        return minted.token

    def assign(self, user_id: str, identity: EntraIdentity, *role_ids: str) -> User:
        if identity.kind == "user":
            user = User(user_id, UserType.EMAIL, role_ids, email=identity.identity.removeprefix("email:"))
        else:
            user = User(user_id, UserType.SERVICE_PRINCIPAL, role_ids, tenant_id=identity.tenant_id,
                        object_id=identity.object_id)
        self.users[user.identity] = user
        return user


def entra_world(**options) -> tuple[World, FakeEntra]:
    entra = FakeEntra({"ana-jwt": ANA, "ci-jwt": CI_APP, "stranger-jwt": STRANGER})
    return World(entra=entra, **options), entra


def unauthenticated(world: World, headers, action: Action = Action.READ_JOBS) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as refused:
        world.access.admit(headers, action)
    return refused.value


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# No credential, or one this app does not accept


@pytest.mark.parametrize("headers", [{}, {"authorization": ""}, {"authorization": "   "},
                                     {"x-functions-key": "abc"}, {"cookie": "AppServiceAuthSession=x"}])
def test_no_credential_is_unauthenticated_with_the_api_token_challenge(headers):
    refused = unauthenticated(World(), headers)
    assert refused.challenge == TOKEN_CHALLENGE
    assert refused.claimed is None
    assert "no credential" in refused.reason


def test_the_challenge_names_bearer_too_when_entra_is_configured():
    world, _ = entra_world()
    assert unauthenticated(world, {}).challenge == BOTH_CHALLENGES


def test_a_bearer_token_without_entra_configured_is_no_credential():
    refused = unauthenticated(World(), bearer("ana-jwt"))
    assert refused.reason == "The Authorization header holds no credential this app accepts."
    assert refused.challenge == TOKEN_CHALLENGE


@pytest.mark.parametrize("authorization", ["Basic YWRtaW46YWRtaW4=", "Digest x", "ana-jwt", "Bearer"])
def test_other_schemes_are_no_credential(authorization):
    world, entra = entra_world()
    refused = unauthenticated(world, {"authorization": authorization})
    if authorization == "Bearer":
        assert entra.seen == [""]  # handed to Entra, which refuses an empty token
    else:
        assert refused.reason == "The Authorization header holds no credential this app accepts."


# API tokens


def test_an_api_token_is_a_caller_with_the_records_roles():
    world = World()
    token = world.token("ci-deploy", BUILDER.id, VIEWER.id)
    caller = world.access.admit({"authorization": token}, Action.MANAGE_GROUPS)
    assert caller == Caller(CallerKind.API_TOKEN, "ci-deploy", "ci-deploy", (BUILDER.id, VIEWER.id))


def test_an_api_token_is_refused_for_an_action_its_roles_do_not_allow():
    world = World()
    token = world.token("viewer", VIEWER.id)
    with pytest.raises(Forbidden) as refused:
        world.access.admit({"authorization": token}, Action.RUN_JOB)
    assert (refused.value.caller.id, refused.value.action) == ("viewer", Action.RUN_JOB)


def test_a_revoked_api_token_is_unauthenticated_naming_the_claimed_id():
    world = World()
    token = world.token("ci-deploy")
    del world.tokens["ci-deploy"]
    refused = unauthenticated(world, {"authorization": token})
    assert (refused.reason, refused.claimed, refused.challenge) == (
        "The API token is not valid.", "ci-deploy", TOKEN_CHALLENGE)


def test_an_api_token_with_surrounding_whitespace_is_accepted():
    world = World()
    token = world.token()
    assert world.access.admit({"authorization": f"  {token}\t"}, Action.READ_JOBS).id == "ci-deploy"


def test_an_api_token_is_tried_as_such_even_with_entra_configured():
    world, entra = entra_world()
    token = world.token()
    assert world.access.admit({"authorization": token}, Action.READ_JOBS).kind is CallerKind.API_TOKEN
    assert entra.seen == []


# Entra bearer tokens


def test_a_person_with_an_assignment_has_its_roles():
    world, entra = entra_world()
    world.assign("ana", ANA, OPERATOR.id)
    caller = world.access.admit(bearer("ana-jwt"), Action.STOP_JOB)
    assert caller == Caller(CallerKind.USER, "ana", "Ana Silva", (OPERATOR.id,))
    assert entra.seen == ["ana-jwt"]


def test_a_service_principal_with_an_assignment_has_its_roles():
    world, _ = entra_world()
    world.assign("ci", CI_APP, BUILDER.id)
    caller = world.access.admit(bearer("ci-jwt"), Action.MANAGE_GROUPS)
    assert caller == Caller(CallerKind.SERVICE_PRINCIPAL, "ci", "ci-pipeline", (BUILDER.id,))


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_bearer_scheme_in_any_case(scheme):
    world, _ = entra_world()
    world.assign("ana", ANA, VIEWER.id)
    assert world.access.admit({"authorization": f"{scheme}   ana-jwt "}, Action.READ_JOBS).id == "ana"


def test_a_valid_token_without_an_assignment_is_authenticated_with_no_roles():
    world, _ = entra_world()
    caller = world.access.authenticate(bearer("stranger-jwt"))
    assert caller == Caller(CallerKind.USER, STRANGER.identity, "Bo", ())


@pytest.mark.parametrize("action", list(Action), ids=lambda action: action.value)
def test_without_an_assignment_every_action_is_forbidden(action):
    world, _ = entra_world()
    with pytest.raises(Forbidden) as refused:
        world.access.admit(bearer("stranger-jwt"), action)
    assert refused.value.caller.id == STRANGER.identity and refused.value.action is action


def test_a_refused_bearer_is_unauthenticated_with_what_it_claimed():
    world, _ = entra_world()
    refused = unauthenticated(world, bearer("forged-jwt"))
    assert (refused.reason, refused.claimed, refused.challenge) == (
        "The bearer token is not valid.", "claimed-oid", BOTH_CHALLENGES)


def test_entra_keys_unreadable_is_not_a_refusal():
    world, entra = entra_world()
    entra.failure = IdentityProviderUnavailable("keys unreadable")
    with pytest.raises(IdentityProviderUnavailable):
        world.access.admit(bearer("ana-jwt"), Action.READ_JOBS)


def test_a_deployment_administrator_is_administrator_without_an_assignment():
    world, _ = entra_world(administrators=((TENANT.upper(), ANA_OID.upper()),))
    caller = world.access.admit(bearer("ana-jwt"), Action.MANAGE_USERS)
    assert caller == Caller(CallerKind.USER, ANA.identity, "Ana Silva", (ADMINISTRATOR.id,))


def test_a_deployment_administrator_keeps_its_assignment_too():
    world, _ = entra_world(administrators=((TENANT, CI_OID),))
    world.assign("ci", CI_APP, BUILDER.id, ADMINISTRATOR.id)
    caller = world.access.admit(bearer("ci-jwt"), Action.READ_AUDIT_LOGS)
    assert (caller.id, caller.role_ids) == ("ci", (ADMINISTRATOR.id, BUILDER.id))


def test_an_administrator_is_matched_by_tenant_and_object_id_together():
    world, _ = entra_world(administrators=(("00000000-0000-0000-0000-000000000000", ANA_OID), (TENANT, CI_OID)))
    assert world.access.authenticate(bearer("ana-jwt")).role_ids == ()


# App Service Authentication


def fake_easy_auth(headers) -> EntraIdentity | None:
    name = headers.get("x-ms-client-principal")
    if name == "garbled":
        raise CredentialRefused("The App Service Authentication principal is malformed.")
    return {"ana": ANA, "ci": CI_APP}.get(name) if name else None


CHECKED_BEARER = "Bearer eyJ.checked-by-easy-auth"  # Easy Auth passes the token it validated on to the app


def test_easy_auth_principal_is_used_when_easy_auth_is_trusted():
    world = World(easy_auth=fake_easy_auth)
    world.assign("ana", ANA, VIEWER.id)
    caller = world.access.admit({"x-ms-client-principal": "ana", "authorization": CHECKED_BEARER}, Action.READ_JOBS)
    assert caller == Caller(CallerKind.USER, "ana", "Ana Silva", (VIEWER.id,))


def test_an_easy_auth_principal_without_the_bearer_token_it_checked_is_no_credential():
    """A browser's Easy Auth session cookie rides on requests other sites make: it alone must not act."""
    world = World(easy_auth=fake_easy_auth)
    world.assign("ana", ANA, ADMINISTRATOR.id)
    assert "no credential" in unauthenticated(world, {"x-ms-client-principal": "ana"}).reason


def test_easy_auth_headers_are_ignored_when_easy_auth_is_not_trusted():
    world = World()
    world.assign("ana", ANA, ADMINISTRATOR.id)
    refused = unauthenticated(world, {"x-ms-client-principal": "ana"})
    assert "no credential" in refused.reason


def test_an_api_token_is_its_own_credential_even_beside_an_easy_auth_principal():
    world = World(easy_auth=fake_easy_auth)
    world.assign("ci", CI_APP, BUILDER.id)
    token = world.token("ops", OPERATOR.id)
    caller = world.access.admit({"x-ms-client-principal": "ci", "authorization": token}, Action.READ_JOBS)
    assert caller.id == "ops"


def test_without_easy_auth_headers_the_authorization_header_is_read():
    world = World(easy_auth=fake_easy_auth)
    token = world.token("ops", OPERATOR.id)
    assert world.access.admit({"authorization": token}, Action.RUN_JOB).id == "ops"


def test_a_malformed_easy_auth_principal_is_unauthenticated():
    world = World(easy_auth=fake_easy_auth)
    refused = unauthenticated(world, {"x-ms-client-principal": "garbled", "authorization": CHECKED_BEARER})
    assert refused.reason == "The App Service Authentication principal is malformed."


def test_easy_auth_administrators_are_administrators():
    world = World(easy_auth=fake_easy_auth, administrators=((TENANT, CI_OID),))
    headers = {"x-ms-client-principal": "ci", "authorization": CHECKED_BEARER}
    assert world.access.admit(headers, Action.MANAGE_API_TOKENS).role_ids == (ADMINISTRATOR.id,)


# Header names


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"])
@pytest.mark.parametrize("mapping", [CaseInsensitiveDict, HttpRequestHeaders],
                         ids=["CaseInsensitiveDict", "azure.functions.HttpRequestHeaders"])
def test_the_header_name_in_any_case_through_a_case_insensitive_mapping(mapping, name):
    world = World()
    token = world.token()
    assert world.access.admit(mapping({name: token}), Action.READ_JOBS).id == "ci-deploy"


def test_a_plain_dict_is_read_by_its_lowercase_name_only():
    """The gate relies on the host's case-insensitive headers: it looks up `authorization`."""
    world = World()
    token = world.token()
    assert world.access.admit({"authorization": token}, Action.READ_JOBS).id == "ci-deploy"
    assert "no credential" in unauthenticated(world, {"Authorization": token}).reason


# Rate limit


def test_a_burst_then_refusals_with_retry_after():
    world = World(rate=2, burst=3)
    token = world.token()
    for _ in range(3):
        world.access.admit({"authorization": token}, Action.READ_JOBS)
    with pytest.raises(RateLimited) as refused:
        world.access.admit({"authorization": token}, Action.READ_JOBS)
    assert refused.value.retry_after == 1 and refused.value.rate == 2


def test_retry_after_is_whole_seconds_rounded_up():
    world = World(rate=0.25, burst=1)
    token = world.token()
    world.access.admit({"authorization": token}, Action.READ_JOBS)
    world.monotonic.seconds += 0.5
    with pytest.raises(RateLimited) as refused:
        world.access.admit({"authorization": token}, Action.READ_JOBS)
    assert refused.value.retry_after == math.ceil((1 - 0.5 * 0.25) / 0.25) == 4


def test_refused_requests_do_not_push_the_wait_back():
    limiter = RateLimiter(1, 1, monotonic=(clock := Monotonic()))
    assert limiter.take("a") == 0
    assert limiter.take("a") == pytest.approx(1)
    clock.seconds += 0.5
    assert limiter.take("a") == pytest.approx(0.5)
    clock.seconds += 0.5
    assert limiter.take("a") == 0


def test_the_bucket_refills_at_the_rate_and_no_higher_than_the_burst():
    clock = Monotonic()
    limiter = RateLimiter(4, 2, monotonic=clock)
    assert [limiter.take("a") for _ in range(2)] == [0, 0]
    assert limiter.take("a") == pytest.approx(0.25)
    clock.seconds += 0.25
    assert limiter.take("a") == 0
    assert limiter.take("a") > 0
    clock.seconds += 3600
    assert [limiter.take("a") == 0 for _ in range(3)] == [True, True, False]


def test_callers_have_their_own_buckets():
    world = World(rate=1, burst=1)
    first, second = world.token("first"), world.token("second")
    world.access.admit({"authorization": first}, Action.READ_JOBS)
    with pytest.raises(RateLimited):
        world.access.admit({"authorization": first}, Action.READ_JOBS)
    assert world.access.admit({"authorization": second}, Action.READ_JOBS).id == "second"


def test_a_token_and_a_user_of_one_id_have_their_own_buckets():
    world, _ = entra_world(rate=1, burst=1)
    world.assign("ci", CI_APP, VIEWER.id)
    token = world.token("ci", VIEWER.id)
    world.access.admit({"authorization": token}, Action.READ_JOBS)
    assert world.access.admit(bearer("ci-jwt"), Action.READ_JOBS).kind is CallerKind.SERVICE_PRINCIPAL


def test_the_rate_is_held_before_the_roles_are_checked():
    world, _ = entra_world(rate=1, burst=1)
    with pytest.raises(Forbidden):
        world.access.admit(bearer("stranger-jwt"), Action.RUN_JOB)
    with pytest.raises(RateLimited):
        world.access.admit(bearer("stranger-jwt"), Action.RUN_JOB)


def test_anonymous_callers_share_one_bucket():
    limiter = RateLimiter(1, 2, monotonic=Monotonic())
    keys = [Caller.anonymous(claimed).rate_key for claimed in ("a", "b", None)]
    assert [limiter.take(key) == 0 for key in keys] == [True, True, False]
    assert limiter.take(Caller(CallerKind.API_TOKEN, "a", "a").rate_key) == 0


def test_requests_without_a_valid_credential_are_held_to_one_shared_rate():
    world = World(rate=1, burst=2)
    for headers in ({}, {"authorization": "Basic x"}):
        unauthenticated(world, headers)
    with pytest.raises(RateLimited):
        world.access.admit({"authorization": "SharedAccessSignature garbage"}, Action.READ_JOBS)


def test_the_bucket_map_forgets_the_least_recently_seen_beyond_max_callers():
    clock = Monotonic()
    limiter = RateLimiter(1, 1, monotonic=clock)
    assert RateLimiter.MAX_CALLERS == 10_000
    assert limiter.take("oldest") == 0 and limiter.take("kept") == 0
    for index in range(RateLimiter.MAX_CALLERS - 2):
        limiter.take(f"caller-{index}")
    assert limiter.take("kept") > 0  # seen again: now the most recent
    limiter.take("one-too-many")  # pushes out the least recently seen, "oldest"
    assert len(limiter._buckets) == RateLimiter.MAX_CALLERS
    assert limiter.take("oldest") == 0  # forgotten: it starts full again
    assert limiter.take("kept") > 0  # still remembered, still empty


def test_a_smaller_bound_is_kept_too():
    limiter = RateLimiter(1, 1, monotonic=Monotonic())
    limiter.MAX_CALLERS = 3
    for key in "abcdef":
        limiter.take(key)
    assert list(limiter._buckets) == ["d", "e", "f"]
