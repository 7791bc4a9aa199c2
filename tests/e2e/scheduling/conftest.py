"""Scheduled jobs end to end: one stack for the package (Azurite, the demo fleet's simulator, a
dev host in a subprocess) whose scheduler ticks every 2 s, called with the stack's
Administrator API token."""
from __future__ import annotations

import pytest

from local.harness import Stack
from tests.e2e.hardening.conftest import Client

TICK = "*/2 * * * * *"


@pytest.fixture(scope="package")
def stack():
    stack = Stack()
    try:
        stack.host.start(SCHEDULED_JOBS_TIMER_SCHEDULE=TICK)
        yield stack
    finally:
        stack.close()


@pytest.fixture
def client(stack) -> Client:
    stack.hub.control.reset()
    return Client(stack)
