"""Who is calling, and may they: the one gate every API request passes before its use case runs.

`AccessControl.admit(headers, action)` authenticates the caller from the request's headers,
holds it to its request rate, and checks the permission table (shared.domain.access). It
returns the Caller, or raises Unauthenticated (401), RateLimited (429), Forbidden (403) or
IdentityProviderUnavailable (503). None of them depends on the resource asked for, so a refusal
never tells whether it exists.

Credentials, in this order:
1. With TRUST_EASY_AUTH, App Service Authentication's principal header (it is in front and has
   already checked the caller's Entra bearer token, which must be in the request too).
2. `Authorization: SharedAccessSignature sr=…&sig=…&skn=…&se=…`: an API token of this app.
3. `Authorization: Bearer <JWT>`: a Microsoft Entra ID token, when ENTRA_TENANT_ID is set.
A function key, or anything else, is no credential: the host lets every request through to here.

People and service principals get their roles from the app's role assignments (`PUT /users/{id}`,
as in IoT Central), not from claims in their tokens: one place says who may do what, and an
administrator of the app changes it without touching the tenant. The principals listed in
ENTRA_ADMINISTRATORS are Administrators whatever the assignments say (the deployment's first
administrator). A valid token with no assignment is authenticated but may do nothing (403).
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime

from shared.access import api_tokens
from shared.access.api_tokens import CredentialRefused
from shared.domain.access import (ADMINISTRATOR, Action, ApiToken, Caller, CallerKind, Forbidden,
                                  IdentityProviderUnavailable, RateLimited, Unauthenticated, User, allowed)


class RateLimiter:
    """A token bucket per caller, in this process: `rate` requests a second, bursts of `burst`.

    Each instance of the app keeps its own buckets, so across N instances a caller may reach N
    times the rate; the point is that one caller cannot take an instance from the others."""

    MAX_CALLERS = 10_000  # the least recently seen are forgotten beyond this (they start full again)

    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self._monotonic = rate, burst, monotonic
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if the caller may go now (one request is counted), else the seconds until it may."""
        with self._lock:
            now = self._monotonic()
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[key] = (tokens - 1 if wait == 0 else tokens, now)
            while len(self._buckets) > self.MAX_CALLERS:
                self._buckets.popitem(last=False)
            return wait


class AccessControl:
    def __init__(self, *, app: str, find_token: Callable[[str], ApiToken], find_user: Callable[[str], User | None],
                 clock: Callable[[], datetime], limiter: RateLimiter, entra=None, easy_auth=None,
                 administrators: tuple[tuple[str, str], ...] = ()):
        """`find_token` reads a stored API token by id (ApiTokenNotFound if none); `find_user` a
        role assignment by identity. `entra` verifies bearer tokens (EntraVerifier, None: not
        accepted); `easy_auth(headers)` reads App Service Authentication's principal (None: not
        trusted). `administrators`: (tenant id, object id) of the principals who are
        Administrators by the deployment."""
        self.app, self.clock, self.limiter = app, clock, limiter
        self._find_token, self._find_user = find_token, find_user
        self._entra, self._easy_auth = entra, easy_auth
        self._administrators = frozenset((tenant.lower(), principal.lower()) for tenant, principal in administrators)
        self.challenge = f'SharedAccessSignature realm="{app}"' + (f', Bearer realm="{app}"' if entra else "")

    def admit(self, headers: Mapping[str, str], action: Action) -> Caller:
        try:
            caller = self.authenticate(headers)
        except (Unauthenticated, IdentityProviderUnavailable):
            self._hold_to_rate(Caller.anonymous())  # refusals too: callers without a credential share one budget
            raise
        self._hold_to_rate(caller)
        if not allowed(caller, action):
            raise Forbidden(caller, action)
        return caller

    def _hold_to_rate(self, caller: Caller) -> None:
        wait = self.limiter.take(caller.rate_key)
        if wait:
            raise RateLimited(max(1, math.ceil(wait)), self.limiter.rate)

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        try:
            return self._authenticate(headers)
        except CredentialRefused as refused:
            raise Unauthenticated(refused.reason, self.challenge, refused.claimed) from None

    def _authenticate(self, headers: Mapping[str, str]) -> Caller:
        authorization = (headers.get("authorization") or "").strip()
        # Easy Auth's principal only with the bearer token it checked: a browser's Easy Auth session
        # cookie rides along on requests other sites make, and must not act for the person.
        if self._easy_auth is not None and authorization[:7].lower() == "bearer ":
            principal = self._easy_auth(headers)
            if principal is not None:
                return self._person_or_app(principal)
        if not authorization:
            raise CredentialRefused("The request has no credential: send an API token or a Microsoft Entra "
                                    "bearer token in the Authorization header.")
        if api_tokens.is_api_token(authorization):
            token = api_tokens.verify(authorization, self._find_token, self.app, self.clock())
            return Caller(CallerKind.API_TOKEN, token.id, token.id, token.role_ids)
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() == "bearer" and self._entra is not None:
            return self._person_or_app(self._entra.verify(credential.strip()))
        raise CredentialRefused("The Authorization header holds no credential this app accepts.")

    def _person_or_app(self, principal) -> Caller:
        """The caller a verified Entra identity is: its role assignment's roles, if any."""
        kind = CallerKind.USER if principal.kind == "user" else CallerKind.SERVICE_PRINCIPAL
        user = self._find_user(principal.identity)
        roles = user.role_ids if user else ()
        if (principal.tenant_id.lower(), principal.object_id.lower()) in self._administrators:
            roles = tuple(dict.fromkeys((ADMINISTRATOR.id, *roles)))
        return Caller(kind, user.id if user else principal.identity, principal.display_name, roles)
