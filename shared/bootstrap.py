"""The composition root: the one place where the app's clients, stores, queues and the hub
gateway are built, once per process and only when first used (nothing is built or contacted
at import; the tables and the history container are made sure of once, on first use). Storage
is reached with a connection string locally, or with the managed identity in Azure; IoT Hub
likewise.

Triggers take `services().collaborators` (what the stages work with); HTTP triggers take
`services().api_collaborators`; the health check (`services().health`) takes the clients
themselves. Tests build their own `Collaborators` instead of patching this.

Storage clients come in two kinds. The pipeline's keep the SDKs' retries (about 5 s of them for
a table call, about a minute for a queue send): a stage whose call fails is delivered again by
the host only a few times, so retries inside a call are what carry a stage through a short
outage. The API's (and the health check's) give up after about a second and a half (three
quick retries, a 5 s connect timeout), so an HTTP caller gets its 503 at once. Both kinds reach
the same tables and queues, and the process's one writer per job holds across them.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import cached_property, lru_cache

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient
from azure.iot.hub import IoTHubJobManager, IoTHubRegistryManager
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import LinearRetry, QueueClient, TextBase64EncodePolicy

from shared.access.audit import AuditTrail
from shared.access.authentication import AccessControl, RateLimiter
from shared.access.easy_auth import principal_from_headers
from shared.access.entra import EntraSettings, EntraVerifier
from shared.collaborators import Collaborators
from shared.host_config import HostConfig
from shared.hub_gateway import HubGateway, HubLimits, RetryPolicy
from shared.job_archive import JobArchive
from shared.pacing import OneWriterPerJob, SenderCount
from shared.queues import MessageQueue
from shared.registry_exports import RegistryExports
from shared.repositories import (DeviceGroupRepository, HubSenderRepository, JobDeviceRepository, JobRepository,
                                 ScheduledJobRepository, ensure_tables)
from shared.repositories.access import ApiTokenRepository, UserRepository
from shared.repositories.audit_log import AuditLog
from shared.settings import Settings
from shared.storage_names import DISPATCH_QUEUE, OUTCOMES_QUEUE, PLAN_QUEUE, QUEUES

# Longer than IoT Hub's longest direct-method wait (300 s connect + 300 s response), so the
# SDK's own read timeout (100 s by default) never cuts a legitimate call short.
HUB_READ_TIMEOUT_SECONDS = 620
# The API's storage clients: about 1.5 s of retries (0, 0.5 and 1 s apart), see above.
QUICK_TABLE_OPTIONS = dict(retry_total=3, retry_connect=3, retry_read=3, retry_status=3, retry_backoff_factor=0.25,
                           retry_backoff_max=2, connection_timeout=5)


def _quick_storage_options() -> dict:
    return dict(retry_policy=LinearRetry(backoff=0.5, retry_total=3, random_jitter_range=0), connection_timeout=5)


class ConfigurationError(RuntimeError):
    """A required setting is missing; the message names it."""


@lru_cache(maxsize=1)
def services() -> "Services":
    """This process's one composition root, from the app settings."""
    return Services(Settings.from_environ())


