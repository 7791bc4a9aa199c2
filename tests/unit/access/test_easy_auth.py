"""App Service Authentication's principal headers, as Easy Auth writes them."""
from __future__ import annotations

import base64
import json
import uuid

import pytest

from shared.access.api_tokens import CredentialRefused
from shared.access.easy_auth import MAX_PRINCIPAL_LENGTH, principal_from_headers
from shared.access.entra import EntraIdentity, identity_from_claims

TENANT, OID = str(uuid.uuid4()), str(uuid.uuid4())
MS, XMLSOAP = "http://schemas.microsoft.com/identity/claims/", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
MALFORMED = "The App Service Authentication principal is malformed."


def encoded(principal) -> str:
    return base64.b64encode(json.dumps(principal).encode()).decode()


def principal(*claims: tuple[str, str], auth_typ: str = "aad") -> dict:
    return {"auth_typ": auth_typ, "claims": [{"typ": typ, "val": val} for typ, val in claims],
            "name_typ": XMLSOAP + "emailaddress", "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}


def person(*extra: tuple[str, str]) -> dict:
    """A signed-in person as Easy Auth passes them on: claim types mapped as .NET maps them."""
    return principal((MS + "objectidentifier", OID), (MS + "tenantid", TENANT), ("name", "Ana Silva"),
                     (XMLSOAP + "upn", "Ana@Contoso.com"), ("preferred_username", "ana@contoso.com"),
                     (XMLSOAP + "nameidentifier", "sub-value"), ("roles", "a"), ("roles", "b"), ("aud", "api://x"),
                     *extra)


def headers(body, **others) -> dict[str, str]:
    return {"X-MS-CLIENT-PRINCIPAL": body if isinstance(body, str) else encoded(body),
            "X-MS-CLIENT-PRINCIPAL-ID": OID, "X-MS-CLIENT-PRINCIPAL-NAME": "ana@contoso.com",
            "X-MS-CLIENT-PRINCIPAL-IDP": "aad", **others}


def refused(request_headers, **options) -> CredentialRefused:
    with pytest.raises(CredentialRefused) as refusal:
        principal_from_headers(request_headers, **options)
    return refusal.value


def test_a_person_signed_in_with_entra():
    assert principal_from_headers(headers(person())) == EntraIdentity(
        "email:ana@contoso.com", "Ana Silva", "user", TENANT, OID)


def test_an_app_signed_in_with_client_credentials():
    app_id = str(uuid.uuid4())
    body = principal((MS + "objectidentifier", OID), (MS + "tenantid", TENANT), ("azp", app_id), ("idtyp", "app"))
    assert principal_from_headers(headers(body)) == EntraIdentity(
        f"sp:{TENANT}/{OID}", app_id, "servicePrincipal", TENANT, OID)


def test_claims_under_their_jwt_names():
    body = principal(("oid", OID), ("tid", TENANT), ("email", "ana@example.org"))
    assert principal_from_headers(headers(body)).identity == "email:ana@example.org"


def test_the_same_identity_as_the_bearer_token_it_came_from():
    claims = {"oid": OID, "tid": TENANT, "name": "Ana Silva", "upn": "Ana@Contoso.com"}
    assert principal_from_headers(headers(person())) == identity_from_claims(claims, "refused")


@pytest.mark.parametrize("names", [str.lower, str.title, lambda name: name.swapcase()])
def test_header_names_in_any_case(names):
    sent = {names(name): value for name, value in headers(person()).items()}
    assert principal_from_headers(sent).object_id == OID


def test_only_the_principal_header_is_needed():
    assert principal_from_headers({"x-ms-client-principal": encoded(person())}).kind == "user"


def test_no_easy_auth_headers_is_none():
    assert principal_from_headers({}) is None
    assert principal_from_headers({"Authorization": "Bearer x", "X-MS-TOKEN-AAD-ACCESS-TOKEN": "y"}) is None


def test_another_identity_provider_is_refused():
    assert refused(headers(person() | {"auth_typ": "github"})).reason == \
        "The caller was not signed in with Microsoft Entra ID."
    assert refused(headers(person(), **{"X-MS-CLIENT-PRINCIPAL-IDP": "google"})).reason == \
        "The caller was not signed in with Microsoft Entra ID."


def test_the_tenant_is_checked_when_given():
    assert principal_from_headers(headers(person()), tenant_id=TENANT.upper()).tenant_id == TENANT
    refusal = refused(headers(person()), tenant_id=str(uuid.uuid4()))
    assert (refusal.reason, refusal.claimed) == ("The caller was signed in by another tenant.", OID)


@pytest.mark.parametrize("body", [
    "not base64!", "YWJj", base64.b64encode(b"\xff\xfe").decode(), encoded([1, 2]), encoded({"auth_typ": "aad"}),
    encoded({"auth_typ": "aad", "claims": "oid"}),
    encoded(principal((MS + "tenantid", TENANT), ("name", "no object id"))),
    encoded(principal((MS + "objectidentifier", "not-a-guid"), (MS + "tenantid", TENANT))),
    encoded(principal((MS + "objectidentifier", OID), (MS + "objectidentifier", str(uuid.uuid4())),
                      (MS + "tenantid", TENANT))),
    encoded({"auth_typ": "aad", "claims": [{"typ": MS + "tenantid", "val": 7}]}),
])
def test_malformed_principals_are_refused(body):
    assert refused(headers(body)).reason == MALFORMED


def test_deeply_nested_json_is_refused():
    body = base64.b64encode(b"[" * 40_000).decode()
    assert len(body) <= MAX_PRINCIPAL_LENGTH
    assert refused(headers(body)).reason == MALFORMED


def test_an_oversized_principal_is_refused():
    body = encoded(person(("padding", "x" * MAX_PRINCIPAL_LENGTH)))
    assert refused(headers(body)).reason == MALFORMED


def test_companion_headers_without_the_principal_are_refused():
    assert refused({"X-MS-CLIENT-PRINCIPAL-ID": OID, "X-MS-CLIENT-PRINCIPAL-IDP": "aad"}).reason == MALFORMED


def test_one_header_twice_with_different_values_is_refused():
    other = principal((MS + "objectidentifier", str(uuid.uuid4())), (MS + "tenantid", TENANT), ("upn", "eve@contoso.com"))
    assert refused({"X-MS-CLIENT-PRINCIPAL": encoded(person()), "x-ms-client-principal": encoded(other)}).reason == \
        MALFORMED
