"""Storage queue triggers: the polling and poison-message algorithm of the Functions host.

Follows QueueListener.cs / QueueProcessor.cs of the Storage.Queues extension: receive up to
batchSize messages with a 10-minute visibility, renew it while the function runs, delete on
success, make a failed message visible again after visibilityTimeout, and move it to
`<queue>-poison` once dequeueCount reaches maxDequeueCount.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import random
import time
from dataclasses import dataclass

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.functions.queue import QueueMessage
from azure.storage.queue.aio import QueueClient

from .app_loader import FunctionInfo
from .invoker import Invoker, InvocationResult, trigger_annotation
from .settings import SettingsError, expand_settings, parse_timespan

log = logging.getLogger("local.functions_host")

RECEIVE_VISIBILITY_SECONDS = 600  # the host receives with 10 minutes and renews at half of it
MIN_POLLING_INTERVAL = 0.1
# The host's default is 1 minute, but 2 s in development mode, which is how `func start` runs.
DEVELOPMENT_MAX_POLLING_INTERVAL = 2.0
MAX_BATCH_SIZE = 32
POISON_SUFFIX = "-poison"


@dataclass(frozen=True)
class QueueOptions:
    batch_size: int = 16
    new_batch_threshold: int = 8 * (os.cpu_count() or 1)
    max_polling_interval: float = DEVELOPMENT_MAX_POLLING_INTERVAL
    visibility_timeout: float = 0.0
    max_dequeue_count: int = 5
    message_encoding: str = "base64"

    @classmethod
    def from_host_json(cls, options: dict) -> "QueueOptions":
        """From `extensions.queues` (keys lower-cased); unknown keys are ignored as the host does."""
        batch = min(int(options.get("batchsize", 16)), MAX_BATCH_SIZE)
        encoding = str(options.get("messageencoding", "base64")).lower()
        if encoding not in ("base64", "none"):
            raise SettingsError(f"host.json extensions.queues.messageEncoding '{encoding}' is not base64 or none")
        polling = parse_timespan(options.get("maxpollinginterval", DEVELOPMENT_MAX_POLLING_INTERVAL * 1000),
                                 bare_number_unit=0.001)
        return cls(
            batch_size=batch,
            new_batch_threshold=int(options.get("newbatchthreshold", (batch // 2) * (os.cpu_count() or 1))),
            max_polling_interval=max(polling, MIN_POLLING_INTERVAL),
            visibility_timeout=parse_timespan(options.get("visibilitytimeout", "00:00:00")),
            max_dequeue_count=int(options.get("maxdequeuecount", 5)),
            message_encoding=encoding,
        )


def poison_queue_name(queue_name: str) -> str | None:
    """`<queue>-poison`, or None for a poison queue itself or when the name would be too long."""
    name = queue_name + POISON_SUFFIX
    if queue_name.endswith(POISON_SUFFIX) or len(name) > 63:
        return None
    return name


class RandomizedBackoff:
    """RandomizedExponentialBackoffStrategy: minimum after a find, else grow ±20% up to maximum."""

    def __init__(self, minimum: float, maximum: float) -> None:
        self.minimum, self.maximum = minimum, maximum
        self.current, self.exponent = minimum, 1

    def next_delay(self, found_message: bool) -> float:
        if found_message:
            self.current, self.exponent = self.minimum, 1
        elif self.current != self.maximum:
            interval = self.minimum + random.uniform(0.8, 1.2) * 2 ** (self.exponent - 1) * self.minimum
            if interval < self.maximum:
                self.current, self.exponent = interval, self.exponent + 1
            else:
                self.current = self.maximum
        return self.current


class QueueWatcher:
    """The shared queue watcher: wakes a sleeping listener when its queue was written to."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def event(self, queue_name: str) -> asyncio.Event:
        return self._events.setdefault(queue_name.lower(), asyncio.Event())

    def notify(self, queue_name: str) -> None:
        if queue_name.lower() in self._events:
            self._events[queue_name.lower()].set()

    def notify_all(self) -> None:
        for event in self._events.values():
            event.set()


def decode_body(text: str, encoding: str) -> bytes | None:
    """The message body as bytes, or None when a base64 message is not valid base64."""
    if encoding == "none":
        return text.encode("utf-8")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def queue_argument(function: FunctionInfo, message, body: bytes):
    """What the trigger parameter receives: str/bytes for those annotations, else a QueueMessage."""
    annotation = trigger_annotation(function)
    if annotation is str:
        return body.decode("utf-8")
    if annotation is bytes:
        return body
    return QueueMessage(
        id=message.id, body=body, dequeue_count=message.dequeue_count, pop_receipt=message.pop_receipt,
        insertion_time=message.inserted_on, expiration_time=message.expires_on,
        time_next_visible=message.next_visible_on,
    )


class _Receipt:
    """The current pop receipt of a received message; renewing visibility changes it."""

    def __init__(self, message) -> None:
        self.message_id, self.pop_receipt = message.id, message.pop_receipt


