"""What the audit log keeps of each API request: every change, allowed or refused, and every
request refused for its credential or its role. Reads that are allowed are not kept (they change
nothing and would drown the changes); nor are requests refused for their rate (a flood would fill
the log) or because Entra's keys could not be read (no one was judged).

An entry that cannot be written is logged and the request answers as it would have: the change
is made already, and a refusal must not become a failure.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from shared.domain.access import CHANGES, Action, AuditEntry, Caller, Forbidden, Outcome, Unauthenticated

logger = logging.getLogger(__name__)


class AuditTrail:
    def __init__(self, log, clock: Callable[[], datetime]):
        """`log` is the audit log repository (shared.repositories.audit_log)."""
        self._log, self._clock = log, clock

    def succeeded(self, caller: Caller, action: Action, resource: str, request_id: str) -> None:
        if action in CHANGES:
            self._append(caller, action, resource, Outcome.SUCCEEDED, request_id)

    def refused_or_failed(self, error: Exception, caller: Caller | None, action: Action, resource: str,
                          request_id: str, code: str) -> None:
        if isinstance(error, Unauthenticated):
            self._append(Caller.anonymous(error.claimed), action, resource, Outcome.UNAUTHENTICATED, request_id, code)
        elif isinstance(error, Forbidden):
            self._append(error.caller, action, resource, Outcome.FORBIDDEN, request_id, code)
        elif caller is not None and action in CHANGES:
            self._append(caller, action, resource, Outcome.FAILED, request_id, code)

    def _append(self, caller: Caller, action: Action, resource: str, outcome: Outcome, request_id: str,
                code: str | None = None) -> None:
        entry = AuditEntry(time=self._clock(), caller=caller, action=action, resource=resource, outcome=outcome,
                           request_id=request_id, code=code)
        try:
            self._log.append(entry)
        except Exception:
            logger.exception("audit: the entry of request %s (%s %s by %s:%s, %s) was not written", request_id,
                             action.value, resource, caller.kind.value, caller.id, outcome.value)
