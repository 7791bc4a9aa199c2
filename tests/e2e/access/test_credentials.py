"""The credentials the app accepts, and those it does not, through the whole stack.

The module's host trusts Microsoft Entra ID tokens of a local identity provider (its keys served
on loopback), with one service principal named an Administrator by ENTRA_ADMINISTRATORS. Other
hosts on the same storage and hub are started for one test each: one trusting App Service
Authentication's principal header (TRUST_EASY_AUTH=true, as behind Easy Auth), one holding each
caller to 5 requests a second."""
from __future__ import annotations

import base64
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests

from jobs_api.openapi import OPERATIONS
from local.harness import HostProcess, Stack
from local.identity_provider import LocalIdentityProvider
from local.waiting import wait_for
from shared.domain.access import ADMINISTRATOR, OPERATOR, VIEWER
from tests.e2e.access.conftest import (Client, assert_error, fill, make_group, make_token, prepare_devices, received,
                                       unique)

ADMIN_OBJECT_ID = str(uuid.uuid4())  # the deployment's first administrator, a service principal
MASTER_KEY = "local-master-key-" + uuid.uuid4().hex  # the host's strongest function key
SECRETS: list[str] = []  # every credential sent in this module: none may reach a log
HOST_LOGS = []  # the logs of every host of this module


def secret(credential: str) -> str:
    """Remember a credential, and the part of it that is the secret (an API token's `sig`, a JWT's signature)."""
    SECRETS.append(credential)
    if "&sig=" in credential:
        SECRETS.append(credential.split("&sig=", 1)[1].split("&", 1)[0])
    elif credential.count(".") == 2:
        SECRETS.append(credential.rsplit(".", 1)[1])
    return credential


@pytest.fixture(scope="module")
def idp():
    with LocalIdentityProvider(audience="api://bulk-jobs-e2e") as provider:
        yield provider


@pytest.fixture(scope="module")
def stack(idp):
    stack = Stack()
    try:
        stack.host.start(ENTRA_TENANT_ID=idp.tenant_id, ENTRA_AUDIENCES=idp.audience, ENTRA_JWKS_URL=idp.jwks_url,
                         ENTRA_ADMINISTRATORS=ADMIN_OBJECT_ID, FUNCTIONS_MASTER_KEY=MASTER_KEY)
    except BaseException:
        stack.close()
        raise
    HOST_LOGS.append(stack.host.log_path)
    secret(stack.admin_token)
    yield stack
    stack.close()


@pytest.fixture
def other_host(stack):
    """`start(**settings)`: another dev host on the module's storage and hub, with the module
    host's settings and these; stopped after the test."""
    started: list[HostProcess] = []

    def start(**settings: str) -> HostProcess:
        host = HostProcess({**stack.host.environ, **settings}).start()
        started.append(host)
        HOST_LOGS.append(host.log_path)
        return host

    yield start
    for host in started:
        host.stop()


def bearer(token: str) -> str:
    return f"Bearer {secret(token)}"


def api_token(admin: Client, token_id: str, role) -> str:
    return secret(make_token(admin, token_id, role))


def easy_auth_headers(tenant_id: str, object_id: str, email: str, name: str) -> dict[str, str]:
    """What App Service Authentication puts in front of a signed-in person's request."""
    principal = {"auth_typ": "aad", "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
                 "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
                 "claims": [{"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": object_id},
                            {"typ": "http://schemas.microsoft.com/identity/claims/tenantid", "val": tenant_id},
                            {"typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", "val": email},
                            {"typ": "name", "val": name}]}
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(principal).encode()).decode(),
            "X-MS-CLIENT-PRINCIPAL-ID": object_id, "X-MS-CLIENT-PRINCIPAL-NAME": email,
            "X-MS-CLIENT-PRINCIPAL-IDP": "aad"}


def assign(admin: Client, user_id: str, email: str, role) -> None:
    response = admin.put(f"users/{user_id}", {"type": "email", "email": email, "roles": [{"role": role.id}]})
    assert response.status_code == 200, response.text


