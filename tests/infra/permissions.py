"""Which Azure RBAC permission each data-plane operation needs, and what the built-in roles grant.

Three tables, each kept small and explicit:
- BUILT_IN_ROLES: the actions and data actions of the built-in roles the template may assign
  (from Azure's built-in role definitions; the ids are the same in every tenant).
- SDK_METHODS: Azure SDK client method name -> the permissions one call needs (Azure's
  "permissions for ... operations" tables for Storage and IoT Hub). The universe of
  method names comes from the SDK classes themselves (sdk_method_names), so a call the table
  does not know fails the cross-check instead of slipping through.
- Permissions for what the Functions host does for the app: host storage, triggers, bindings.

A permission is an Azure action string; a role grants it when one of its patterns matches
(`*` as in Azure role definitions). The provider prefix says which resource the role must be
assigned on (Microsoft.Storage: the storage account; Microsoft.Devices: the IoT Hub;
Microsoft.Insights: Application Insights).
"""
from __future__ import annotations

import fnmatch
import inspect

TABLES = "Microsoft.Storage/storageAccounts/tableServices/tables"
QUEUES = "Microsoft.Storage/storageAccounts/queueServices/queues"
CONTAINERS = "Microsoft.Storage/storageAccounts/blobServices/containers"
HUB = "Microsoft.Devices/IotHubs"
TELEMETRY = "Microsoft.Insights/Telemetry/Write"

BUILT_IN_ROLES: dict[str, dict] = {
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": {
        "name": "Storage Table Data Contributor",
        "grants": [f"{TABLES}/read", f"{TABLES}/write", f"{TABLES}/delete",
                   f"{TABLES}/entities/read", f"{TABLES}/entities/write", f"{TABLES}/entities/delete",
                   f"{TABLES}/entities/add/action", f"{TABLES}/entities/update/action"],
    },
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": {
        "name": "Storage Queue Data Contributor",
        "grants": [f"{QUEUES}/read", f"{QUEUES}/write", f"{QUEUES}/delete",
                   f"{QUEUES}/messages/read", f"{QUEUES}/messages/write", f"{QUEUES}/messages/delete",
                   f"{QUEUES}/messages/add/action", f"{QUEUES}/messages/process/action"],
    },
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": {
        "name": "Storage Blob Data Owner",
        "grants": [f"{CONTAINERS}/*", "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
                   f"{CONTAINERS}/blobs/*"],
    },
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": {
        "name": "Storage Blob Data Contributor",
        "grants": [f"{CONTAINERS}/read", f"{CONTAINERS}/write", f"{CONTAINERS}/delete",
                   "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
                   f"{CONTAINERS}/blobs/read", f"{CONTAINERS}/blobs/write", f"{CONTAINERS}/blobs/delete",
                   f"{CONTAINERS}/blobs/move/action", f"{CONTAINERS}/blobs/add/action"],
    },
    "4fc6c259-987e-4a07-842e-c321cc9d413f": {
        "name": "IoT Hub Data Contributor",
        "grants": [f"{HUB}/*"],
    },
    "3913510d-42f4-4e42-8a64-420c390055eb": {
        "name": "Monitoring Metrics Publisher",
        "grants": ["Microsoft.Insights/Register/Action", "Microsoft.Insights/Metrics/Write", TELEMETRY],
    },
}

# Resource type a role must be assigned on (or below) for a permission of each provider.
PROVIDER_SCOPES = {
    "Microsoft.Storage": "Microsoft.Storage/storageAccounts",
    "Microsoft.Devices": "Microsoft.Devices/IotHubs",
    "Microsoft.Insights": "Microsoft.Insights/components",
}

NONE: tuple[str, ...] = ()
_ENTITY_READ = (f"{TABLES}/entities/read",)
_BLOB_READ = (f"{CONTAINERS}/blobs/read",)
_BLOB_WRITE = (f"{CONTAINERS}/blobs/write", f"{CONTAINERS}/blobs/add/action")
_TWIN_READ = (f"{HUB}/twins/read",)
_TWIN_WRITE = (f"{HUB}/twins/write",)
_METHODS = (f"{HUB}/directMethods/invoke/action",)
_DEVICE_READ = (f"{HUB}/devices/read",)
_DEVICE_WRITE = (f"{HUB}/devices/write",)

