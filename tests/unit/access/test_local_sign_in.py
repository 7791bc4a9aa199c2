"""local/identity_provider.py's browser sign-in, answered as Entra's v2.0 authorize and token
endpoints answer a single-page application: a code for a person, redeemed once, cross-origin,
with the PKCE verifier, for an access token the API's verifier accepts."""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from local.identity_provider import LocalIdentityProvider
from shared.access.entra import EntraVerifier

CLIENT = "11111111-2222-3333-4444-555555555555"
REDIRECT = "http://127.0.0.1:7071/api/console/"
ORIGIN = "http://127.0.0.1:7071"


@pytest.fixture(scope="module")
def idp():
    with LocalIdentityProvider(audience="api://bulk-jobs") as provider:
        provider.register_spa(CLIENT, REDIRECT)
        yield provider


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(idp, **overrides) -> dict[str, str]:
    verifier, challenge = pkce()
    params = {"client_id": CLIENT, "response_type": "code", "redirect_uri": REDIRECT, "response_mode": "query",
              "scope": "api://bulk-jobs/user_impersonation openid profile", "state": "s-1",
              "code_challenge": challenge, "code_challenge_method": "S256", **overrides}
    return {name: value for name, value in params.items() if value is not None}, verifier


def sign_in(idp, email: str, **overrides) -> tuple[dict[str, list[str]], str]:
    """The redirect's query after the person submits the sign-in page, and the PKCE verifier."""
    params, verifier = authorize(idp, **overrides)
    page = requests.get(f"{idp.authority}/authorize", params=params, timeout=10)
    assert page.status_code == 200 and 'name="login"' in page.text
    answer = requests.post(f"{idp.authority}/authorize", data={**params, "login": email}, allow_redirects=False,
                           timeout=10)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return parse_qs(location.query), verifier


def redeem(idp, code: str, verifier: str, origin: str | None = ORIGIN, **overrides) -> requests.Response:
    form = {"client_id": CLIENT, "scope": "api://bulk-jobs/user_impersonation openid profile", "code": code,
            "redirect_uri": REDIRECT, "grant_type": "authorization_code", "code_verifier": verifier, **overrides}
    return requests.post(f"{idp.authority}/token", data=form, headers={"Origin": origin} if origin else {}, timeout=10)


def test_a_code_is_redeemed_once_for_tokens_the_api_accepts(idp):
    query, verifier = sign_in(idp, "ana@contoso.com")
    assert query["state"] == ["s-1"]
    response = redeem(idp, query["code"][0], verifier)
    assert response.status_code == 200, response.text
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 3000 and "refresh_token" not in body
    identity = EntraVerifier(idp.settings()).verify(body["access_token"])
    assert (identity.kind, identity.tenant_id, identity.object_id) == ("user", idp.tenant_id,
                                                                     idp.object_id_of("ana@contoso.com"))
    assert "ana@contoso.com" in identity.identity
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["preferred_username"], claims["aud"], claims["scp"], claims["azp"]) == \
           ("ana@contoso.com", "api://bulk-jobs", "user_impersonation", CLIENT)
    assert claims["oid"] == idp.object_id_of("ana@contoso.com")
    id_token = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert id_token["aud"] == CLIENT and id_token["preferred_username"] == "ana@contoso.com"

    again = redeem(idp, query["code"][0], verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert again.json()["error_codes"] == [54005]


def test_a_code_needs_its_verifier_a_cross_origin_request_and_its_redirect_uri(idp):
    query, verifier = sign_in(idp, "ben@contoso.com")
    wrong = redeem(idp, query["code"][0], pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error_codes"] == [501481]
    assert wrong.json()["error_description"].startswith("AADSTS501481: ")

    query, verifier = sign_in(idp, "ben@contoso.com")
    same_origin = redeem(idp, query["code"][0], verifier, origin=None)
    assert same_origin.status_code == 400 and same_origin.json()["error_codes"] == [9002327]

    query, verifier = sign_in(idp, "ben@contoso.com")
    elsewhere = redeem(idp, query["code"][0], verifier, redirect_uri="http://127.0.0.1:7071/other/")
    assert elsewhere.status_code == 400 and elsewhere.json()["error"] == "invalid_grant"

    unknown = redeem(idp, "no-such-code", verifier)
    assert unknown.status_code == 400 and unknown.json()["error_codes"] == [70008]
    assert {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id"} <= set(unknown.json())


def test_unknown_apps_and_redirect_uris_are_refused_on_the_page_other_refusals_at_the_redirect_uri(idp):
    params, _ = authorize(idp, client_id="00000000-0000-0000-0000-000000000000")
    page = requests.get(f"{idp.authority}/authorize", params=params, timeout=10)
    assert page.status_code == 400 and "AADSTS700016" in page.text
    params, _ = authorize(idp, redirect_uri="https://evil.example/")
    page = requests.get(f"{idp.authority}/authorize", params=params, timeout=10)
    assert page.status_code == 400 and "AADSTS50011" in page.text

    for overrides, error, code in (({"code_challenge": None}, "invalid_request", "AADSTS9002325"),
                                   ({"response_type": "token"}, "unsupported_response_type", "AADSTS700054"),
                                   ({"scope": "api://another-api/read openid"}, "invalid_resource", "AADSTS500011")):
        params, _ = authorize(idp, **overrides)
        answer = requests.get(f"{idp.authority}/authorize", params=params, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, overrides
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert query["error"] == [error] and query["state"] == ["s-1"], overrides
        assert re.match(code + ": ", query["error_description"][0]), overrides


def test_offline_access_adds_a_refresh_token_and_the_key_set_is_still_served(idp):
    query, verifier = sign_in(idp, "cleo@contoso.com",
                              scope="api://bulk-jobs/user_impersonation openid profile offline_access")
    body = redeem(idp, query["code"][0], verifier,
                  scope="api://bulk-jobs/user_impersonation openid profile offline_access").json()
    assert body["refresh_token"] and "offline_access" in body["scope"]
    assert requests.get(idp.jwks_url, timeout=10).json()["keys"][0]["kid"] == idp.kid