def test_a_function_key_alone_is_no_credential(stack, admin):
    keyed = Client(stack.host.base_url, None, **{"x-functions-key": MASTER_KEY})
    for response in (keyed.get("jobs"), Client(stack.host.base_url).get("jobs", params={"code": MASTER_KEY}),
                     keyed.put("deviceGroups/g-keyed", {"displayName": "keyed", "filter": "SELECT * FROM devices"})):
        assert_error(response, 401, "Unauthorized")
        challenge = response.headers["WWW-Authenticate"]
        assert 'SharedAccessSignature realm="bulk-jobs"' in challenge and 'Bearer realm="bulk-jobs"' in challenge
    assert admin.get("deviceGroups/g-keyed").status_code == 404
    [entry] = admin.audit(resource="deviceGroups/g-keyed")
    assert (entry["outcome"], entry["action"], entry["caller"]["type"]) == \
           ("unauthenticated", "deviceGroups.manage", "anonymous")


def test_a_forged_easy_auth_principal_is_refused_unless_easy_auth_is_trusted(stack, admin, idp, other_host):
    assign(admin, "easy-admin", "easy.admin@contoso.com", ADMINISTRATOR)
    forged = easy_auth_headers(idp.tenant_id, str(uuid.uuid4()), "easy.admin@contoso.com", "Easy Admin")
    first_admin = easy_auth_headers(idp.tenant_id, ADMIN_OBJECT_ID, "first.admin@contoso.com", "First Admin")
    for headers in (forged, first_admin):
        direct = Client(stack.host.base_url, None, **headers)
        assert_error(direct.get("apiTokens"), 401, "Unauthorized")
        assert_error(direct.put("apiTokens/forged", {"roles": [{"role": ADMINISTRATOR.id}]}), 401, "Unauthorized")
        # With a bearer token of its own, the request is that token's caller's, whatever the header says.
        nobody = bearer(idp.issue_user_token("nobody@contoso.com"))
        assert_error(Client(stack.host.base_url, nobody, **headers).get("apiTokens"), 403, "Forbidden")
    assert admin.get("apiTokens/forged").status_code == 404

    # Behind Easy Auth: it checked the caller's bearer token and wrote the principal header.
    behind_easy_auth = other_host(TRUST_EASY_AUTH="true")
    signed_in = bearer(idp.issue_user_token("easy.admin@contoso.com", name="Easy Admin"))
    trusted = Client(behind_easy_auth.base_url, signed_in, **forged)
    assert trusted.get("apiTokens").status_code == 200
    made = trusted.put("apiTokens/easy-made", {"roles": [{"role": VIEWER.id}]})
    assert made.status_code == 200, made.text
    secret(made.json()["token"])
    [entry] = admin.audit(resource="apiTokens/easy-made")
    assert (entry["caller"]["type"], entry["caller"]["id"], entry["caller"]["displayName"], entry["outcome"]) == \
           ("user", "easy-admin", "Easy Admin", "succeeded")
    # The header alone is not a sign-in: a browser's Easy Auth cookie rides along on other sites' requests.
    assert_error(Client(behind_easy_auth.base_url, None, **forged).get("apiTokens"), 401, "Unauthorized")
    unassigned = easy_auth_headers(idp.tenant_id, str(uuid.uuid4()), "nobody@contoso.com", "Nobody")
    assert_error(Client(behind_easy_auth.base_url, signed_in, **unassigned).get("jobs"), 403, "Forbidden")
    other_tenant = easy_auth_headers(str(uuid.uuid4()), str(uuid.uuid4()), "easy.admin@contoso.com", "Easy Admin")
    assert_error(Client(behind_easy_auth.base_url, signed_in, **other_tenant).get("jobs"), 401, "Unauthorized")
    assert Client(behind_easy_auth.base_url, stack.admin_token).get("jobs").status_code == 200  # tokens still work


