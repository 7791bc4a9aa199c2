"""App Service Authentication ("Easy Auth"): the caller it signed in, read from the headers it adds.

The app calls `principal_from_headers` ONLY when configured to trust Easy Auth (TRUST_EASY_AUTH).
App Service drops the X-MS-CLIENT-PRINCIPAL* headers a client sends only while Easy Auth is on in
front of the app; without it anyone can send them and be whoever they write. Nothing in the
headers is signed: trust comes from where the request came through, not from what it says.

Easy Auth sends:
- `X-MS-CLIENT-PRINCIPAL`: base64 of JSON `{"auth_typ": "aad", "claims": [{"typ": …, "val": …}],
  "name_typ": …, "role_typ": …}`, the token's claims after .NET's default claim-type mapping
  (`oid` → …/identity/claims/objectidentifier, `tid` → …/identity/claims/tenantid, `upn` and
  `email` → the xmlsoap claim URIs; `name`, `preferred_username`, `idtyp`, `azp`, `appid` keep
  their names). Without the token store the mapping may not happen, so the JWT names are read too.
- `X-MS-CLIENT-PRINCIPAL-ID`, `-NAME`, `-IDP`: the object id, a display name, the provider.
The claims map to an identity as for bearer tokens (shared.access.entra.identity_from_claims).
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from shared.access.api_tokens import CredentialRefused
from shared.access.entra import EntraIdentity, identity_from_claims

PRINCIPAL = "x-ms-client-principal"
HEADERS = (PRINCIPAL, "x-ms-client-principal-id", "x-ms-client-principal-name", "x-ms-client-principal-idp")
MAX_PRINCIPAL_LENGTH = 64 * 1024  # room for a token's 200 group claims
PROVIDER = "aad"  # Easy Auth's name for Microsoft Entra ID
MALFORMED = "The App Service Authentication principal is malformed."
_XMLSOAP = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
_MICROSOFT = "http://schemas.microsoft.com/identity/claims/"
# The claims read, each under the types Easy Auth may give it, the mapped one first.
CLAIM_TYPES = {
    "oid": (_MICROSOFT + "objectidentifier", "oid"),
    "tid": (_MICROSOFT + "tenantid", "tid"),
    "upn": (_XMLSOAP + "upn", "upn"),
    "preferred_username": ("preferred_username",),
    "email": (_XMLSOAP + "emailaddress", "email"),
    "name": ("name",),
    "idtyp": ("idtyp",),
    "azp": ("azp",),
    "appid": ("appid",),
}
_READ = {typ for types in CLAIM_TYPES.values() for typ in types}


def principal_from_headers(headers: Mapping[str, str], *, tenant_id: str | None = None) -> EntraIdentity | None:
    """The caller Easy Auth signed in, None if its headers are absent. CredentialRefused if they
    are malformed, from another provider than Entra ID, or (given `tenant_id`) another tenant."""
    found = _easy_auth_headers(headers)
    if not found:
        return None
    encoded = found.get(PRINCIPAL)
    if encoded is None or len(encoded) > MAX_PRINCIPAL_LENGTH:
        raise CredentialRefused(MALFORMED)
    principal = _decode(encoded)
    provider = found.get("x-ms-client-principal-idp", PROVIDER)
    if str(principal.get("auth_typ")).lower() != PROVIDER or provider.strip().lower() != PROVIDER:
        raise CredentialRefused("The caller was not signed in with Microsoft Entra ID.")
    identity = identity_from_claims(_claims(principal["claims"]), MALFORMED)
    if tenant_id is not None and identity.tenant_id != tenant_id.strip().lower():
        raise CredentialRefused("The caller was signed in by another tenant.", identity.object_id)
    return identity


def _easy_auth_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Easy Auth's headers by lowercase name, whatever case they came in; one name given twice
    with different values is refused rather than guessed at."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        name = name.lower()
        if name in HEADERS:
            if not isinstance(value, str) or found.setdefault(name, value) != value:
                raise CredentialRefused(MALFORMED)
    return found


def _decode(encoded: str) -> dict[str, Any]:
    text = encoded.strip()
    try:
        principal = json.loads(base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError):
        raise CredentialRefused(MALFORMED) from None
    if not isinstance(principal, dict) or not isinstance(principal.get("claims"), list):
        raise CredentialRefused(MALFORMED)
    return principal


def _claims(entries: list) -> dict[str, str]:
    """The claims read, by their JWT names. Each must be a string, and given once (or once per value)."""
    values: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("typ"), str) or entry["typ"] not in _READ:
            continue
        value = entry.get("val")
        if not isinstance(value, str) or values.setdefault(entry["typ"], value) != value:
            raise CredentialRefused(MALFORMED)
    return {claim: next(values[t] for t in types if t in values)
            for claim, types in CLAIM_TYPES.items() if any(t in values for t in types)}
