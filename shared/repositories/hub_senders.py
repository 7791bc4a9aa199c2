"""The `hubsenders` table: one row per process that sends to IoT Hub (PartitionKey `sender`,
RowKey the process's id, `seenAt` its last announcement), so each can pace itself at its share
of the hub's limits (shared.pacing.SenderCount). Rows of gone processes are pruned as they age."""
from __future__ import annotations

from datetime import datetime, timedelta

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode

from shared.storage_names import HUB_SENDERS_TABLE

SENDER_PARTITION = "sender"
_PRUNE_AFTER = timedelta(hours=1)


class HubSenderRepository:
    def __init__(self, service: TableServiceClient, table_name: str = HUB_SENDERS_TABLE):
        self._table = service.get_table_client(table_name)

    def announce(self, sender_id: str, now: datetime) -> None:
        self._table.upsert_entity({"PartitionKey": SENDER_PARTITION, "RowKey": sender_id, "seenAt": now},
                                  mode=UpdateMode.REPLACE)

    def withdraw(self, sender_id: str) -> None:
        try:
            self._table.delete_entity(SENDER_PARTITION, sender_id)
        except ResourceNotFoundError:
            pass

    def count_since(self, since: datetime) -> int:
        """Processes that announced themselves at `since` or later; deletes rows long gone."""
        count = 0
        for row in self._table.query_entities("PartitionKey eq @pk", parameters={"pk": SENDER_PARTITION},
                                              select=["RowKey", "seenAt"]):
            if row["seenAt"] >= since:
                count += 1
            elif row["seenAt"] < since - _PRUNE_AFTER:
                try:
                    self._table.delete_entity(SENDER_PARTITION, row["RowKey"])
                except ResourceNotFoundError:
                    pass  # pruned by another process
        return count
