"""Azure SDK clients built from Settings: connection strings locally, managed identity in Azure."""
from __future__ import annotations

from functools import cached_property

from azure.data.tables import TableServiceClient
from azure.iot.hub import IoTHubRegistryManager
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from shared.hub_gateway import HubGateway, HubLimits, RetryPolicy
from shared.pacing import SenderCount
from shared.repositories import HubSenderRepository
from shared.settings import Settings

# Longer than IoT Hub's longest direct-method wait (300 s connect + 300 s response), so the
# SDK's own read timeout (100 s by default) never cuts a legitimate call short.
HUB_READ_TIMEOUT_SECONDS = 620


class ConfigurationError(RuntimeError):
    """A required setting is missing; the message names it."""


class Connections:
    """Lazily built, shared SDK clients. One instance per process (see shared.bootstrap)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def credential(self):
        from azure.identity import DefaultAzureCredential  # imported only when identity is used

        return DefaultAzureCredential(managed_identity_client_id=self.settings.managed_identity_client_id)

    @cached_property
    def tables(self) -> TableServiceClient:
        if self.settings.storage_connection_string:
            return TableServiceClient.from_connection_string(self.settings.storage_connection_string)
        return TableServiceClient(self._storage_uri("table"), credential=self.credential)

    @cached_property
    def blobs(self) -> BlobServiceClient:
        if self.settings.storage_connection_string:
            return BlobServiceClient.from_connection_string(self.settings.storage_connection_string)
        return BlobServiceClient(self._storage_uri("blob"), credential=self.credential)

    def queue(self, name: str) -> QueueClient:
        """A client for a trigger queue; messages are base64 text, as the Functions host expects."""
        encoding = TextBase64EncodePolicy()
        if self.settings.storage_connection_string:
            return QueueClient.from_connection_string(
                self.settings.storage_connection_string, name, message_encode_policy=encoding)
        return QueueClient(self._storage_uri("queue"), name, credential=self.credential,
                           message_encode_policy=encoding)

    @cached_property
    def registry_manager(self) -> IoTHubRegistryManager:
        if self.settings.iothub_connection_string:
            manager = IoTHubRegistryManager.from_connection_string(self.settings.iothub_connection_string)
        elif self.settings.iothub_host_name:
            manager = IoTHubRegistryManager.from_token_credential(self.settings.iothub_host_name, self.credential)
        else:
            raise ConfigurationError("Set IOTHUB_CONNECTION_STRING or IOTHUB_HOST_NAME to reach IoT Hub.")
        # The SDK opens a new TLS connection per call unless told to keep it.
        manager.protocol.config.keep_alive = True
        manager.protocol.config.connection.timeout = HUB_READ_TIMEOUT_SECONDS
        manager.protocol.config.retry_policy.retries = 0  # the gateway owns retries, for every verb alike
        return manager

    @cached_property
    def hub(self) -> HubGateway:
        settings = self.settings
        limits = HubLimits(twin_reads_per_second=settings.hub_twin_reads_per_second,
                           twin_updates_per_second=settings.hub_twin_updates_per_second,
                           method_units_per_second=settings.hub_method_units_per_second,
                           queries_per_second=settings.hub_queries_per_minute / 60)
        senders = SenderCount(HubSenderRepository(self.tables))
        return HubGateway(self.registry_manager, limits, RetryPolicy(max_attempts=settings.hub_max_attempts),
                          senders=senders)

    def _storage_uri(self, service: str) -> str:
        uri = self.settings.storage_service_uri(service)
        if not uri:
            raise ConfigurationError(
                "Set AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__accountName.")
        return uri
