"""API tokens in IoT Central's form, minted and checked here alone.

A token is `SharedAccessSignature sr=<app>&sig=<secret>&skn=<token id>&se=<expiry, ms since
1970>`, sent as the whole Authorization header. The secret is 256 random bits; what is stored
is the SHA-256 of the app, id, expiry and secret together, never the token. So the table alone
gives no usable token, and a token whose `sr`, `skn` or `se` was changed no longer hashes to
what is stored. A fast hash is enough: the secret is random, not a password to guess.

The expiry is checked from `se` before storage is read (cheap refusals of stale tokens); `se`
is bound by the hash, so it is the stored expiry.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import unquote

from shared.domain.access import ApiToken, ApiTokenNotFound, validate_access_id
from shared.domain.errors import InvalidField

SCHEME = "SharedAccessSignature"
_FIELDS = ("sr", "sig", "skn", "se")
MAX_TOKEN_LENGTH = 2048  # ours are under 400 characters
_PRINTABLE = re.compile(r"[\x21-\x7e]+")
_DIGITS = re.compile(r"[0-9]{1,15}")
_SECRET_BYTES = 32
# Compared against when the token id is unknown, so that an unknown id costs what a wrong secret does.
_NO_SUCH_HASH = hashlib.sha256(b"no such token").hexdigest()


class CredentialRefused(Exception):
    """The credential is not valid; `reason` may be told to the caller, `claimed` is who it named."""

    def __init__(self, reason: str, claimed: str | None = None):
        super().__init__(reason)
        self.reason, self.claimed = reason, claimed


@dataclass(frozen=True)
class PresentedToken:
    app: str
    token_id: str
    expiry_ms: int
    secret: str = field(repr=False)  # never in a log line or a traceback's locals repr


@dataclass(frozen=True)
class MintedToken:
    record: ApiToken
    token: str = field(repr=False)


def mint(token_id: str, role_ids: tuple[str, ...], expiry: datetime, app: str, now: datetime,
         created_by: str = "") -> MintedToken:
    """A new token and the record to store; the token string exists only in the result."""
    expiry_ms = int(expiry.timestamp() * 1000)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(_SECRET_BYTES)).decode().rstrip("=")
    presented = PresentedToken(app, token_id, expiry_ms, secret)
    record = ApiToken(id=token_id, role_ids=role_ids, expiry=_from_ms(expiry_ms), secret_hash=_hash(presented),
                      created_at=now, created_by=created_by)
    return MintedToken(record, f"{SCHEME} sr={app}&sig={secret}&skn={token_id}&se={expiry_ms}")


def is_api_token(authorization: str) -> bool:
    return authorization[:len(SCHEME) + 1].lower() == SCHEME.lower() + " "


def parse(authorization: str) -> PresentedToken:
    """The parts of a `SharedAccessSignature …` header; CredentialRefused if it is not one."""
    if len(authorization) > MAX_TOKEN_LENGTH or not is_api_token(authorization):
        raise CredentialRefused("The API token is malformed.")
    parts: dict[str, str] = {}
    for pair in authorization[len(SCHEME) + 1:].strip().split("&"):
        name, _, value = pair.partition("=")
        value = unquote(value)  # IoT Central's tokens carry `sig` URL-encoded
        if name not in _FIELDS or name in parts or not _PRINTABLE.fullmatch(value):
            raise CredentialRefused("The API token is malformed.")
        parts[name] = value
    if set(parts) != set(_FIELDS) or not _DIGITS.fullmatch(parts["se"]):
        raise CredentialRefused("The API token is malformed.")
    try:
        validate_access_id(parts["skn"], "skn")
    except InvalidField:
        raise CredentialRefused("The API token is malformed.") from None
    return PresentedToken(parts["sr"], parts["skn"], int(parts["se"]), parts["sig"])


def verify(authorization: str, find: Callable[[str], ApiToken], app: str, now: datetime) -> ApiToken:
    """The stored token `authorization` is, if it is valid now: for this app, unexpired, not
    deleted (revoked), and unchanged. `find` reads a stored token by id. Raises CredentialRefused,
    whose reason never tells a revoked token from a tampered one."""
    presented = parse(authorization)
    if not hmac.compare_digest(presented.app.encode(), app.encode()):
        raise CredentialRefused("The API token is not valid.", presented.token_id)
    if now >= _from_ms(presented.expiry_ms):
        raise CredentialRefused("The API token has expired.", presented.token_id)
    try:
        record = find(presented.token_id)
    except ApiTokenNotFound:
        record = None
    stored = record.secret_hash if record else _NO_SUCH_HASH
    if not hmac.compare_digest(_hash(presented).encode(), stored.encode()) or record is None:
        raise CredentialRefused("The API token is not valid.", presented.token_id)
    if record.expired(now):
        raise CredentialRefused("The API token has expired.", presented.token_id)
    return record


def _hash(token: PresentedToken) -> str:
    material = "\n".join((token.app, token.token_id, str(token.expiry_ms), token.secret))
    return hashlib.sha256(material.encode()).hexdigest()


def _from_ms(milliseconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(milliseconds / 1000, timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise CredentialRefused("The API token is malformed.") from None