SDK_METHODS: dict[str, tuple[str, ...]] = {
    # Client construction and plumbing: no request on its own.
    "close": NONE, "from_connection_string": NONE, "from_table_url": NONE, "from_queue_url": NONE,
    "from_blob_url": NONE, "from_container_url": NONE, "from_token_credential": NONE,
    "get_table_client": NONE, "get_queue_client": NONE, "get_container_client": NONE, "get_blob_client": NONE,
    # Table Storage (azure-data-tables).
    "get_entity": _ENTITY_READ, "list_entities": _ENTITY_READ, "query_entities": _ENTITY_READ,
    # Azure's table of operations accepts entities/write or the narrower add/update actions;
    # the narrower ones are listed, which every role granting write also grants.
    "create_entity": (f"{TABLES}/entities/add/action",),
    "update_entity": (f"{TABLES}/entities/update/action",),
    "upsert_entity": (f"{TABLES}/entities/add/action", f"{TABLES}/entities/update/action"),
    "delete_entity": (f"{TABLES}/entities/delete",),
    # A transaction may hold any write: creates, updates, upserts and deletes.
    "submit_transaction": (f"{TABLES}/entities/add/action", f"{TABLES}/entities/update/action",
                           f"{TABLES}/entities/delete"),
    "create_table": (f"{TABLES}/write",), "create_table_if_not_exists": (f"{TABLES}/read", f"{TABLES}/write"),
    "delete_table": (f"{TABLES}/delete",), "list_tables": (f"{TABLES}/read",), "query_tables": (f"{TABLES}/read",),
    # Queue Storage (azure-storage-queue).
    "send_message": (f"{QUEUES}/messages/add/action",),
    "receive_message": (f"{QUEUES}/messages/read", f"{QUEUES}/messages/process/action"),
    "receive_messages": (f"{QUEUES}/messages/read", f"{QUEUES}/messages/process/action"),
    "peek_messages": (f"{QUEUES}/messages/read",),
    "update_message": (f"{QUEUES}/messages/write", f"{QUEUES}/messages/process/action"),
    "delete_message": (f"{QUEUES}/messages/delete", f"{QUEUES}/messages/process/action"),
    "clear_messages": (f"{QUEUES}/messages/delete",),
    "create_queue": (f"{QUEUES}/write",), "delete_queue": (f"{QUEUES}/delete",),
    "get_queue_properties": (f"{QUEUES}/read",), "set_queue_metadata": (f"{QUEUES}/write",),
    "list_queues": (f"{QUEUES}/read",),
    # Blob Storage (azure-storage-blob).
    "upload_blob": _BLOB_WRITE, "stage_block": _BLOB_WRITE, "commit_block_list": _BLOB_WRITE,
    "create_append_blob": _BLOB_WRITE, "append_block": _BLOB_WRITE, "set_blob_metadata": _BLOB_WRITE,
    "set_http_headers": _BLOB_WRITE, "set_standard_blob_tier": _BLOB_WRITE, "acquire_lease": _BLOB_WRITE,
    "download_blob": _BLOB_READ, "get_blob_properties": _BLOB_READ, "exists": _BLOB_READ,
    "list_blobs": (f"{CONTAINERS}/blobs/read",), "list_blob_names": (f"{CONTAINERS}/blobs/read",),
    "walk_blobs": (f"{CONTAINERS}/blobs/read",), "get_block_list": _BLOB_READ,
    "delete_blob": (f"{CONTAINERS}/blobs/delete",), "delete_blobs": (f"{CONTAINERS}/blobs/delete",),
    "create_container": (f"{CONTAINERS}/write",), "delete_container": (f"{CONTAINERS}/delete",),
    "list_containers": (f"{CONTAINERS}/read",), "get_container_properties": (f"{CONTAINERS}/read",),
    "set_container_metadata": (f"{CONTAINERS}/write",),
    # IoT Hub (azure-iot-hub IoTHubRegistryManager, and its generated protocol client).
    "get_twin": _TWIN_READ, "get_module_twin": _TWIN_READ, "query_iot_hub": _TWIN_READ, "get_twins": _TWIN_READ,
    "update_twin": _TWIN_WRITE, "replace_twin": _TWIN_WRITE,
    "update_module_twin": _TWIN_WRITE, "replace_module_twin": _TWIN_WRITE,
    "invoke_device_method": _METHODS, "invoke_device_module_method": _METHODS, "invoke_method": _METHODS,
    "get_device": _DEVICE_READ, "get_devices": _DEVICE_READ, "get_module": _DEVICE_READ,
    "get_modules": _DEVICE_READ, "get_identity": _DEVICE_READ, "get_modules_on_device": _DEVICE_READ,
    "create_device_with_sas": _DEVICE_WRITE, "update_device_with_sas": _DEVICE_WRITE,
    "create_or_update_identity": _DEVICE_WRITE,
    "delete_device": (f"{HUB}/devices/delete",), "delete_module": (f"{HUB}/devices/delete",),
    "delete_identity": (f"{HUB}/devices/delete",),
    "send_c2d_message": (f"{HUB}/cloudToDeviceMessages/send/action",),
    "get_service_statistics": (f"{HUB}/statistics/read",),
    "get_device_registry_statistics": (f"{HUB}/statistics/read",),
    "get_device_statistics": (f"{HUB}/statistics/read",),
    "bulk_create_or_update_devices": (f"{HUB}/devices/write", f"{HUB}/devices/delete"),
    "update_registry": (f"{HUB}/devices/write", f"{HUB}/devices/delete"),
    "get_digital_twin": _TWIN_READ, "update_digital_twin": _TWIN_WRITE,
    "invoke_component_command": _METHODS, "invoke_root_level_command": _METHODS,
    # IoT Hub import/export jobs (IoTHubJobManager); the hub writes the export with the SAS it is given.
    "create_import_export_job": (f"{HUB}/jobs/write",), "get_import_export_job": (f"{HUB}/jobs/read",),
    "get_import_export_jobs": (f"{HUB}/jobs/read",), "cancel_import_export_job": (f"{HUB}/jobs/delete",),
    # The key a user delegation SAS is signed with (storage without shared keys).
    "get_user_delegation_key": ("Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",),
}

