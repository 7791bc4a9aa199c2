"""The `hubsenders` table: one row per process that sends to IoT Hub (PartitionKey `sender`,
RowKey the process's id), rewritten at each announcement, so each process can pace itself at
its share of the hub's limits (shared.pacing.SenderCount). Ages are measured with the service's
own row timestamps, so the processes' clocks need not agree. Rows of gone processes are pruned."""
from __future__ import annotations

from datetime import timedelta

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode

from shared.storage_names import HUB_SENDERS_TABLE

SENDER_PARTITION = "sender"
_PRUNE_AFTER = timedelta(hours=1)


class HubSenderRepository:
    def __init__(self, service: TableServiceClient, table_name: str = HUB_SENDERS_TABLE):
        self._table = service.get_table_client(table_name)

    def announce_and_count(self, sender_id: str, window: timedelta) -> int:
        """Announce this sender; return how many announced themselves within `window` of it
        (itself included). Deletes rows silent for an hour."""
        self._table.upsert_entity({"PartitionKey": SENDER_PARTITION, "RowKey": sender_id}, mode=UpdateMode.REPLACE)
        seen = {row["RowKey"]: row.metadata["timestamp"] for row in self._table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": SENDER_PARTITION}, select=["RowKey", "Timestamp"])}
        now = seen.get(sender_id) or max(seen.values())
        for gone in [key for key, at in seen.items() if at < now - _PRUNE_AFTER]:
            self.withdraw(gone)
        return sum(1 for at in seen.values() if at >= now - window)

    def withdraw(self, sender_id: str) -> None:
        """Remove the sender's row, in one attempt (called at exit, when storage may be gone)."""
        try:
            self._table.delete_entity(SENDER_PARTITION, sender_id, retry_total=0, connection_timeout=2)
        except ResourceNotFoundError:
            pass  # withdrawn or pruned already