class QueueListener:
    def __init__(self, function: FunctionInfo, connection_string: str, options: QueueOptions,
                 invoker: Invoker, watcher: QueueWatcher, write_outputs) -> None:
        self.function, self.options, self.invoker, self.watcher = function, options, invoker, watcher
        self.queue_name = expand_settings(function.trigger.queue_name)
        self.poison_name = poison_queue_name(self.queue_name)
        self._queue = QueueClient.from_connection_string(connection_string, self.queue_name)
        self._poison = (QueueClient.from_connection_string(connection_string, self.poison_name)
                        if self.poison_name else None)
        self._write_outputs = write_outputs  # async (function, result) -> None; raises on failure
        self._in_flight: set[asyncio.Task] = set()
        self._last_poll = 0.0
        self._missing_logged = False

    async def run(self) -> None:
        """Poll until cancelled: fetch a batch, dispatch it, wait for the new-batch threshold."""
        backoff = RandomizedBackoff(MIN_POLLING_INTERVAL, self.options.max_polling_interval)
        found = False
        while True:
            messages = await self._receive()
            if messages:
                for message in messages:
                    self._start(message)
                await self._wait_for_new_batch_threshold()
                found = True
                continue
            await self._sleep(backoff.next_delay(found))
            found = False

    async def drain(self, timeout: float) -> None:
        """Let invocations in flight finish (the host waits for them when it stops)."""
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=timeout)
        await self._queue.close()
        if self._poison:
            await self._poison.close()

    async def _receive(self) -> list:
        self._last_poll = time.monotonic()
        try:
            pages = self._queue.receive_messages(
                messages_per_page=self.options.batch_size, max_messages=self.options.batch_size,
                visibility_timeout=RECEIVE_VISIBILITY_SECONDS).by_page()
            async for page in pages:
                return [message async for message in page]
            return []
        except ResourceNotFoundError:
            # The real host does not create a trigger queue either: it polls until it exists.
            if not self._missing_logged:
                log.info("Queue '%s' does not exist yet; %s waits for it", self.queue_name, self.function.name)
                self._missing_logged = True
            return []
        except Exception as error:
            log.warning("Polling queue '%s' failed: %s", self.queue_name, error)
            return []

    async def _sleep(self, delay: float) -> None:
        event = self.watcher.event(self.queue_name)
        try:
            await asyncio.wait_for(event.wait(), timeout=delay)
        except asyncio.TimeoutError:
            return
        event.clear()
        # woken early: still poll at most once per minimum interval
        await asyncio.sleep(max(0.0, self._last_poll + MIN_POLLING_INTERVAL - time.monotonic()))

    def _start(self, message) -> None:
        task = asyncio.create_task(self._process(message))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _wait_for_new_batch_threshold(self) -> None:
        while len(self._in_flight) > self.options.new_batch_threshold:
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)

    async def _process(self, message) -> None:
        try:
            await self._process_message(message)
        except Exception:  # a storage error on one message must not stop the listener
            log.exception("Handling message %s of queue '%s' failed", message.id, self.queue_name)

    async def _process_message(self, message) -> None:
        receipt = _Receipt(message)
        if message.dequeue_count > self.options.max_dequeue_count:
            await self._move_to_poison(message, receipt, "its dequeue count exceeds maxDequeueCount")
            return
        body = decode_body(message.content or "", self.options.message_encoding)
        if body is None:
            await self._move_to_poison(message, receipt, "it is not valid base64")
            return
        result = await self._invoke_keeping_invisible(message, body, receipt)
        await self._complete(message, receipt, result)

    async def _invoke_keeping_invisible(self, message, body: bytes, receipt: _Receipt) -> InvocationResult:
        renewal = asyncio.create_task(self._renew_visibility(receipt))
        try:
            result = await self.invoker.invoke(self.function, queue_argument(self.function, message, body),
                                               f"queue '{self.queue_name}'")
            return await self._with_outputs_written(result)
        finally:
            renewal.cancel()

    async def _with_outputs_written(self, result: InvocationResult) -> InvocationResult:
        """A success whose output bindings cannot be written counts as a failure, as in the host."""
        if not result.succeeded:
            return result
        try:
            await self._write_outputs(self.function, result)
            return result
        except Exception as error:
            log.exception("Writing the output bindings of %s failed", self.function.name)
            return InvocationResult(False, error=error)

    async def _renew_visibility(self, receipt: _Receipt) -> None:
        try:
            while True:
                await asyncio.sleep(RECEIVE_VISIBILITY_SECONDS / 2)
                updated = await self._queue.update_message(
                    receipt.message_id, receipt.pop_receipt, visibility_timeout=RECEIVE_VISIBILITY_SECONDS)
                receipt.pop_receipt = updated.pop_receipt
        except Exception as error:  # the message may be gone; the invocation carries on regardless
            log.warning("Renewing the visibility of message %s failed: %s", receipt.message_id, error)

    async def _complete(self, message, receipt: _Receipt, result: InvocationResult) -> None:
        if result.succeeded:
            await self._delete(receipt)
        elif message.dequeue_count >= self.options.max_dequeue_count:
            await self._move_to_poison(message, receipt, f"it failed {message.dequeue_count} times")
        else:
            await self._queue.update_message(receipt.message_id, receipt.pop_receipt,
                                             visibility_timeout=round(self.options.visibility_timeout))

    async def _delete(self, receipt: _Receipt) -> None:
        try:
            await self._queue.delete_message(receipt.message_id, receipt.pop_receipt)
        except ResourceNotFoundError:
            log.warning("Message %s was already gone from queue '%s'", receipt.message_id, self.queue_name)

    async def _move_to_poison(self, message, receipt: _Receipt, reason: str) -> None:
        if self._poison is None:
            # A poison queue gets no poison queue: the message is just left invisible.
            log.warning("Message %s of '%s' is poison (%s); left in place", message.id, self.queue_name, reason)
            return
        try:
            await self._poison.create_queue()
        except ResourceExistsError:
            pass
        await self._poison.send_message(message.content)  # the original text, as the host copies it
        await self._delete(receipt)
        self.watcher.notify(self.poison_name)
        log.warning("Message %s moved to '%s' because %s", message.id, self.poison_name, reason)
