"""GET /api/health tells the truth and nothing more: each part the app needs, named when it is
down, with a short reason and never an error's text."""
from __future__ import annotations

import json

import pytest

from local.iothub_sim import start_simulator
from local.waiting import wait_for
from shared.repositories import ensure_tables

from .conftest import Client, start_storage, start_stack, stop_storage

INTERNAL_SIGNS = ("Error", "Exception", "Traceback", "http", "0x", "Operation returned")


@pytest.fixture(scope="module")
def stack():
    stack = start_stack(HEALTH_CACHE_SECONDS="1")  # a change shows within a second
    yield stack
    stack.close()


@pytest.fixture
def client(stack) -> Client:
    client = Client(stack)
    client.wait_healthy()
    return client


def unhealthy(client: Client) -> dict:
    body = wait_for(lambda: (r := client.get("health")).status_code == 503 and r.json(), timeout=30,
                    what="GET /api/health to answer 503")
    text = json.dumps(body)
    assert not any(sign in text for sign in INTERNAL_SIGNS), text
    return body["checks"]


def test_missing_tables_are_named(stack, client):
    stack.tables.delete_table("jobs")
    try:
        checks = unhealthy(client)
        assert checks == {"tables": {"status": "down", "error": "missing tables: jobs"},
                          "queues": {"status": "up"}, "iotHub": {"status": "up"}}
    finally:
        ensure_tables(stack.tables)
    client.wait_healthy()


def test_a_missing_queue_is_named(stack, client):
    stack.queue("jobs-plan").delete_queue()
    try:
        assert unhealthy(client)["queues"] == {"status": "down", "error": "missing queues: jobs-plan"}
    finally:
        stack.queue("jobs-plan").create_queue()
    client.wait_healthy()


def test_a_hub_answering_500_or_gone_is_named_without_its_error(stack, client):
    stack.hub.control.inject_fault("twinRead", count=10_000, status=500)
    try:
        checks = unhealthy(client)
        assert checks["iotHub"] == {"status": "down", "error": "answered 500"}
        assert checks["tables"] == checks["queues"] == {"status": "up"}
    finally:
        stack.hub.control.clear_faults()
    client.wait_healthy()

    port = stack.hub.port
    stack.hub.stop()
    try:
        assert unhealthy(client)["iotHub"] == {"status": "down", "error": "unreachable"}
    finally:
        stack.hub = start_simulator(fleet="demo", seed=1, port=port, in_subprocess=True)
    client.wait_healthy()


def test_a_storage_outage_is_named(stack, client):
    stop_storage(stack)
    try:
        checks = unhealthy(client)
        assert checks["tables"] == checks["queues"] == {"status": "down", "error": "unreachable"}
    finally:
        start_storage(stack)
    client.wait_healthy()
