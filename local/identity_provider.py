"""A stand-in for Microsoft Entra ID's signing keys, for tests and local development.

It holds an RSA key, serves its public half as a JWKS (the shape of Entra's
`/{tenant}/discovery/v2.0/keys`) on 127.0.0.1, and mints v2.0 access tokens the way Entra does:
RS256, with `kid`, `iss`, `aud`, `tid`, `oid`, `exp`, `nbf`, `iat` and `ver`, and `idtyp: "app"`
for app-only tokens.

    with LocalIdentityProvider(audience="api://bulk-jobs") as idp:
        verifier = EntraVerifier(idp.settings())
        verifier.verify(idp.issue_user_token("ana@contoso.com"))

Unlike Entra it publishes one key at a time: `rotate()` replaces it, so tokens signed before stop
validating once a verifier reads the new set. `fail_with(500)` makes the endpoint answer that
status; `fetches` counts key-set requests, answered or not.

It also signs people in from a browser as Entra's v2.0 endpoints do for a single-page application
(the authorization code flow with PKCE): `register_spa(client_id, redirect_uri)` is the app
registration; `GET /{tenant}/oauth2/v2.0/authorize` shows a sign-in page that asks only for the
person's email (no password: whoever reaches it is who they say), then redirects to the redirect
URI with `code` and `state` (or `error` and `error_description`); `POST /{tenant}/oauth2/v2.0/token`
redeems a code once, only cross-origin (an `Origin` header, answered with CORS headers, as for
Entra's `spa` redirect type) and only with the `code_verifier` of the code's challenge, for an
access token of the person for the scope's API (`audience`), an ID token and, with `offline_access`,
a refresh token. Refusals have Entra's shape (`error`, `error_description` starting "AADSTS<n>:",
`error_codes`, `timestamp`, `trace_id`, `correlation_id`). Unlike Entra: no consent, no password,
no sessions (every authorize shows the page), refresh tokens cannot be redeemed.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.access.entra import EntraSettings


class LocalIdentityProvider:
    def __init__(self, tenant_id: str | None = None, audience: str = "api://bulk-jobs"):
        self.tenant_id = (tenant_id or str(uuid.uuid4())).lower()
        self.audience = audience
        self.fetches = 0
        self._lock = threading.Lock()
        self._status: int | None = None
        self._key, self.kid = _new_key()
        self._clients: dict[str, set[str]] = {}
        self._codes: dict[str, _Code] = {}
        self.redemptions = 0  # codes redeemed for tokens
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="identity-provider", daemon=True).start()

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/{self.tenant_id}/discovery/v2.0/keys"

    @property
    def login_url(self) -> str:
        """Where browsers sign in (Entra's https://login.microsoftonline.com): ENTRA_LOGIN_URL."""
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def authority(self) -> str:
        return f"{self.login_url}/{self.tenant_id}/oauth2/v2.0"

    def register_spa(self, client_id: str, redirect_uri: str) -> None:
        """An app registration of a single-page application, with one more redirect URI."""
        with self._lock:
            self._clients.setdefault(client_id, set()).add(redirect_uri)

    def object_id_of(self, email: str) -> str:
        """The object id this tenant gives the person signing in as `email` (the same every time)."""
        return str(uuid.uuid5(uuid.UUID(self.tenant_id) if _is_uuid(self.tenant_id) else uuid.NAMESPACE_DNS,
                              email.lower()))

    @property
    def issuer(self) -> str:
        return f"https://login.microsoftonline.com/{self.tenant_id}/v2.0"

    def settings(self) -> EntraSettings:
        return EntraSettings(self.tenant_id, (self.audience,), self.jwks_url)

    @property
    def public_pem(self) -> bytes:
        """The current public key as PEM: what a forger keying HS256 with it would use."""
        with self._lock:
            return self._key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)

    def key_set(self) -> dict[str, Any]:
        with self._lock:
            jwk = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
            return {"keys": [{**jwk, "kid": self.kid, "use": "sig"}]}  # no `alg`, as Entra's

    def issue_user_token(self, email: str, /, name: str = "Test User", object_id: str | None = None,
                         lifetime: float = 3600, **overrides: Any) -> str:
        """A delegated token of a person. `overrides` replace claims (`email=` too); None removes one."""
        claims = {"oid": object_id or str(uuid.uuid4()), "preferred_username": email, "name": name,
                  "scp": "user_impersonation"}  # no `idtyp`: Entra adds it only as an optional claim
        return self.issue({**claims, **overrides}, lifetime)

    def issue_app_token(self, object_id: str, app_id: str, lifetime: float = 3600, **overrides: Any) -> str:
        """An app-only (client credentials) token of a service principal."""
        claims = {"oid": object_id, "azp": app_id, "azpacr": "1", "idtyp": "app", "roles": []}
        return self.issue({**claims, **overrides}, lifetime)

    def issue(self, claims: dict[str, Any], lifetime: float = 3600) -> str:
        now = int(time.time())
        base = {"iss": self.issuer, "aud": self.audience, "tid": self.tenant_id, "ver": "2.0",
                "iat": now, "nbf": now, "exp": now + int(lifetime), "sub": str(uuid.uuid4())}
        merged = {name: value for name, value in {**base, **claims}.items() if value is not None}
        return self.sign(merged)

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        """`claims` exactly, signed RS256 with the current key under `kid` (default: its own)."""
        with self._lock:
            return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": kid or self.kid, "typ": "JWT"})

    def rotate(self) -> None:
        with self._lock:
            self._key, self.kid = _new_key()

    def fail_with(self, status: int | None) -> None:
        """Answer key-set requests with `status` (None: serve the keys again)."""
        self._status = status

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "LocalIdentityProvider":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _answer(self, path: str) -> tuple[int, dict[str, Any]]:
        if path != f"/{self.tenant_id}/discovery/v2.0/keys":
            return 404, {"error": "not_found"}
        with self._lock:
            self.fetches += 1
        if self._status is not None:
            return self._status, {"error": "temporarily_unavailable"}
        return 200, self.key_set()


    # The browser's sign-in (authorization code flow with PKCE), as Entra's v2.0 endpoints answer it.

    def _authorize_page(self, params: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        refused = self._authorize_refusal(params)
        if refused:
            return refused
        hidden = "".join(f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
                         for name, value in params.items() if name != "login")
        hint = html.escape(params.get("login_hint", ""))
        page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title>'
                f'</head><body><main><h1>Sign in</h1><form method="post" action="{html.escape(self._path("authorize"))}">'
                f'{hidden}<label for="login">Email</label> <input id="login" name="login" type="email" value="{hint}" '
                f'autocomplete="username" required> <button type="submit">Sign in</button></form></main></body></html>')
        return 200, page.encode(), {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}

    def _authorize_submit(self, params: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        refused = self._authorize_refusal(params)
        if refused:
            return refused
        login = params.get("login", "").strip()
        if "@" not in login:
            return self._authorize_page({**params, "login_hint": login})
        code = secrets.token_urlsafe(48)
        with self._lock:
            self._codes[code] = _Code(params["client_id"], params["redirect_uri"], params["scope"], login,
                                      params["code_challenge"], params.get("code_challenge_method", "plain"),
                                      params.get("nonce"), time.time() + 600)
        return self._redirect(params, {"code": code})

    def _authorize_refusal(self, params: dict[str, str]) -> tuple[int, bytes, dict[str, str]] | None:
        """Why the request cannot go on: shown on the page for an unknown app or redirect URI (where
        else could it go), else sent to the redirect URI as `error`; None when it may go on."""
        client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
        with self._lock:
            known = self._clients.get(client_id)
        if known is None:
            return _error_page(700016, f"Application with identifier '{client_id}' was not found in the directory "
                                       f"'{self.tenant_id}'.")
        if redirect_uri not in known:
            return _error_page(50011, f"The redirect URI '{redirect_uri}' specified in the request does not match "
                                      f"the redirect URIs configured for the application '{client_id}'.")
        if params.get("response_type") != "code":
            return self._redirect(params, _refusal("unsupported_response_type", 700054,
                                                   "response_type 'code' is the only one enabled for the application."))
        if not params.get("code_challenge") or params.get("code_challenge_method", "plain") not in ("S256", "plain"):
            return self._redirect(params, _refusal("invalid_request", 9002325, "Proof Key for Code Exchange is "
                                                   "required for cross-origin authorization code redemption."))
        resource_scopes = [scope for scope in params.get("scope", "").split() if "/" in scope]
        if not resource_scopes:
            return self._redirect(params, _refusal("invalid_request", 900144,
                                                   "The request body must contain the following parameter: 'scope'."))
        for scope in resource_scopes:
            if scope.rsplit("/", 1)[0] != self.audience:
                return self._redirect(params, _refusal("invalid_resource", 500011, f"The resource principal named "
                                                       f"{scope.rsplit('/', 1)[0]} was not found in the tenant named "
                                                       f"{self.tenant_id}."))
        return None

    def _redirect(self, params: dict[str, str], answer: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        if params.get("state") is not None:
            answer = {**answer, "state": params["state"]}
        uri = params["redirect_uri"]
        separator = "#" if params.get("response_mode") == "fragment" else ("&" if "?" in uri else "?")
        return 302, b"", {"Location": f"{uri}{separator}{urlencode(answer)}", "Cache-Control": "no-store"}

    def _token(self, form: dict[str, str], origin: str | None) -> tuple[int, bytes, dict[str, str]]:
        headers = {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store",
                   **({"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {})}
        status, body = self._redeem(form, origin)
        return status, json.dumps(body).encode(), headers

    def _redeem(self, form: dict[str, str], origin: str | None) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "authorization_code":
            return 400, _refusal("unsupported_grant_type", 70003, "The app requested an unsupported grant type "
                                 f"'{form.get('grant_type', '')}'.", body=True)
        with self._lock:
            known = form.get("client_id", "") in self._clients
            code = self._codes.get(form.get("code", ""))
            if code is not None and known and origin and code.client_id == form.get("client_id"):
                fresh = not code.redeemed
                code.redeemed = True
            else:
                fresh = False
        if not known:
            return 400, _refusal("unauthorized_client", 700016, f"Application with identifier "
                                 f"'{form.get('client_id', '')}' was not found in the directory '{self.tenant_id}'.",
                                 body=True)
        if not origin:
            return 400, _refusal("invalid_request", 9002327, "Tokens issued for the 'Single-Page Application' "
                                 "client-type may only be redeemed via cross-origin requests.", body=True)
        if code is None or code.client_id != form.get("client_id") or code.expires < time.time():
            return 400, _refusal("invalid_grant", 70008, "The provided authorization code or refresh token has "
                                 "expired due to inactivity. Send a new interactive authorization request for this "
                                 "user and resource.", body=True)
        if not fresh:
            return 400, _refusal("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please "
                                 "retry with a new valid code or use an existing refresh token.", body=True)
        if form.get("redirect_uri") != code.redirect_uri:
            return 400, _refusal("invalid_grant", 50148, "The redirect_uri does not match the one the authorization "
                                 "code was requested with.", body=True)
        if not code.verified_by(form.get("code_verifier", "")):
            return 400, _refusal("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge "
                                 "supplied in the authorization request.", body=True)
        with self._lock:
            self.redemptions += 1
        return 200, self._tokens(code)

    def _tokens(self, code: "_Code") -> dict[str, Any]:
        scopes = code.scope.split()
        api_scopes = " ".join(scope.rsplit("/", 1)[1] for scope in scopes if "/" in scope)
        object_id, name = self.object_id_of(code.login), code.login.split("@", 1)[0].replace(".", " ").title()
        access = self.issue_user_token(code.login, name=name, object_id=object_id, scp=api_scopes,
                                       azp=code.client_id, azpacr="0")
        now = int(time.time())
        identity = self.sign({"aud": code.client_id, "iss": self.issuer, "iat": now, "nbf": now, "exp": now + 3600,
                              "tid": self.tenant_id, "oid": object_id, "sub": object_id, "name": name,
                              "preferred_username": code.login, "ver": "2.0",
                              **({"nonce": code.nonce} if code.nonce else {})})
        answer = {"token_type": "Bearer", "scope": " ".join(scopes), "expires_in": 3599, "ext_expires_in": 3599,
                  "access_token": access, "id_token": identity}
        if "offline_access" in scopes:
            answer["refresh_token"] = secrets.token_urlsafe(64)
        return answer

    def _path(self, endpoint: str) -> str:
        return f"/{self.tenant_id}/oauth2/v2.0/{endpoint}"


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scope: str
    login: str
    challenge: str
    method: str
    nonce: str | None
    expires: float
    redeemed: bool = False

    def verified_by(self, verifier: str) -> bool:
        if not verifier:
            return False
        if self.method == "plain":
            return secrets.compare_digest(verifier, self.challenge)
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii", "replace")).digest()).rstrip(b"=")
        return secrets.compare_digest(digest.decode(), self.challenge)


def _refusal(error: str, code: int, message: str, body: bool = False) -> dict[str, Any]:
    """Entra's error: for a redirect, `error` and `error_description`; for the token endpoint, its JSON body."""
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    description = f"AADSTS{code}: {message} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {stamp}"
    if not body:
        return {"error": error, "error_description": description}
    return {"error": error, "error_description": description, "error_codes": [code], "timestamp": stamp,
            "trace_id": trace, "correlation_id": correlation, "error_uri": f"https://login.microsoftonline.com/error?code={code}"}


def _error_page(code: int, message: str) -> tuple[int, bytes, dict[str, str]]:
    text = html.escape(f"AADSTS{code}: {message}")
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title></head>'
            f'<body><main><h1>Sorry, but we are having trouble signing you in.</h1><p id="error">{text}</p></main></body></html>')
    return 400, page.encode(), {"Content-Type": "text/html; charset=utf-8"}


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _new_key() -> tuple[rsa.RSAPrivateKey, str]:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048), uuid.uuid4().hex


def _handler(provider: LocalIdentityProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path, _, query = self.path.partition("?")
            if path == provider._path("authorize"):
                return self._send(*provider._authorize_page(_single(parse_qs(query, keep_blank_values=True))))
            status, body = provider._answer(self.path)
            self._send(status, json.dumps(body).encode(), {"Content-Type": "application/json"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = _single(parse_qs(self.rfile.read(length).decode("utf-8", "replace"), keep_blank_values=True))
            path = self.path.partition("?")[0]
            if path == provider._path("authorize"):
                return self._send(*provider._authorize_submit(form))
            if path == provider._path("token"):
                return self._send(*provider._token(form, self.headers.get("Origin")))
            self._send(404, b'{"error": "not_found"}', {"Content-Type": "application/json"})

        def do_OPTIONS(self):  # a preflight of the token endpoint
            origin = self.headers.get("Origin")
            self._send(204, b"", {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": "POST",
                                  "Access-Control-Allow-Headers": "Content-Type", "Vary": "Origin"} if origin else {})

        def _send(self, status: int, data: bytes, headers: dict[str, str]):
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # tests read results, not access logs
            pass

    return Handler


def _single(values: dict[str, list[str]]) -> dict[str, str]:
    return {name: found[0] for name, found in values.items()}