class Services:
    def __init__(self, settings: Settings, host: HostConfig | None = None):
        self.settings = settings
        self.host = host or HostConfig.read()
        self._queues: dict[str, MessageQueue] = {}
        self._queues_made, self._queues_lock = False, threading.Lock()

    @cached_property
    def collaborators(self) -> Collaborators:
        return Collaborators(
            jobs=JobRepository(self.tables), job_devices=OneWriterPerJob(JobDeviceRepository(self.tables)),
            groups=DeviceGroupRepository(self.tables), scheduled_jobs=ScheduledJobRepository(self.tables),
            hub=_BuiltOnFirstUse(lambda: self.hub),
            plan_queue=self.queue(PLAN_QUEUE), dispatch_queue=self.queue(DISPATCH_QUEUE),
            outcomes_queue=self.queue(OUTCOMES_QUEUE), archive=_BuiltOnFirstUse(lambda: self.archive),
            registry_exports=_BuiltOnFirstUse(lambda: self.registry_exports),
            audit_log=AuditLog(self.tables),  # the retention timer purges it
            devices_pool=ThreadPoolExecutor(self.settings.dispatch_concurrency, thread_name_prefix="device"),
            settings=self.settings, host=self.host)

    @cached_property
    def api_collaborators(self) -> Collaborators:
        """The same stores, queues and hub for HTTP callers, over storage clients that give up
        quickly (see the module's docstring)."""
        tables = self.api_tables
        return replace(self.collaborators, jobs=JobRepository(tables), api_tokens=ApiTokenRepository(tables),
                       users=UserRepository(tables), audit_log=AuditLog(tables),
                       job_devices=OneWriterPerJob(JobDeviceRepository(tables)), groups=DeviceGroupRepository(tables),
                       scheduled_jobs=ScheduledJobRepository(tables),
                       plan_queue=MessageQueue(self._queue_client(PLAN_QUEUE, **_quick_storage_options())),
                       dispatch_queue=MessageQueue(self._queue_client(DISPATCH_QUEUE, **_quick_storage_options())),
                       outcomes_queue=MessageQueue(self._queue_client(OUTCOMES_QUEUE, **_quick_storage_options())),
                       archive=_BuiltOnFirstUse(lambda: self.api_archive))

    # Access

    @cached_property
    def access(self) -> AccessControl:
        """The one gate of the API: who is calling and whether they may (shared/access/authentication.py)."""
        settings, ctx = self.settings, self.api_collaborators
        tenant = settings.entra_tenant_id
        entra = None
        if tenant:
            audiences = Settings.listed(settings.entra_audiences)
            if not audiences:
                raise ConfigurationError("ENTRA_AUDIENCES must name the app's client id or Application ID URI "
                                         "when ENTRA_TENANT_ID is set")
            entra = EntraVerifier(EntraSettings(tenant_id=tenant, audiences=audiences, jwks_url=settings.entra_jwks_url))
        if settings.trust_easy_auth and not tenant:
            raise ConfigurationError("TRUST_EASY_AUTH needs ENTRA_TENANT_ID: Easy Auth's principals are accepted "
                                     "only from the app's tenant")
        easy_auth = (lambda headers: principal_from_headers(headers, tenant_id=tenant)) if settings.trust_easy_auth \
            else None
        return AccessControl(app=settings.app_name, find_token=ctx.api_tokens.get, find_user=ctx.users.find_by_identity,
                             clock=ctx.clock, limiter=RateLimiter(settings.api_requests_per_second,
                                                                  settings.api_request_burst),
                             entra=entra, easy_auth=easy_auth,
                             administrators=tuple((tenant, object_id) for object_id in
                                                  Settings.listed(settings.entra_administrators)) if tenant else ())

    @cached_property
    def audit(self) -> AuditTrail:
        return AuditTrail(self.api_collaborators.audit_log, self.api_collaborators.clock)

    # Storage

    @cached_property
    def tables(self) -> TableServiceClient:
        """The Table service client, with the app's tables made sure of (once per process)."""
        service = self._table_service()
        ensure_tables(service)
        return service

    @cached_property
    def api_tables(self) -> TableServiceClient:
        self.tables  # the tables are made sure of once, whoever comes first
        return self._table_service(**QUICK_TABLE_OPTIONS)

    def _table_service(self, **options) -> TableServiceClient:
        if self.settings.storage_connection_string:
            return TableServiceClient.from_connection_string(self.settings.storage_connection_string, **options)
        return TableServiceClient(self._storage_uri("table"), credential=self.credential, **options)

    @cached_property
    def blobs(self) -> BlobServiceClient:
        return self._blob_service()

    def _blob_service(self, **options) -> BlobServiceClient:
        if self.settings.storage_connection_string:
            return BlobServiceClient.from_connection_string(self.settings.storage_connection_string, **options)
        return BlobServiceClient(self._storage_uri("blob"), credential=self.credential, **options)

    @cached_property
    def archive(self) -> JobArchive:
        archive = JobArchive.in_blob_storage(self.blobs)
        archive.ensure_container()
        return archive

    @cached_property
    def registry_exports(self) -> RegistryExports:
        exports = RegistryExports(self.blobs)
        exports.ensure_container()
        return exports

    @cached_property
    def api_archive(self) -> JobArchive:
        self.archive  # the container is made sure of once
        return JobArchive.in_blob_storage(self._blob_service(**_quick_storage_options()))

    def queue(self, name: str) -> MessageQueue:
        """A sender to one of the app's queues (or its poison queue); one client per queue."""
        if name not in self._queues:  # two threads may both build one: harmless, one is kept
            self._queues[name] = self._queue(name)
        return self._queues[name]

    def _queue(self, name: str) -> MessageQueue:
        return MessageQueue(self._queue_client(name))

    def _queue_client(self, name: str, **options) -> QueueClient:
        encoding = TextBase64EncodePolicy()  # the queue trigger expects base64 text
        if self.settings.storage_connection_string:
            return QueueClient.from_connection_string(self.settings.storage_connection_string, name,
                                                      message_encode_policy=encoding, **options)
        return QueueClient(self._storage_uri("queue"), name, credential=self.credential,
                           message_encode_policy=encoding, **options)

    @cached_property
    def queue_probes(self) -> dict[str, QueueClient]:
        """Quick clients of the app's queues, for the health check."""
        return {name: self._queue_client(name, **_quick_storage_options()) for name in QUEUES}

    def make_queues_once(self) -> None:
        """Create the app's queues that are missing, once per process (as the tables are; a
        sender also makes its queue on first use). Later, a missing queue is news."""
        with self._queues_lock:
            if self._queues_made:
                return
            for client in self.queue_probes.values():
                try:
                    client.create_queue()
                except ResourceExistsError:
                    pass  # the usual case: the deployment made it
            self._queues_made = True

    @cached_property
    def health(self):
        from shared.health import Health, default_probes  # the health check knows this module

        return Health(default_probes(self), cache_seconds=self.settings.health_cache_seconds)

    @cached_property
    def hub_senders(self) -> HubSenderRepository:
        return HubSenderRepository(self.tables)

    # IoT Hub

    @cached_property
    def registry_manager(self) -> IoTHubRegistryManager:
        return self._registry_manager(HUB_READ_TIMEOUT_SECONDS)

    @cached_property
    def interactive_registry_manager(self) -> IoTHubRegistryManager:
        """For calls made for an HTTP caller (queries, the health probe): a hub that does not
        answer within the deadline is as good as down to the caller."""
        return self._registry_manager(self.settings.hub_interactive_deadline_seconds)

    @cached_property
    def job_manager(self) -> IoTHubJobManager:
        """Import/export jobs: the registry exports planning reads."""
        return self._hub_client(IoTHubJobManager, HUB_READ_TIMEOUT_SECONDS)

    def _registry_manager(self, timeout: float) -> IoTHubRegistryManager:
        return self._hub_client(IoTHubRegistryManager, timeout)

    def _hub_client(self, client_class, timeout: float):
        """An azure-iot-hub client (registry or job manager) by connection string or identity."""
        if self.settings.iothub_connection_string:
            manager = client_class.from_connection_string(self.settings.iothub_connection_string)
        elif self.settings.iothub_host_name:
            manager = client_class.from_token_credential(self.settings.iothub_host_name, self.credential)
        else:
            raise ConfigurationError("Set IOTHUB_CONNECTION_STRING or IOTHUB_HOST_NAME to reach IoT Hub.")
        # The SDK opens a new TLS connection per call unless told to keep it.
        manager.protocol.config.keep_alive = True
        manager.protocol.config.connection.timeout = timeout
        manager.protocol.config.retry_policy.retries = 0  # the gateway owns retries, for every verb alike
        return manager

    @cached_property
    def hub(self) -> HubGateway:
        settings = self.settings
        limits = HubLimits(twin_reads_per_second=settings.hub_twin_reads_per_second,
                           twin_updates_per_second=settings.hub_twin_updates_per_second,
                           method_units_per_second=settings.hub_method_units_per_second,
                           queries_per_second=settings.hub_queries_per_minute / 60,
                           interactive_query_share=settings.hub_interactive_query_percent / 100)
        retry = RetryPolicy(max_attempts=settings.hub_max_attempts, throttled_wait=settings.hub_throttled_wait_seconds)
        interactive = RetryPolicy(max_attempts=3, base_delay=0.25, max_delay=2.0,
                                  deadline=settings.hub_interactive_deadline_seconds)
        # Built on first count, so a gateway can be had while storage is down (the count then stays 1).
        senders = SenderCount(_BuiltOnFirstUse(lambda: self.hub_senders))
        return HubGateway(self.registry_manager, limits, retry, senders=senders,
                          interactive_manager=_BuiltOnFirstUse(lambda: self.interactive_registry_manager),
                          interactive_retry=interactive, verdict_seconds=settings.group_check_cache_seconds,
                          job_manager=_BuiltOnFirstUse(lambda: self.job_manager))

    # Identity

    @cached_property
    def credential(self):
        from azure.identity import DefaultAzureCredential  # imported only when identity is used

        return DefaultAzureCredential(managed_identity_client_id=self.settings.managed_identity_client_id)

    def _storage_uri(self, service: str) -> str:
        uri = self.settings.storage_service_uri(service)
        if not uri:
            raise ConfigurationError(
                "Set AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__accountName.")
        return uri


class _BuiltOnFirstUse:
    """Stands in for a collaborator until it is first used: a request that never asks the hub
    (or the archive) works without its settings, and costs no connection."""

    def __init__(self, build):
        self._build = build

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "_build":  # copying or introspection: not the collaborator's
            raise AttributeError(name)
        return getattr(self._build(), name)
