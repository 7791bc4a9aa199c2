"""Helpers for the simulator tests: waiting on conditions and reading IoT Hub errors from the SDK."""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from msrest.exceptions import HttpOperationError

from local.waiting import wait_for


def wait_until(condition, timeout: float = 5.0, interval: float = 0.02, message: str = "condition"):
    return wait_for(condition, timeout, interval, what=message)


@dataclass
class HubErrorInfo:
    status: int
    code_name: str
    code_number: int
    body: dict
    headers: dict


@contextmanager
def hub_error(status: int, code_number: int):
    """Expect the SDK call inside to fail with this HTTP status and IoT Hub error code."""
    info = HubErrorInfo(0, "", 0, {}, {})
    with pytest.raises(HttpOperationError) as caught:
        yield info
    response = caught.value.response
    info.status, info.headers = response.status_code, dict(response.headers)
    info.code_name = response.headers.get("iothub-errorcode", "")
    info.body = json.loads(response.text)
    info.code_number = _error_number(info.body)
    assert (info.status, info.code_number) == (status, code_number), response.text
    assert info.code_name, "every error carries the iothub-errorcode header"


def _error_number(body: dict) -> int:
    if "errorCode" in body:
        return body["errorCode"]
    return json.loads(body["Message"])["errorCode"]
