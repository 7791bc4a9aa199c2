"""The admin API: `POST /admin/functions/<name>` runs a non-HTTP function by hand (202), and
`GET /admin/host/status` says the host is running (what scripts wait for)."""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

from aiohttp import web

from .app_loader import LoadedApp
from .invoker import Invoker
from .queue_listener import queue_argument
from .timer_scheduler import timer_request

log = logging.getLogger("local.functions_host")


class AdminApi:
    def __init__(self, app: LoadedApp, invoker: Invoker, write_outputs, host_id: str) -> None:
        self.app, self.invoker, self.host_id = app, invoker, host_id
        self._write_outputs = write_outputs
        self.running: set[asyncio.Task] = set()

    async def handle(self, request: web.Request) -> web.Response:
        parts = request.path.strip("/").split("/")
        if request.method == "GET" and [p.lower() for p in parts] == ["admin", "host", "status"]:
            return web.json_response({"id": self.host_id, "state": "Running", "version": "dev-host"})
        if request.method == "POST" and len(parts) == 3 and parts[1].lower() == "functions":
            return await self.run_by_hand(parts[2], await request.read())
        return web.Response(status=404)

    async def run_by_hand(self, name: str, body: bytes) -> web.Response:
        function = self.app.function(name)
        if function is None:
            return web.Response(status=404)
        if function.trigger_type == "httpTrigger":
            return web.Response(status=400, text="HTTP functions are called through their route")
        try:
            text = str((json.loads(body or b"{}") or {}).get("input", "") or "")
        except (ValueError, AttributeError):
            return web.Response(status=400, text='the body must be JSON like {"input": "..."}')
        task = asyncio.create_task(self._run(function, text))
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        return web.Response(status=202)

    async def _run(self, function, text: str) -> None:
        result = await self.invoker.invoke(function, trigger_value(function, text), "admin")
        if result.succeeded:
            try:
                await self._write_outputs(function, result)
            except Exception:
                log.exception("Output bindings of %s failed", function.name)


def trigger_value(function, text: str):
    """The trigger argument for a manual run: the input as queue message body, a TimerRequest, or text."""
    if function.trigger_type == "queueTrigger":
        # Not received from a queue: no pop receipt, and dequeue_count 0 (unverified against the host).
        message = SimpleNamespace(id=str(uuid.uuid4()), dequeue_count=0, pop_receipt=None,
                                  inserted_on=datetime.now(timezone.utc), expires_on=None, next_visible_on=None)
        return queue_argument(function, message, text.encode("utf-8"))
    if function.trigger_type == "timerTrigger":
        return timer_request(past_due=False, status=None)
    return text
