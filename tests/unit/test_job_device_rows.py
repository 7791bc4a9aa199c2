"""Device rows as Azure Table Storage answers them: a `$select` naming a property the entity
lacks comes back as null on Azure (Azurite leaves it out), so every optional column reads as
missing-or-null."""
from __future__ import annotations

from azure.data.tables._deserialize import _convert_to_entity

from shared.domain.devices import DeviceStatus
from shared.repositories.device_keys import device_row_key
from shared.repositories.job_devices import _device_from_entity

SELECTED = ["RowKey", "status", "claimedBy", "attempts", "lastAttemptAt", "awaitingVersion", "awaitingSince"]


def test_a_new_row_read_with_a_select_as_azure_answers_it_has_no_attempts_and_waits_for_nothing():
    stored = {"RowKey": device_row_key("dev-1"), "status": "pending"}
    answered = _convert_to_entity({"odata.etag": 'W/"1"', **{name: stored.get(name) for name in SELECTED}})
    row = _device_from_entity(answered, "job-1")
    assert (row.device_id, row.status, row.attempts, row.claimed_by, row.awaiting_version, row.last_attempt_at) == (
        "dev-1", DeviceStatus.PENDING, 0, None, None, None)