# Method names shared with everyday Python objects (dict.get, ...): counting them would flag
# every dict lookup. They belong to SDK classes the app does not use (IoT Hub configurations).
GENERIC_NAMES = frozenset({"get", "delete"})


def sdk_classes() -> list[type]:
    """Every Azure SDK client class the app's requirements bring, sync and async."""
    from azure.data.tables import TableClient, TableServiceClient
    from azure.data.tables.aio import TableClient as AioTableClient, TableServiceClient as AioTableServiceClient
    from azure.iot.hub import (DigitalTwinClient, IoTHubConfigurationManager, IoTHubHttpRuntimeManager,
                               IoTHubJobManager, IoTHubRegistryManager)
    from azure.iot.hub.protocol import operations as hub_operations
    from azure.storage.blob import BlobClient, BlobServiceClient, ContainerClient
    from azure.storage.blob.aio import (BlobClient as AioBlobClient, BlobServiceClient as AioBlobServiceClient,
                                        ContainerClient as AioContainerClient)
    from azure.storage.queue import QueueClient, QueueServiceClient
    from azure.storage.queue.aio import QueueClient as AioQueueClient, QueueServiceClient as AioQueueServiceClient

    classes = [TableClient, TableServiceClient, AioTableClient, AioTableServiceClient,
               QueueClient, QueueServiceClient, AioQueueClient, AioQueueServiceClient,
               BlobServiceClient, ContainerClient, BlobClient, AioBlobServiceClient, AioContainerClient, AioBlobClient,
               IoTHubRegistryManager, IoTHubJobManager, IoTHubConfigurationManager, IoTHubHttpRuntimeManager,
               DigitalTwinClient]
    classes += [value for name, value in vars(hub_operations).items() if inspect.isclass(value) and name.endswith("Operations")]
    return classes


def sdk_method_names() -> frozenset[str]:
    names = {name for cls in sdk_classes() for name, value in inspect.getmembers(cls)
             if not name.startswith("_") and callable(value)}
    return frozenset(names - GENERIC_NAMES)


def granted(role_id: str, permission: str) -> bool:
    role = BUILT_IN_ROLES.get(role_id)
    return bool(role) and any(fnmatch.fnmatchcase(permission.lower(), pattern.lower()) for pattern in role["grants"])


def provider_of(permission: str) -> str:
    return "/".join(permission.split("/")[:1])


# ------------------------------------------------------------------ what the host does for the app

# Identity-based host storage: keys, timer schedule status and singleton/listener leases, and the
# Flex Consumption deployment package, all in blob containers the host creates.
HOST_STORAGE = (f"{CONTAINERS}/read", f"{CONTAINERS}/write", f"{CONTAINERS}/blobs/read",
                f"{CONTAINERS}/blobs/write", f"{CONTAINERS}/blobs/delete")

# Per binding type (azure.functions binding `type`): what the host does with the app's identity.
BINDINGS: dict[str, tuple[str, ...]] = {
    "httpTrigger": NONE,
    "http": NONE,
    "timerTrigger": NONE,  # schedule monitor and singleton lock live in host storage (HOST_STORAGE)
    "queueTrigger": (f"{QUEUES}/read", f"{QUEUES}/write", f"{QUEUES}/messages/read", f"{QUEUES}/messages/process/action",
                     f"{QUEUES}/messages/write", f"{QUEUES}/messages/delete",
                     f"{QUEUES}/messages/add/action"),  # add: the -poison queue
    "queue": (f"{QUEUES}/messages/add/action",),
    "blobTrigger": (f"{CONTAINERS}/blobs/read", f"{QUEUES}/messages/add/action"),
    "blob": (f"{CONTAINERS}/blobs/read", f"{CONTAINERS}/blobs/write"),
    "table": (f"{TABLES}/entities/read", f"{TABLES}/entities/write", f"{TABLES}/entities/add/action"),
}

# The storage the app declares it uses (shared/storage_names.py): stages enqueue to each other's
# queues, jobs live in tables, the archive in job-history.
DECLARED_QUEUE = (f"{QUEUES}/messages/add/action",)
DECLARED_TABLE = (f"{TABLES}/entities/read", f"{TABLES}/entities/write")
DECLARED_CONTAINER = (f"{CONTAINERS}/blobs/read", f"{CONTAINERS}/blobs/write")
