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
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="identity-provider", daemon=True).start()

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/{self.tenant_id}/discovery/v2.0/keys"

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


def _new_key() -> tuple[rsa.RSAPrivateKey, str]:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048), uuid.uuid4().hex


def _handler(provider: LocalIdentityProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = provider._answer(self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # tests read results, not access logs
            pass

    return Handler
