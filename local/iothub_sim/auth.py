"""Shared access signature check for service calls (`Authorization: SharedAccessSignature ...`).

The SDK signs a fresh token per request, but `se` only moves once a second, so the same token
string repeats; verified tokens are cached until they expire and the HMAC runs once per string.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import unquote

from .errors import IotHubUnauthorizedAccess

PREFIX = "SharedAccessSignature "
CACHE_LIMIT = 10_000


class SasVerifier:
    def __init__(self, policies: dict[str, str]) -> None:
        self.keys = {name: base64.b64decode(key) for name, key in policies.items()}
        self.verified: dict[str, float] = {}

    def verify(self, header: str | None) -> None:
        now = time.time()
        expiry = self.verified.get(header) if header else None
        if expiry is not None and expiry > now:
            return
        expiry = self._check(header, now)
        if len(self.verified) >= CACHE_LIMIT:
            self.verified.clear()
        self.verified[header] = expiry

    def _check(self, header: str | None, now: float) -> float:
        if not header or not header.startswith(PREFIX):
            raise IotHubUnauthorizedAccess("Missing or malformed SharedAccessSignature authorization header")
        fields = dict(part.partition("=")[::2] for part in header[len(PREFIX):].split("&"))
        key = self.keys.get(fields.get("skn", ""))
        if key is None:
            raise IotHubUnauthorizedAccess(f"Unknown shared access policy '{fields.get('skn', '')}'")
        try:
            expiry = float(fields.get("se", ""))
        except ValueError:
            raise IotHubUnauthorizedAccess("Malformed expiry 'se' in SharedAccessSignature") from None
        if expiry <= now:
            raise IotHubUnauthorizedAccess("SharedAccessSignature has expired")
        message = (fields.get("sr", "") + "\n" + fields["se"]).encode()
        expected = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, unquote(fields.get("sig", ""))):
            raise IotHubUnauthorizedAccess("SharedAccessSignature signature does not match")
        return expiry
