"""Table Storage repositories, one per table. Each takes an injected TableServiceClient.

In-memory fakes with the same contract live in `shared.repositories.in_memory`.
"""
from shared.repositories.access import ApiTokenRepository, ApiTokenStore, UserRepository, UserStore
from shared.repositories.audit_log import AuditLog, AuditLogStore
from shared.repositories.device_groups import DeviceGroupRepository
from shared.repositories.hub_senders import HubSenderRepository
from shared.repositories.job_devices import (AbstractJobDeviceRepository, ClaimResult,
                                             JobDeviceRepository, RecordResult)
from shared.repositories.jobs import JobRepository
from shared.repositories.scheduled_jobs import ScheduledJobRepository, ScheduledJobStore
from shared.repositories.tables import ensure_tables

__all__ = ["AbstractJobDeviceRepository", "ApiTokenRepository", "ApiTokenStore", "AuditLog", "AuditLogStore",
           "ClaimResult", "DeviceGroupRepository", "HubSenderRepository", "JobDeviceRepository", "JobRepository",
           "RecordResult", "ScheduledJobRepository", "ScheduledJobStore", "UserRepository", "UserStore", "ensure_tables"]
