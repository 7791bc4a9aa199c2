"""Optional key checks (--enforce-keys), as the host applies them in Azure.

Keys come from app settings (local.settings.json Values or the environment):
FUNCTIONS_MASTER_KEY (admin level and the admin API), FUNCTIONS_HOST_KEYS (comma-separated,
valid for every function-level function) and FUNCTIONS_KEYS_<function name> (comma-separated,
valid for that function only). Without FUNCTIONS_MASTER_KEY a random master key is made up.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class HostKeys:
    master: str
    host_keys: frozenset[str]
    function_keys: dict[str, frozenset[str]]  # lower-cased function name -> keys
    master_generated: bool = False

    @classmethod
    def from_settings(cls, environ) -> "HostKeys":
        master = environ.get("FUNCTIONS_MASTER_KEY", "")
        function_keys = {name[len("FUNCTIONS_KEYS_"):].lower(): _split(value)
                         for name, value in environ.items() if name.startswith("FUNCTIONS_KEYS_")}
        return cls(master or secrets.token_urlsafe(32), _split(environ.get("FUNCTIONS_HOST_KEYS", "")),
                   function_keys, master_generated=not master)

    def allows(self, auth_level: str, function_name: str | None, presented: str | None) -> bool:
        """anonymous: anyone; function: master, host or that function's key; admin: master only."""
        level = auth_level.lower()
        if level == "anonymous":
            return True
        if not presented:
            return False
        if secrets.compare_digest(presented, self.master):
            return True
        if level != "function":
            return False
        valid = self.host_keys | self.function_keys.get((function_name or "").lower(), frozenset())
        return any(secrets.compare_digest(presented, key) for key in valid)


def _split(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())
