"""Signing in to the console with Microsoft Entra ID: the authorization code flow with PKCE, in
the browser, against a local stand-in of Entra's v2.0 endpoints (local/identity_provider.py), on a
second dev host of the session's storage configured for it; the bearer token the page gets is one
the API accepts, as the person it names, with the role assigned to them. Without the settings, the
console offers API tokens only."""
from __future__ import annotations

import uuid

import pytest
import requests
from playwright.sync_api import expect

from local.harness import HostProcess
from local.identity_provider import LocalIdentityProvider
from shared.domain.access import OPERATOR, VIEWER
from tests.e2e.conftest import Api
from tests.e2e.console.conftest import axe_violations, new_console, unique

CLIENT_ID = str(uuid.uuid4())  # the console's app registration (a single-page application)
SCOPE = "api://bulk-jobs-console/user_impersonation"


@pytest.fixture(scope="module")
def idp():
    with LocalIdentityProvider(audience="api://bulk-jobs-console") as provider:
        yield provider


@pytest.fixture(scope="module")
def entra_host(app_environment, idp):
    host = HostProcess(dict(app_environment)).start(
        ENTRA_TENANT_ID=idp.tenant_id, ENTRA_AUDIENCES=idp.audience, ENTRA_JWKS_URL=idp.jwks_url,
        ENTRA_CONSOLE_CLIENT_ID=CLIENT_ID, ENTRA_CONSOLE_SCOPE=SCOPE, ENTRA_LOGIN_URL=idp.login_url)
    idp.register_spa(CLIENT_ID, f"{host.base_url}/api/console/")
    yield host
    host.stop()


@pytest.fixture
def entra_console(browser, entra_host):
    context, opened = new_console(browser, f"{entra_host.base_url}/api/console/", entra_host.base_url)
    yield opened
    context.close()
    assert not opened.errors, f"errors in the page: {opened.errors}"


def assign(api: Api, email: str, role) -> str:
    """The id of a new role assignment of the person signing in as `email`."""
    user_id = unique("person")
    response = api.put(f"users/{user_id}", {"type": "email", "email": email, "roles": [{"role": role.id}]})
    assert response.status_code == 200, response.text
    return user_id


def sign_in_with_microsoft(console, idp, email: str):
    page = console.goto("#/jobs")
    page.get_by_role("button", name="Sign in with Microsoft").click()
    # Entra's page (here the stand-in's): another origin, asking who signs in.
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.url.startswith(idp.authority + "/authorize?")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign in", exact=True).click()
    return page


def test_an_operator_signs_in_with_microsoft_and_the_api_takes_the_token_as_them(entra_console, entra_host, idp,
                                                                                 api):
    email = f"{unique('ana')}@contoso.com"
    user_id = assign(api, email, OPERATOR)
    redemptions = idp.redemptions

    page = sign_in_with_microsoft(entra_console, idp, email)

    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
    expect(page.locator("#who-text")).to_have_text(f"Signed in with Microsoft as {email}")
    expect(page.get_by_role("button", name="New", exact=True)).to_be_visible()  # an Operator runs jobs
    assert page.url == f"{entra_host.base_url}/api/console/#/jobs"  # the code is gone from the address bar
    assert idp.redemptions == redemptions + 1
    token = page.evaluate("() => sessionStorage.getItem('bulkJobsConsole.token')")
    assert token.startswith("Bearer ")
    # The page's token is the person's, for this API: a draft made with it is theirs.
    as_them = Api(entra_host.base_url, token)
    draft = as_them.post("jobs", {"displayName": unique("By Ana"), "group": "any-group",
                                  "data": [{"type": "property", "path": "fanSpeed", "value": 1}]})
    assert draft.status_code == 201, draft.text
    assert draft.json()["createdBy"] == {"type": "user", "id": user_id, "displayName": email.split("@")[0].title()}
    assert as_them.get("apiTokens").status_code == 403  # an Operator's token, not an Administrator's
    # Every request of the page went to this app's API or the sign-in service, nowhere else.
    allowed = (f"{entra_host.base_url}/api/", idp.login_url + "/")
    assert all(url.startswith(allowed) for url in entra_console.requests), entra_console.requests

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in with Microsoft")).to_be_visible()


def test_a_viewer_reads_only_and_a_person_without_a_role_is_told_why(entra_console, idp, api):
    viewer = f"{unique('vic')}@contoso.com"
    assign(api, viewer, VIEWER)
    page = sign_in_with_microsoft(entra_console, idp, viewer)
    expect(page.locator("#who-text")).to_have_text(f"Signed in with Microsoft as {viewer} (read only)")
    expect(page.get_by_role("button", name="New", exact=True)).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    nobody = f"{unique('nobody')}@contoso.com"
    page = sign_in_with_microsoft(entra_console, idp, nobody)
    expect(page.get_by_role("alert")).to_contain_text("no role of this app is assigned to you")
    expect(page.get_by_role("button", name="Sign in with Microsoft")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('bulkJobsConsole.token')") is None


def test_the_sign_in_service_is_allowed_by_the_policy_only_where_it_is_set_up(console, app_host, entra_host, idp):
    set_up = requests.get(f"{entra_host.base_url}/api/console/config.json", timeout=30)
    assert set_up.json() == {"entra": {"authority": idp.authority, "clientId": CLIENT_ID, "scope": SCOPE}}
    policy = requests.get(f"{entra_host.base_url}/api/console/", timeout=30).headers["Content-Security-Policy"]
    assert f"connect-src 'self' {idp.login_url};" in policy and "script-src 'self';" in policy

    assert requests.get(f"{app_host.base_url}/api/console/config.json", timeout=30).json() == {"entra": None}
    policy = requests.get(f"{app_host.base_url}/api/console/", timeout=30).headers["Content-Security-Policy"]
    assert "connect-src 'self';" in policy
    page = console.goto("")
    expect(page.get_by_label("API token")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in with Microsoft")).to_have_count(0)


def test_no_serious_accessibility_violations_on_the_sign_in_page_with_microsoft(browser, entra_host):
    context, opened = new_console(browser, f"{entra_host.base_url}/api/console/", entra_host.base_url, bypass_csp=True)
    try:
        page = opened.goto("")
        expect(page.get_by_role("button", name="Sign in with Microsoft")).to_be_visible()
        assert axe_violations(page) == [], "sign-in page with Microsoft"
    finally:
        context.close()
    assert not opened.errors, f"errors in the page: {opened.errors}"
