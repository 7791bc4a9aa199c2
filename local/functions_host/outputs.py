"""Output bindings: queue outputs are written after a successful invocation, as the host does.

Other output binding types (table, blob, ...) are not supported by the dev host; a function
using one is logged once per binding and its value dropped.
"""
from __future__ import annotations

import base64
import json
import logging

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue.aio import QueueClient

from .app_loader import FunctionInfo
from .invoker import InvocationResult
from .queue_listener import QueueWatcher
from .settings import expand_settings, resolve_connection

log = logging.getLogger("local.functions_host")


class OutputWriter:
    def __init__(self, environ, watcher: QueueWatcher, message_encoding: str) -> None:
        self._environ, self._watcher, self._encoding = environ, watcher, message_encoding
        self._clients: dict[tuple[str, str], QueueClient] = {}
        self._warned: set[tuple[str, str]] = set()

    async def write(self, function: FunctionInfo, result: InvocationResult) -> None:
        for binding in function.output_bindings:
            value = result.return_value if binding.name == "$return" else result.outputs.get(binding.name)
            if value is None:
                continue
            if binding.type == "queue":
                await self._enqueue(binding, value)
            elif (function.name, binding.name) not in self._warned:
                self._warned.add((function.name, binding.name))
                log.warning("%s: output binding '%s' of type %s is not supported by the dev host; "
                            "its value is dropped", function.name, binding.name, binding.type)

    async def _enqueue(self, binding, value) -> None:
        queue_name = expand_settings(binding.queue_name, self._environ)
        client = await self._client(resolve_connection(binding.connection, self._environ), queue_name)
        for item in value if isinstance(value, list) else [value]:
            await client.send_message(self._encode(item))
        self._watcher.notify(queue_name)

    async def _client(self, connection_string: str, queue_name: str) -> QueueClient:
        key = (connection_string, queue_name.lower())
        if key not in self._clients:
            client = QueueClient.from_connection_string(connection_string, queue_name)
            try:
                await client.create_queue()  # the host creates an output queue when missing
            except ResourceExistsError:
                pass
            self._clients[key] = client
        return self._clients[key]

    def _encode(self, item) -> str:
        if isinstance(item, (dict, list)):
            item = json.dumps(item)
        data = item if isinstance(item, bytes) else str(item).encode("utf-8")
        return base64.b64encode(data).decode("ascii") if self._encoding == "base64" else data.decode("utf-8")

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
