"""Domain errors. The API maps each class to one status code; the domain knows nothing of HTTP.

InvalidField → 400, JobNotFound / DeviceGroupNotFound → 404, IllegalTransition, AlreadyExists
and LimitReached → 409, ConcurrencyConflict → 412.
"""
from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain and repositories raise on purpose."""


class InvalidField(DomainError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class IllegalTransition(DomainError):
    def __init__(self, subject: str, status: str, action: str):
        super().__init__(f"Cannot {action} {subject} while it is {status}.")
        self.status = status
        self.action = action


class NotFound(DomainError):
    def __init__(self, kind: str, identifier: str):
        super().__init__(f"{kind} '{identifier}' was not found.")
        self.identifier = identifier


class JobNotFound(NotFound):
    def __init__(self, job_id: str):
        super().__init__("Job", job_id)


class DeviceGroupNotFound(NotFound):
    def __init__(self, group_id: str):
        super().__init__("Device group", group_id)


class AlreadyExists(DomainError):
    def __init__(self, kind: str, identifier: str):
        super().__init__(f"{kind} '{identifier}' already exists.")
        self.identifier = identifier


class LimitReached(DomainError):
    """The app holds as many of these as its settings allow; nothing was changed."""

    def __init__(self, kind: str, limit: int, setting: str):
        super().__init__(f"The app holds {limit} {kind} already, as many as {setting} allows; delete some, or raise "
                         f"the setting.")
        self.kind, self.limit, self.setting = kind, limit, setting


class ConcurrencyConflict(DomainError):
    """The stored version changed since it was read (the ETag no longer matches)."""

    def __init__(self, kind: str, identifier: str):
        super().__init__(f"{kind} '{identifier}' was changed by someone else; read it again.")
        self.identifier = identifier


class InvalidGroupFilter(InvalidField):
    def __init__(self, message: str):
        super().__init__("filter", message)


class ScheduledJobNotFound(NotFound):
    def __init__(self, scheduled_job_id: str):
        super().__init__("Scheduled job", scheduled_job_id)
