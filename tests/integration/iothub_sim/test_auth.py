"""SAS tokens: wrong key, unknown policy name and expired tokens are 401 / 401002."""
from __future__ import annotations

import base64
import time

from azure.iot.hub import IoTHubRegistryManager, sastoken

from .support import hub_error


def manager_for(hub, connection_string: str) -> IoTHubRegistryManager:
    manager = IoTHubRegistryManager.from_connection_string(connection_string)
    manager.protocol.config.connection.verify = hub.ca_bundle
    manager.protocol.config.retry_policy.retries = 0
    return manager


def with_part(connection_string: str, name: str, value: str) -> str:
    parts = dict(part.split("=", 1) for part in connection_string.split(";"))
    parts[name] = value
    return ";".join(f"{k}={v}" for k, v in parts.items())


def test_valid_token_is_accepted(hub):
    assert manager_for(hub, hub.connection_string).get_twin("vending-0001").device_id == "vending-0001"


def test_wrong_key_is_401(hub):
    wrong = with_part(hub.connection_string, "SharedAccessKey", base64.b64encode(b"w" * 32).decode())
    with hub_error(401, 401002) as error:
        manager_for(hub, wrong).get_twin("vending-0001")
    assert error.code_name == "IotHubUnauthorizedAccess"


def test_unknown_policy_name_is_401(hub):
    with hub_error(401, 401002):
        manager_for(hub, with_part(hub.connection_string, "SharedAccessKeyName", "registryRead")).get_twin("vending-0001")


class _TwoHoursAgo:
    @staticmethod
    def time() -> float:
        return time.time() - 7200


def test_expired_token_is_401(hub, monkeypatch):
    monkeypatch.setattr(sastoken, "time", _TwoHoursAgo)  # the SDK then signs tokens that expired an hour ago
    with hub_error(401, 401002):
        manager_for(hub, hub.connection_string).get_twin("vending-0001")
