"""What the app reads of the Functions host's own configuration: host.json, with the
`AzureFunctionsJobHost__<path>` app settings that override it (as the host applies them).

The stages need two of its values: how long an invocation may run (`functionTimeout`, which
bounds how long a live sender holds a device) and how often a queue message is delivered before
the host moves it to poison (`extensions.queues.maxDequeueCount`).
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

APP_ROOT = Path(__file__).resolve().parent.parent
_OVERRIDE = "AzureFunctionsJobHost__"
# Functions' default functionTimeout on the plans that bound it (Flex Consumption, Premium).
DEFAULT_FUNCTION_TIMEOUT = timedelta(minutes=30)
DEFAULT_MAX_DEQUEUE_COUNT = 5  # the queue extension's default
_TIMESPAN = re.compile(r"^\s*(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class HostConfig:
    function_timeout: timedelta | None  # None: invocations are unbounded (-1)
    max_dequeue_count: int  # the last delivery before the host moves a message to poison

    @classmethod
    def read(cls, environ: Mapping[str, str] = os.environ, app_root: Path = APP_ROOT) -> "HostConfig":
        try:
            host = json.loads((app_root / "host.json").read_text(encoding="utf-8-sig"))
        except (OSError, ValueError):
            host = {}
        timeout = _setting(environ, host, "functionTimeout")
        dequeues = _setting(environ, host, "extensions", "queues", "maxDequeueCount")
        return cls(function_timeout=DEFAULT_FUNCTION_TIMEOUT if timeout is None else _timespan(timeout),
                   max_dequeue_count=int(dequeues) if str(dequeues or "").isdigit() else DEFAULT_MAX_DEQUEUE_COUNT)


def _setting(environ: Mapping[str, str], host: dict, *path: str) -> object:
    override = environ.get(_OVERRIDE + "__".join(path))
    if override is not None:
        return override
    value: object = host
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _timespan(value: object) -> timedelta | None:
    match = _TIMESPAN.match(str(value))
    if not match:
        return None  # "-1" (unbounded) or a value the host would refuse anyway
    days, hours, minutes, seconds = match.groups()
    return timedelta(days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=float(seconds))
