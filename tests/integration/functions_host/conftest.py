"""Fixtures for the dev host's integration tests: the test app in ./app against Azurite."""
from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from local.functions_host import start_host

from local.waiting import wait_for

APP_SOURCE = Path(__file__).parent / "app"
# local.settings.json files are git-ignored, so the test app's one is written at test time.
LOCAL_SETTINGS = {"IsEncrypted": False, "Values": {
    "FUNCTIONS_WORKER_RUNTIME": "python",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "GREETING": "hello from local.settings.json",
}}
QUEUE_SETTINGS = ("WORK_QUEUE", "CHAIN_QUEUE", "FLAKY_QUEUE", "SLOW_QUEUE", "RESULTS_QUEUE")


def wait_until(condition, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    return wait_for(condition, timeout, interval, what=message)


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> Response:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Response(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers), error.read())


class Results:
    """Records the test app's functions report to the results queue."""

    def __init__(self, connection_string: str, queue_name: str) -> None:
        self.client = QueueClient.from_connection_string(connection_string, queue_name)
        self.seen: list[dict] = []

    def find(self, predicate) -> list[dict]:
        self._drain()
        return [record for record in self.seen if predicate(record)]

    def wait_for(self, predicate, count: int = 1, timeout: float = 10.0) -> list[dict]:
        def found():
            matching = self.find(predicate)
            return matching if len(matching) >= count else None
        return wait_until(found, timeout, message=f"{count} matching record(s); saw {self.seen}")

    def _drain(self) -> None:
        for message in self.client.receive_messages(max_messages=32, visibility_timeout=30):
            self.seen.append(json.loads(message.content))
            self.client.delete_message(message)


@dataclass
class HostUnderTest:
    host: object
    connection_string: str
    queues: dict[str, str]
    results: Results

    @property
    def url(self) -> str:
        return self.host.base_url

    def queue(self, setting: str, encode: bool = True) -> QueueClient:
        policy = TextBase64EncodePolicy() if encode else None
        return QueueClient.from_connection_string(self.connection_string, self.queues[setting],
                                                  message_encode_policy=policy)

    def poison_texts(self, setting: str) -> list[str]:
        client = QueueClient.from_connection_string(self.connection_string, self.queues[setting] + "-poison")
        try:
            return [m.content for m in client.peek_messages(max_messages=32)]
        except Exception:  # not created yet
            return []


def unique_queues() -> dict[str, str]:
    return {setting: f"{setting.split('_')[0].lower()}{uuid.uuid4().hex[:12]}" for setting in QUEUE_SETTINGS}


def create_queues(connection_string: str, names) -> None:
    for name in names:
        QueueClient.from_connection_string(connection_string, name).create_queue()


@pytest.fixture(scope="session")
def app_dir(tmp_path_factory) -> Path:
    """A copy of ./app with its local.settings.json."""
    target = tmp_path_factory.mktemp("functions_app")
    for name in ("function_app.py", "host.json"):
        shutil.copy(APP_SOURCE / name, target / name)
    (target / "local.settings.json").write_text(json.dumps(LOCAL_SETTINGS))
    return target


@pytest.fixture(scope="module")
def app_host(storage_connection_string, app_dir):
    """One host per test module, with its own queues; `tick` never fires by itself."""
    queues = unique_queues()
    create_queues(storage_connection_string, queues.values())
    environ = {"AzureWebJobsStorage": storage_connection_string, "TICK_SCHEDULE": "0 0 0 1 1 *",
               "AzureFunctionsWebHost__hostid": f"test-{uuid.uuid4().hex[:12]}", **queues}
    host = start_host(app_dir, port=0, environ=environ)
    yield HostUnderTest(host, storage_connection_string, queues,
                        Results(storage_connection_string, queues["RESULTS_QUEUE"]))
    host.stop()
