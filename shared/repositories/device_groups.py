"""The `devicegroups` table: one entity per group (PartitionKey `group`, RowKey the group id)."""
from __future__ import annotations

import json

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode

from shared.domain.errors import ConcurrencyConflict, DeviceGroupNotFound
from shared.domain.groups import DeviceGroup
from shared.storage_names import DEVICE_GROUPS_TABLE

GROUP_PARTITION = "group"


class DeviceGroupRepository:
    def __init__(self, service: TableServiceClient, table_name: str = DEVICE_GROUPS_TABLE):
        self._table = service.get_table_client(table_name)

    def save(self, group: DeviceGroup, if_match: str | None = None) -> DeviceGroup:
        """Create or replace (IoT Central's PUT). With `if_match`, only over that version."""
        entity = _group_to_entity(group)
        try:
            if if_match:
                metadata = self._table.update_entity(entity, mode=UpdateMode.REPLACE, etag=if_match,
                                                     match_condition=MatchConditions.IfNotModified)
            else:
                metadata = self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        except ResourceModifiedError:
            raise ConcurrencyConflict("Device group", group.id) from None
        except ResourceNotFoundError:
            raise DeviceGroupNotFound(group.id) from None
        group.etag = metadata["etag"]
        return group

    def get(self, group_id: str) -> DeviceGroup:
        try:
            return _group_from_entity(self._table.get_entity(GROUP_PARTITION, group_id))
        except ResourceNotFoundError:
            raise DeviceGroupNotFound(group_id) from None

    def delete(self, group_id: str) -> None:
        self.get(group_id)  # unknown ids are a 404, as in IoT Central
        self._table.delete_entity(GROUP_PARTITION, group_id)

    def count(self) -> int:
        entities = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": GROUP_PARTITION},
                                              select=["RowKey"], results_per_page=1000)
        return sum(1 for _ in entities)

    def list(self) -> list[DeviceGroup]:
        """Every group, by id. Groups are few (hundreds), so one partition read is enough."""
        entities = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": GROUP_PARTITION},
                                              results_per_page=1000)
        return [_group_from_entity(entity) for entity in entities]


def _group_to_entity(group: DeviceGroup) -> dict:
    entity = {"PartitionKey": GROUP_PARTITION, "RowKey": group.id, "displayName": group.display_name,
              "filter": group.filter, "description": group.description,
              "organizations": json.dumps(list(group.organizations)) if group.organizations is not None else None}
    return {key: value for key, value in entity.items() if value is not None}


def _group_from_entity(entity: dict) -> DeviceGroup:
    """Stored as written, even if the filter is no longer accepted: the API reports it corrupted."""
    return DeviceGroup(id=entity["RowKey"], display_name=entity.get("displayName", ""),
                       filter=entity.get("filter", ""), description=entity.get("description"),
                       organizations=_organizations(entity.get("organizations")), etag=entity.metadata["etag"])


def _organizations(stored: str | None) -> tuple[str, ...] | None:
    return tuple(json.loads(stored)) if stored else None
