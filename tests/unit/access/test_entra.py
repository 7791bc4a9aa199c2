"""Microsoft Entra ID bearer tokens, verified against the keys a loopback identity provider serves."""
from __future__ import annotations

import base64
import json
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from jwt.algorithms import HMACAlgorithm

from local.identity_provider import LocalIdentityProvider
from shared.access.api_tokens import CredentialRefused
from shared.access.entra import MAX_TOKEN_LENGTH, EntraIdentity, EntraSettings, EntraVerifier
from shared.domain.access import IdentityProviderUnavailable

AUDIENCE = "api://bulk-jobs"


@pytest.fixture
def idp():
    with LocalIdentityProvider(audience=AUDIENCE) as provider:
        yield provider


@pytest.fixture
def verifier(idp) -> EntraVerifier:
    return EntraVerifier(idp.settings())


def refusal(verifier: EntraVerifier, token: str) -> CredentialRefused:
    with pytest.raises(CredentialRefused) as refused:
        verifier.verify(token)
    assert not token or token not in refused.value.reason
    return refused.value


def reencoded(token: str, **changes) -> str:
    """`token` with claims changed but its original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    changed = base64.urlsafe_b64encode(json.dumps({**claims, **changes}).encode()).decode().rstrip("=")
    return f"{header}.{changed}.{signature}"


class TestIdentities:
    def test_a_person_is_known_by_email(self, idp, verifier):
        oid = str(uuid.uuid4()).upper()
        identity = verifier.verify(idp.issue_user_token("Ana.Silva@Contoso.com", name="Ana Silva", object_id=oid))
        assert identity == EntraIdentity("email:ana.silva@contoso.com", "Ana Silva", "user", idp.tenant_id, oid.lower())

    def test_upn_comes_before_preferred_username_and_email(self, idp, verifier):
        token = idp.issue_user_token("alias@contoso.com", upn="ana@contoso.com", email="ana@example.org", name=None)
        identity = verifier.verify(token)
        assert (identity.identity, identity.display_name) == ("email:ana@contoso.com", "ana@contoso.com")

    def test_the_email_claim_alone_names_a_person(self, idp, verifier):
        token = idp.issue_user_token("x", preferred_username=None, email="guest@example.org")
        assert verifier.verify(token).identity == "email:guest@example.org"

    def test_an_app_only_token_is_a_service_principal(self, idp, verifier):
        oid, app_id = str(uuid.uuid4()), str(uuid.uuid4())
        identity = verifier.verify(idp.issue_app_token(oid, app_id))
        assert identity == EntraIdentity(f"sp:{idp.tenant_id}/{oid}", app_id, "servicePrincipal", idp.tenant_id, oid)

    def test_app_only_wins_over_a_user_name(self, idp, verifier):
        identity = verifier.verify(idp.issue_app_token(str(uuid.uuid4()), "app", upn="someone@contoso.com"))
        assert identity.kind == "servicePrincipal"

    def test_a_v1_token_without_user_name_is_a_service_principal(self, idp, verifier):
        oid, app_id = str(uuid.uuid4()), str(uuid.uuid4())
        token = idp.issue({"oid": oid, "appid": app_id, "ver": "1.0", "iss": f"https://sts.windows.net/{idp.tenant_id}/"})
        identity = verifier.verify(token)
        assert (identity.kind, identity.identity, identity.display_name) == (
            "servicePrincipal", f"sp:{idp.tenant_id}/{oid}", app_id)

    def test_a_token_saying_it_is_a_persons_must_name_one(self, idp, verifier):
        assert refusal(verifier, idp.issue_user_token("x", preferred_username=None, idtyp="user")).reason == \
            "The bearer token is not valid."

    def test_the_client_id_is_an_audience_too(self, idp):
        client_id = str(uuid.uuid4())
        verifier = EntraVerifier(EntraSettings(idp.tenant_id, (AUDIENCE, client_id), idp.jwks_url))
        assert verifier.verify(idp.issue_user_token("ana@contoso.com", aud=client_id)).kind == "user"


class TestRefusals:
    def test_expired(self, idp, verifier):
        oid = str(uuid.uuid4())
        token = idp.issue_user_token("ana@contoso.com", object_id=oid, iat=int(time.time()) - 7200,
                                     nbf=int(time.time()) - 7200, exp=int(time.time()) - 120)
        refused = refusal(verifier, token)
        assert (refused.reason, refused.claimed) == ("The bearer token has expired.", oid)

    def test_clock_skew_within_the_leeway_is_forgiven(self, idp, verifier):
        token = idp.issue_user_token("ana@contoso.com", exp=int(time.time()) - 20, nbf=int(time.time()) + 20)
        assert verifier.verify(token).kind == "user"

    def test_not_yet_valid(self, idp, verifier):
        token = idp.issue_user_token("ana@contoso.com", nbf=int(time.time()) + 600)
        assert refusal(verifier, token).reason == "The bearer token is not yet valid."

    @pytest.mark.parametrize("claim, reason", [("exp", "The bearer token is not valid."),
                                               ("nbf", "The bearer token is not valid."),
                                               ("iat", "The bearer token is not valid."),
                                               ("oid", "The bearer token is not valid."),
                                               ("tid", "The bearer token was not issued by this app's tenant.")])
    def test_a_required_claim_missing(self, idp, verifier, claim, reason):
        assert refusal(verifier, idp.issue_user_token("ana@contoso.com", **{claim: None})).reason == reason

    def test_wrong_audience(self, idp, verifier):
        token = idp.issue_user_token("ana@contoso.com", aud="api://another-app")
        assert refusal(verifier, token).reason == "The bearer token is not for this app."

    def test_wrong_issuer(self, idp, verifier):
        token = idp.issue_user_token("ana@contoso.com", iss="https://login.microsoftonline.com/common/v2.0")
        assert refusal(verifier, token).reason == "The bearer token was not issued by this app's tenant."

    def test_another_tenant(self, idp, verifier):
        other = str(uuid.uuid4())
        for claims in ({"tid": other}, {"tid": other, "iss": f"https://login.microsoftonline.com/{other}/v2.0"}):
            token = idp.issue_user_token("ana@contoso.com", **claims)
            assert refusal(verifier, token).reason == "The bearer token was not issued by this app's tenant."

    def test_tampered_payload(self, idp, verifier):
        token = reencoded(idp.issue_user_token("eve@contoso.com"), preferred_username="admin@contoso.com")
        assert refusal(verifier, token).reason == "The bearer token is not valid."

    def test_tampered_signature(self, idp, verifier):
        header, payload, signature = idp.issue_user_token("ana@contoso.com").split(".")
        flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
        assert refusal(verifier, f"{header}.{payload}.{flipped}").reason == "The bearer token is not valid."

    def test_alg_none_is_refused_without_asking_for_keys(self, idp, verifier):
        claims = jwt.decode(idp.issue_user_token("ana@contoso.com"), options={"verify_signature": False})
        token = jwt.encode(claims, None, algorithm="none", headers={"kid": idp.kid})
        assert refusal(verifier, token).reason == "The bearer token is not valid."
        assert idp.fetches == 0

    def test_hs256_keyed_with_the_public_key(self, idp, verifier):
        claims = jwt.decode(idp.issue_user_token("ana@contoso.com"), options={"verify_signature": False})
        header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": idp.kid}).encode()).decode().rstrip("=")
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        signature = HMACAlgorithm(HMACAlgorithm.SHA256).sign(f"{header}.{body}".encode(), idp.public_pem)
        token = f"{header}.{body}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"
        assert refusal(verifier, token).reason == "The bearer token is not valid."

    def test_a_key_of_another_provider(self, idp, verifier):
        with LocalIdentityProvider(tenant_id=idp.tenant_id, audience=AUDIENCE) as impostor:
            token = impostor.sign(jwt.decode(impostor.issue_user_token("ana@contoso.com"),
                                             options={"verify_signature": False}), kid=idp.kid)
        assert refusal(verifier, token).reason == "The bearer token is not valid."

    def test_oversized(self, idp, verifier):
        token = idp.issue_user_token("ana@contoso.com", padding="x" * MAX_TOKEN_LENGTH)
        assert refusal(verifier, token).reason == "The bearer token is malformed."
        assert idp.fetches == 0

    @pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",
                                       "\u00e9\u00e9.\u00e9.\u00e9"])
    def test_garbage(self, verifier, token):
        refused = refusal(verifier, token)
        assert (refused.reason, refused.claimed) == ("The bearer token is malformed.", None)

    def test_a_claimed_object_id_is_only_a_guid(self, idp, verifier):
        assert refusal(verifier, idp.issue_user_token("ana@contoso.com", object_id="<script>")).claimed is None


class TestKeySet:
    def test_fetched_once_for_many_tokens(self, idp, verifier):
        for index in range(20):
            verifier.verify(idp.issue_user_token(f"user{index}@contoso.com"))
        assert idp.fetches == 1

    def test_rotation_is_one_more_fetch_and_old_tokens_stop_validating(self, idp, verifier):
        old = idp.issue_user_token("ana@contoso.com")
        verifier.verify(old)
        idp.rotate()
        new = idp.issue_user_token("ana@contoso.com")
        with ThreadPoolExecutor(8) as pool:
            assert all(identity.kind == "user" for identity in pool.map(verifier.verify, [new] * 32))
        assert idp.fetches == 2
        assert refusal(verifier, old).reason == "The bearer token is not valid."
        assert idp.fetches == 2

    def test_unknown_key_ids_refresh_the_set_once(self, idp, verifier):
        verifier.verify(idp.issue_user_token("ana@contoso.com"))
        claims = jwt.decode(idp.issue_user_token("ana@contoso.com"), options={"verify_signature": False})
        for _ in range(10):
            assert refusal(verifier, idp.sign(claims, kid=uuid.uuid4().hex)).reason == "The bearer token is not valid."
        assert idp.fetches == 2

    def test_a_failing_endpoint_is_unavailable_then_recovers(self, idp, verifier):
        token = idp.issue_user_token("ana@contoso.com")
        idp.fail_with(500)
        with pytest.raises(IdentityProviderUnavailable):
            verifier.verify(token)
        idp.fail_with(None)
        assert verifier.verify(token).kind == "user"
        assert idp.fetches == 2

    def test_a_key_set_that_is_not_one_is_unavailable(self, idp):
        verifier = EntraVerifier(EntraSettings(idp.tenant_id, (AUDIENCE,), idp.jwks_url.replace("/keys", "/nothing")))
        with pytest.raises(IdentityProviderUnavailable):
            verifier.verify(idp.issue_user_token("ana@contoso.com"))

    def test_an_unreachable_endpoint_is_unavailable(self, idp):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        verifier = EntraVerifier(EntraSettings(idp.tenant_id, (AUDIENCE,), f"http://127.0.0.1:{port}/keys"))
        with pytest.raises(IdentityProviderUnavailable):
            verifier.verify(idp.issue_user_token("ana@contoso.com"))


class TestSettings:
    def test_defaults_to_the_tenants_published_keys_and_both_issuers(self):
        tenant = str(uuid.uuid4())
        settings = EntraSettings(tenant.upper(), ("api://bulk-jobs",))
        assert settings.key_set_url == f"https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"
        assert settings.issuers == (f"https://login.microsoftonline.com/{tenant}/v2.0", f"https://sts.windows.net/{tenant}/")

    @pytest.mark.parametrize("tenant, audiences", [("contoso.onmicrosoft.com", ("api://a",)),
                                                   (str(uuid.uuid4()), ()), (str(uuid.uuid4()), (" ",))])
    def test_refuses_what_could_never_match(self, tenant, audiences):
        with pytest.raises(ValueError):
            EntraSettings(tenant, audiences)


class TestOnlyAccessTokens:
    """An ID token proves a sign-in to some client, not access to this API."""

    def test_a_token_with_a_nonce_is_refused(self, idp, verifier):
        with pytest.raises(CredentialRefused) as refused:
            verifier.verify(idp.issue_user_token("ana@contoso.com", nonce="n-0S6_WzA2Mj"))
        assert refused.value.reason == "The bearer token is not an access token for this app."

    def test_a_persons_token_without_scopes_is_refused(self, idp, verifier):
        with pytest.raises(CredentialRefused) as refused:
            verifier.verify(idp.issue_user_token("ana@contoso.com", scp=None))
        assert refused.value.reason == "The bearer token is not an access token for this app."

    def test_an_app_only_token_needs_no_scopes(self, idp, verifier):
        app = str(uuid.uuid4())
        assert verifier.verify(idp.issue_app_token(app, str(uuid.uuid4()))).kind == "servicePrincipal"
