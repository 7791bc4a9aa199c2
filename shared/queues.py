"""Sending to the stages' queues."""
from __future__ import annotations

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueClient


class MessageQueue:
    """One of the app's queues; created on first use if the deployment has not made it yet."""

    def __init__(self, client: QueueClient):
        self._client = client

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
