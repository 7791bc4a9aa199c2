"""Keep AUDIT_RETENTION_DAYS of the audit log (longer than the job history, so who did what to
a job is known after the job itself is archived): the daily retention timer deletes older entries."""
from __future__ import annotations

import logging
from datetime import timedelta

from shared.collaborators import Collaborators

logger = logging.getLogger(__name__)


def purge_audit_log(c: Collaborators, log: logging.Logger = logger) -> int:
    cutoff = c.clock() - timedelta(days=c.settings.audit_retention_days)
    deleted = c.audit_log.purge_before(cutoff)
    log.info("audit log: %d entries older than %s deleted", deleted, cutoff.isoformat())
    return deleted
