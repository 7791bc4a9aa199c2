"""What GET /api/health reports: whether each part the app needs works.

- `tables`: storage answers and every table of the app exists;
- `queues`: storage answers and every queue of the app exists;
- `iotHub`: IoT Hub answers.

The endpoint is anonymous, so a result is reused for `cache_seconds` (a check costs storage
calls and a hub call; with the cache, callers cannot spend the hub's quota). A part that is down
is named with a short reason ("unreachable", "missing tables: jobs"); the error itself is
logged, never shown.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import requests
from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError, ResourceNotFoundError,
                                   ServiceRequestError, ServiceResponseError)

from shared.bootstrap import ConfigurationError
from shared.hub_gateway import HubFailure
from shared.storage_names import QUEUES, TABLES

if TYPE_CHECKING:
    from shared.bootstrap import Services

logger = logging.getLogger(__name__)

Probe = Callable[[], None]


class PartDown(Exception):
    """The part answers but is not as the app needs it; the message is the reason shown."""


class Health:
    """The probes' last report, reused while it is younger than `cache_seconds`; one caller
    checks at a time, the others wait for its report."""

    def __init__(self, probes: Mapping[str, Probe], cache_seconds: float,
                 monotonic: Callable[[], float] = time.monotonic):
        self._probes, self._cache_seconds, self._monotonic = probes, cache_seconds, monotonic
        self._report: dict | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def report(self) -> dict:
        with self._lock:
            if self._report is None or self._monotonic() - self._checked_at >= self._cache_seconds:
                self._report = check_health(self._probes)
                self._checked_at = self._monotonic()
            return self._report


def check_health(probes: Mapping[str, Probe]) -> dict:
    """Run every probe; a probe raises when its part is down."""
    checks = {}
    for name, probe in probes.items():
        try:
            probe()
            checks[name] = {"status": "up"}
        except Exception as error:  # any failure means "down"; the log has the details
            reason = reason_of(error)
            logger.warning("health: %s is down (%s): %s: %s", name, reason, type(error).__name__, error)
            checks[name] = {"status": "down", "error": reason}
    healthy = all(check["status"] == "up" for check in checks.values())
    return {"status": "healthy" if healthy else "unhealthy", "checks": checks}


def reason_of(error: Exception) -> str:
    """A short reason that says what is wrong without internal detail."""
    if isinstance(error, PartDown):
        return str(error)
    if isinstance(error, ConfigurationError):
        return "not configured"
    if isinstance(error, HubFailure):
        status = error.status
    elif isinstance(error, (ServiceRequestError, ServiceResponseError, requests.RequestException, OSError)):
        status = None
    elif isinstance(error, ClientAuthenticationError):
        status = 401
    elif isinstance(error, HttpResponseError):
        status = error.status_code
    else:
        return "failed"
    if status is None:
        return "unreachable"
    if status in (401, 403):
        return "refused the app's credentials"
    return f"answered {status}"


def default_probes(services: "Services") -> dict[str, Probe]:
    return {"tables": lambda: probe_tables(services), "queues": lambda: probe_queues(services),
            "iotHub": lambda: probe_iothub(services)}


def probe_tables(services: "Services") -> None:
    present = {table.name for table in services.api_tables.list_tables()}  # made sure of once, on first use
    missing = [name for name in TABLES if name not in present]
    if missing:
        raise PartDown(f"missing tables: {', '.join(missing)}")


def probe_queues(services: "Services") -> None:
    services.make_queues_once()
    missing = []
    for name in QUEUES:
        try:
            services.queue_probes[name].get_queue_properties()
        except ResourceNotFoundError:
            missing.append(name)
    if missing:
        raise PartDown(f"missing queues: {', '.join(missing)}")


def probe_iothub(services: "Services") -> None:
    services.hub.check_reachable()
