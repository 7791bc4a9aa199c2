from datetime import datetime, timezone

import pytest

from shared.domain.jobs import Job
from shared.domain.operations import Operation, OperationType

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def make_operation(**changes) -> Operation:
    fields = {"type": OperationType.PROPERTY, "path": "fanSpeed", "value": 3}
    fields.update(changes)
    return Operation(**fields)


@pytest.fixture
def draft() -> Job:
    return Job.draft("job-1", "Raise fan speed", "vending-west", [make_operation()], NOW)