def test_the_deployments_first_administrator_is_one_by_its_object_id(stack, admin, idp):
    first = Client(stack.host.base_url, bearer(idp.issue_app_token(ADMIN_OBJECT_ID, str(uuid.uuid4()))))
    assert first.get("apiTokens").status_code == 200
    made = first.put("apiTokens/entra-made", {"roles": [{"role": VIEWER.id}]})
    assert made.status_code == 200, made.text
    secret(made.json()["token"])
    [entry] = admin.audit(resource="apiTokens/entra-made")
    assert (entry["caller"]["type"], entry["caller"]["roles"], entry["outcome"]) == \
           ("servicePrincipal", [ADMINISTRATOR.id], "succeeded")
    another = Client(stack.host.base_url, bearer(idp.issue_app_token(str(uuid.uuid4()), str(uuid.uuid4()))))
    assert_error(another.get("apiTokens"), 403, "Forbidden")


def test_a_person_without_a_role_assignment_may_do_nothing_until_given_one(stack, admin, idp):
    email = "ops.person@contoso.com"
    person = Client(stack.host.base_url, bearer(idp.issue_user_token(email, name="Ops Person")))
    for operation in OPERATIONS:
        if not operation.public:
            assert_error(person.request(operation.method.upper(), fill(operation.path)), 403, "Forbidden")

    assign(admin, "ops-person", email, OPERATOR)
    devices = ["vending-0701", "vending-0702", "vending-0703"]
    prepare_devices(stack, devices)
    group_id, job_id = make_group(admin, unique("g-person"), devices), unique("j-person")
    assert person.get("jobs").status_code == 200
    command = {"type": "command", "path": "echo", "value": {"from": "ops-person"}}
    created = person.put(f"jobs/{job_id}", {"displayName": "person's job", "group": group_id, "data": [command]})
    assert created.status_code == 200, created.text
    assert created.json()["createdBy"] == {"type": "user", "id": "ops-person", "displayName": "Ops Person"}
    ended = person.wait_ended(job_id)
    assert ended["progress"]["completed"] == 3, ended
    for device_id in devices:
        assert [entry["payload"] for entry in received(stack, device_id)] == [command["value"]], device_id
    assert_error(person.put(f"deviceGroups/{group_id}", {"displayName": "x", "filter": "SELECT * FROM devices"}),
                 403, "Forbidden")  # an Operator, not a Builder


def test_bearer_tokens_of_another_tenant_or_audience_or_expired_are_refused(stack, admin, idp):
    email = "bearer.admin@contoso.com"
    assign(admin, "bearer-admin", email, ADMINISTRATOR)
    assert Client(stack.host.base_url, bearer(idp.issue_user_token(email))).get("apiTokens").status_code == 200
    other_tenant = str(uuid.uuid4())
    with LocalIdentityProvider(tenant_id=other_tenant, audience=idp.audience) as elsewhere:
        refused = {
            "another tenant's keys": elsewhere.issue_user_token(email),
            "another tenant, signed with this one's key": idp.issue_user_token(
                email, tid=other_tenant, iss=f"https://login.microsoftonline.com/{other_tenant}/v2.0"),
            "another audience": idp.issue_user_token(email, aud="api://another-app"),
            "expired": idp.issue_user_token(email, lifetime=-600),
        }
        for name, token in refused.items():
            response = Client(stack.host.base_url, bearer(token)).get("apiTokens")
            error = assert_error(response, 401, "Unauthorized")
            assert "Bearer" in response.headers["WWW-Authenticate"], name
            if name == "expired":
                assert error["message"] == "The bearer token has expired."


