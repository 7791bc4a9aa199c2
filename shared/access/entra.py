"""Microsoft Entra ID bearer tokens: who a token's signature, issuer, audience and lifetime say
the caller is.

A token is accepted when it is signed RS256 by a key of the tenant's published key set, issued by
the tenant (v1 `https://sts.windows.net/{tid}/` or v2 `https://login.microsoftonline.com/{tid}/v2.0`),
for one of the app's audiences, inside its lifetime (give or take the leeway), and carries the
tenant's `tid` and an `oid`. Roles never come from the token: the caller matches the app's role
assignments by the identity made here.

Claims to identity (`identity_from_claims`, shared with App Service Authentication):
- `idtyp == "app"`, or no user name at all: an app-only token, a service principal known by
  tenant and object id; shown by `name`, else its app id (`azp` v2, `appid` v1), else its oid.
- otherwise a person, known by email: the first of `upn`, `preferred_username`, `email`
  (`upn` first: the tenant's admins set it, on a verified domain); shown by `name`, else that.

The key set is read through PyJWKClient's set cache (re-read every KEY_SET_LIFESPAN_SECONDS),
not its per-key cache, which never expires and would keep a withdrawn key valid. A token naming
an unknown key re-reads the set early, at most once per UNKNOWN_KEY_REFRESH_SECONDS, so tokens
with made-up key ids cannot turn into one request to Entra each. A key set that cannot be read is
IdentityProviderUnavailable (the token was not judged), never a refusal.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from shared.access.api_tokens import CredentialRefused
from shared.domain.access import GUID, IdentityProviderUnavailable, email_identity, service_principal_identity

MAX_TOKEN_LENGTH = 16 * 1024  # Entra's tokens, groups included, stay well under this
KEY_SET_LIFESPAN_SECONDS = 3600
UNKNOWN_KEY_REFRESH_SECONDS = 300  # as Microsoft.IdentityModel's RefreshInterval
KEY_SET_TIMEOUT_SECONDS = 5
ALGORITHMS = ["RS256"]  # what Entra signs with; never `none` or HS* (an HMAC "keyed" with the public key)
USER_NAME_CLAIMS = ("upn", "preferred_username", "email")
_MAX_CLAIM_LENGTH = 320  # the longest email address

NOT_VALID = "The bearer token is not valid."
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "The bearer token has expired."),
    (jwt.ImmatureSignatureError, "The bearer token is not yet valid."),
    (jwt.InvalidAudienceError, "The bearer token is not for this app."),
    (jwt.InvalidIssuerError, "The bearer token was not issued by this app's tenant."),
)


@dataclass(frozen=True)
class EntraSettings:
    tenant_id: str  # the directory's id (a GUID), as Entra writes it in `tid` and `iss`
    audiences: tuple[str, ...]  # the app's client id and/or Application ID URI
    jwks_url: str | None = None

    def __post_init__(self):
        if not GUID.fullmatch(self.tenant_id or ""):
            raise ValueError("The Entra tenant id must be the directory's id (a GUID).")
        object.__setattr__(self, "tenant_id", self.tenant_id.lower())
        object.__setattr__(self, "audiences", tuple(a.strip() for a in self.audiences if a.strip()))
        if not self.audiences:
            raise ValueError("At least one Entra audience is needed.")

    @property
    def key_set_url(self) -> str:
        return self.jwks_url or f"https://login.microsoftonline.com/{self.tenant_id}/discovery/v2.0/keys"

    @property
    def issuers(self) -> tuple[str, ...]:
        return (f"https://login.microsoftonline.com/{self.tenant_id}/v2.0",  # v2.0 tokens
                f"https://sts.windows.net/{self.tenant_id}/")  # v1.0 tokens


@dataclass(frozen=True)
class EntraIdentity:
    identity: str  # what role assignments match on (shared.domain.access)
    display_name: str
    kind: str  # "user" or "servicePrincipal"
    tenant_id: str
    object_id: str


class EntraVerifier:
    def __init__(self, settings: EntraSettings, leeway_seconds: int = 60):
        self.settings, self.leeway = settings, leeway_seconds
        self._keys = jwt.PyJWKClient(settings.key_set_url, cache_jwk_set=True, lifespan=KEY_SET_LIFESPAN_SECONDS,
                                     timeout=KEY_SET_TIMEOUT_SECONDS, cooldown_duration=0)
        self._lock = threading.Lock()  # one fetch at a time; the others then find the keys it read
        self._early_refresh_at: float | None = None

    def verify(self, token: str) -> EntraIdentity:
        """The identity `token` (what follows "Bearer ") proves; CredentialRefused if it proves none."""
        header, unverified = _unverified(token)
        claimed = _guid(unverified.get("oid"))
        if header.get("alg") not in ALGORITHMS or not isinstance(header.get("kid"), str):
            raise CredentialRefused(NOT_VALID, claimed)
        key = self._signing_key(header["kid"])
        if key is None:
            raise CredentialRefused(NOT_VALID, claimed)
        try:
            claims = jwt.decode(token, key, algorithms=ALGORITHMS, audience=list(self.settings.audiences),
                                issuer=self.settings.issuers, leeway=self.leeway,
                                options={"require": ["exp", "nbf", "iat", "iss", "aud"]})
        except jwt.PyJWTError as error:
            reason = next((text for kind, text in _REASONS if isinstance(error, kind)), NOT_VALID)
            raise CredentialRefused(reason, claimed) from None
        if _guid(claims.get("tid")) != self.settings.tenant_id:
            raise CredentialRefused("The bearer token was not issued by this app's tenant.", claimed)
        identity = identity_from_claims(claims, NOT_VALID)
        # An ID token (it carries a nonce; a person's has no scopes) proves a sign-in to some client,
        # not that the caller was given access to this API.
        if "nonce" in claims or (identity.kind == "user" and not claims.get("scp")):
            raise CredentialRefused("The bearer token is not an access token for this app.", claimed)
        return identity

    def _signing_key(self, kid: str) -> Any:
        with self._lock:
            key = self._find(kid, refresh=False)
            if key is None and self._may_refresh_early():
                self._early_refresh_at = time.monotonic()  # counted even if it fails: no retry storm on an outage
                key = self._find(kid, refresh=True)
            return key

    def _may_refresh_early(self) -> bool:
        last = self._early_refresh_at
        return last is None or time.monotonic() - last >= UNKNOWN_KEY_REFRESH_SECONDS

    def _find(self, kid: str, refresh: bool) -> Any:
        try:
            keys = self._keys.get_signing_keys(refresh=refresh)
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, ValueError) as error:  # unreachable, 4xx/5xx, not a key set
            raise IdentityProviderUnavailable("Microsoft Entra ID's signing keys could not be read.") from error
        return next((k.key for k in keys if k.key_id == kid and k.key_type == "RSA"), None)


def identity_from_claims(claims: Mapping[str, Any], refusal: str) -> EntraIdentity:
    """The identity verified claims name (module docstring); CredentialRefused(`refusal`) without a
    tenant and object id, or for a token that says it is a person's but names none."""
    tenant, object_id = _guid(claims.get("tid")), _guid(claims.get("oid"))
    if tenant is None or object_id is None:
        raise CredentialRefused(refusal, object_id)
    name = _text(claims.get("name"))
    app_only = claims.get("idtyp") == "app"
    user_name = None if app_only else next(filter(None, (_text(claims.get(c)) for c in USER_NAME_CLAIMS)), None)
    if user_name:
        return EntraIdentity(email_identity(user_name), name or user_name, "user", tenant, object_id)
    if claims.get("idtyp") == "user":
        raise CredentialRefused(refusal, object_id)
    app_id = _text(claims.get("azp")) or _text(claims.get("appid")) or object_id
    return EntraIdentity(service_principal_identity(tenant, object_id), name or app_id, "servicePrincipal", tenant,
                         object_id)


def _unverified(token: str) -> tuple[dict, dict]:
    """The header and claims as written, for choosing the key and naming who the token claims to be."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise CredentialRefused("The bearer token is malformed.")
    try:
        return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise CredentialRefused("The bearer token is malformed.") from None


def _guid(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and GUID.fullmatch(value) else None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and 0 < len(value.strip()) <= _MAX_CLAIM_LENGTH else None
