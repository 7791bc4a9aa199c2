"""Sending to the stages' queues (base64 text, as the queue trigger expects)."""
from __future__ import annotations

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from shared.connections import Connections


class MessageQueue:
    """One of the app's queues; created on first use if the deployment has not made it yet."""

    def __init__(self, connections: Connections, name: str):
        self._client = connections.queue(name)

    def send(self, text: str, delay_seconds: float = 0) -> None:
        delay = round(delay_seconds) or None
        try:
            self._client.send_message(text, visibility_timeout=delay)
        except ResourceNotFoundError:
            try:
                self._client.create_queue()
            except ResourceExistsError:
                pass  # another instance made it meanwhile
            self._client.send_message(text, visibility_timeout=delay)