def test_a_caller_over_its_rate_gets_429_while_others_go_on(stack, admin, other_host):
    limited, other = api_token(admin, "rate-limited", VIEWER), api_token(admin, "rate-other", VIEWER)
    host = other_host(API_REQUESTS_PER_SECOND="5", API_REQUEST_BURST="5")
    url = f"{host.base_url}/api/jobs"

    def call(token: str | None) -> tuple[requests.Response, float]:
        response = requests.get(url, headers={"Authorization": token} if token else {}, timeout=30)
        return response, time.monotonic()

    with ThreadPoolExecutor(max_workers=30) as pool:  # at once: the bucket cannot refill in between
        answers = list(pool.map(lambda _: call(limited), range(30)))
    statuses = [response.status_code for response, _ in answers]
    assert set(statuses) <= {200, 429} and statuses.count(200) >= 5 and statuses.count(429) >= 1, statuses
    retry_at = 0.0
    for response, answered_at in answers:
        if response.status_code == 429:
            assert_error(response, 429, "TooManyRequests")
            retry_after = int(response.headers["Retry-After"])
            assert retry_after >= 1
            retry_at = max(retry_at, answered_at + retry_after)

    assert call(other)[0].status_code == 200  # another caller's bucket is its own

    wait_for(lambda: time.monotonic() >= retry_at, timeout=30, interval=0.05, what="the Retry-After to pass")
    assert call(limited)[0].status_code == 200

    # Callers without a valid credential share one budget: their flood is held down as one caller's,
    # leaves an audit entry only for what was answered 401, and holds back no caller with a credential.
    made_up = "SharedAccessSignature sr=bulk-jobs&sig=made-up&skn=nobody&se=9999999999999"
    audited = len([e for e in admin.audit(resource="jobs") if e["outcome"] == "unauthenticated"])
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda n: call(made_up if n % 2 else None), range(20)))
    flood = [response.status_code for response, _ in answers]
    assert set(flood) <= {401, 429} and flood.count(401) >= 5 and flood.count(429) >= 1, flood
    assert call(other)[0].status_code == 200
    now_audited = len([e for e in admin.audit(resource="jobs") if e["outcome"] == "unauthenticated"])
    assert now_audited - audited == flood.count(401)


def test_a_token_stops_working_when_its_expiry_passes_and_a_revoked_id_made_again_is_a_new_token(stack, admin):
    expiry = datetime.now(timezone.utc) + timedelta(seconds=5)
    made = admin.put("apiTokens/short-lived", {"roles": [{"role": VIEWER.id}], "expiry": expiry.isoformat()})
    assert made.status_code == 200, made.text
    short_lived = Client(stack.host.base_url, secret(made.json()["token"]))
    assert short_lived.get("jobs").status_code == 200
    [refused] = wait_for(lambda: (response := short_lived.get("jobs")).status_code != 200 and [response],
                         timeout=30, interval=0.2, what="the token's expiry to pass")
    assert datetime.now(timezone.utc) >= expiry
    assert assert_error(refused, 401, "Unauthorized")["message"] == "The API token has expired."

    first = Client(stack.host.base_url, api_token(admin, "made-again", ADMINISTRATOR))
    assert first.get("apiTokens").status_code == 200
    assert admin.delete("apiTokens/made-again").status_code == 204
    second = Client(stack.host.base_url, api_token(admin, "made-again", VIEWER))
    assert second.get("jobs").status_code == 200
    assert_error(first.get("apiTokens"), 401, "Unauthorized")  # the revoked one stays revoked


def test_no_credential_reaches_a_host_log(stack, admin, idp):
    """Run last: the module's other tests sent their credentials (valid, refused, over the rate) already."""
    refused_token = api_token(admin, "logged-then-revoked", VIEWER)
    assert admin.delete("apiTokens/logged-then-revoked").status_code == 204
    for credential in (refused_token, bearer(idp.issue_user_token("nobody@contoso.com")),
                       bearer(idp.issue_user_token("bearer.admin@contoso.com", lifetime=-600)), stack.admin_token):
        assert Client(stack.host.base_url, credential).get("jobs").status_code in (200, 401, 403)
    for log_path in HOST_LOGS:
        log = log_path.read_text(errors="replace")
        assert "Executed 'Functions." in log, log_path  # the log of a host that served requests
        leaked = [value[:24] + "…" for value in SECRETS if value in log]
        assert not leaked, f"{log_path}: {leaked}"
