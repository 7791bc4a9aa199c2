"""Who may do what: the roles (IoT Central's built-in ids, plus a read-only Viewer of our own),
every action of the API, the permission table as data, callers, API token records and audit
entries. Pure: no I/O, no crypto, no clock.

An unknown role id grants nothing, so a caller holding only retired or mistyped roles is
authenticated but may do nothing (403, not 401).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from shared.domain.errors import DomainError, InvalidField, NotFound
from shared.domain.jobs import Actor


@dataclass(frozen=True)
class Role:
    id: str
    display_name: str


ADMINISTRATOR = Role("ca310b8d-2f4a-44e0-a36e-957c202cd8d4", "Administrator")
OPERATOR = Role("ae2c9854-393b-4f97-8c42-479d70ce626e", "Operator")
BUILDER = Role("344138e9-8de4-4497-8c54-5237e96d6aaf", "Builder")
# Not an IoT Central role: IoT Central has none that may only read. Fixed, so tokens and
# assignments made with it keep their meaning across deployments.
VIEWER = Role("6d2b3f0e-5c1a-4f7e-9b8d-2a4e6c8f0b1d", "Viewer")
ROLES = (ADMINISTRATOR, OPERATOR, BUILDER, VIEWER)
ROLES_BY_ID = {role.id: role for role in ROLES}


class Action(str, Enum):
    """Every operation of the API, as the permission table names them."""

    READ_GROUPS = "deviceGroups.read"
    READ_GROUP_DEVICES = "deviceGroups.devices.read"
    MANAGE_GROUPS = "deviceGroups.manage"  # create, replace, patch, delete
    READ_JOBS = "jobs.read"
    READ_JOB_DEVICES = "jobs.devices.read"
    READ_JOB_REPORT = "jobs.report.read"
    READ_HISTORY = "history.read"
    CREATE_JOB = "jobs.create"  # PUT /jobs/{id}: create and run
    SAVE_DRAFT = "jobs.saveDraft"
    EDIT_JOB = "jobs.edit"
    RUN_JOB = "jobs.run"
    STOP_JOB = "jobs.stop"
    RESUME_JOB = "jobs.resume"
    COPY_JOB = "jobs.copy"
    RERUN_JOB = "jobs.rerun"
    DELETE_JOB = "jobs.delete"
    READ_SCHEDULED_JOBS = "scheduledJobs.read"  # the scheduled jobs and their runs
    MANAGE_SCHEDULED_JOBS = "scheduledJobs.manage"  # create, replace, patch, delete
    READ_ROLES = "roles.read"
    READ_API_TOKENS = "apiTokens.read"
    MANAGE_API_TOKENS = "apiTokens.manage"
    READ_USERS = "users.read"
    MANAGE_USERS = "users.manage"
    READ_AUDIT_LOGS = "auditLogs.read"


READ = frozenset({Action.READ_GROUPS, Action.READ_GROUP_DEVICES, Action.READ_JOBS, Action.READ_JOB_DEVICES,
                  Action.READ_JOB_REPORT, Action.READ_HISTORY, Action.READ_SCHEDULED_JOBS})
RUN_JOBS = frozenset({Action.CREATE_JOB, Action.SAVE_DRAFT, Action.EDIT_JOB, Action.RUN_JOB, Action.STOP_JOB,
                      Action.RESUME_JOB, Action.COPY_JOB, Action.RERUN_JOB, Action.DELETE_JOB,
                      Action.MANAGE_SCHEDULED_JOBS})
READ_ACCESS = frozenset({Action.READ_ROLES, Action.READ_API_TOKENS, Action.READ_USERS, Action.READ_AUDIT_LOGS})

PERMISSIONS: dict[str, frozenset[Action]] = {
    ADMINISTRATOR.id: frozenset(Action),
    OPERATOR.id: READ | RUN_JOBS,
    BUILDER.id: READ | {Action.MANAGE_GROUPS},
    VIEWER.id: READ,
}

# Writes: every request for one of these is audited, allowed or refused.
CHANGES = frozenset(Action) - READ - READ_ACCESS


class CallerKind(str, Enum):
    API_TOKEN = "apiToken"
    USER = "user"
    SERVICE_PRINCIPAL = "servicePrincipal"
    SYSTEM = "system"  # the app itself or an operator's one-off command with storage access
    ANONYMOUS = "anonymous"  # no valid credential: only ever refused, kept for the audit trail


@dataclass(frozen=True)
class Caller:
    kind: CallerKind
    id: str
    display_name: str
    role_ids: tuple[str, ...] = ()

    @classmethod
    def system(cls, name: str) -> "Caller":
        return cls(CallerKind.SYSTEM, name, name, (ADMINISTRATOR.id,))

    @classmethod
    def anonymous(cls, claimed: str | None = None) -> "Caller":
        """No verified caller. Who a refused credential claimed to be (a token id, say) is kept in
        the display name only: anyone can claim any id, so it must never pass for that caller's."""
        return cls(CallerKind.ANONYMOUS, "", f"unauthenticated, claiming {claimed}" if claimed else "unauthenticated")

    @property
    def actor(self) -> Actor:
        """As jobs record who changed them."""
        return Actor(self.kind.value, self.id, self.display_name)

    @property
    def rate_key(self) -> str:
        # Unverified claims share one bucket: anyone can make them up.
        return "anonymous" if self.kind is CallerKind.ANONYMOUS else f"{self.kind.value}:{self.id}"


def allowed(caller: Caller, action: Action) -> bool:
    return any(action in PERMISSIONS.get(role_id, ()) for role_id in caller.role_ids)


def require(caller: Caller, action: Action) -> None:
    """For a use case that does more than the action it was admitted for (a draft saved and run at once)."""
    if not allowed(caller, action):
        raise Forbidden(caller, action)


# Failures of access. The API maps them: Unauthenticated → 401, Forbidden → 403, RateLimited → 429,
# IdentityProviderUnavailable → 503. None of them names a resource, so none reveals one exists.


class Unauthenticated(DomainError):
    """No valid credential. `challenge` is the WWW-Authenticate value; `claimed` who it claimed to be."""

    def __init__(self, reason: str, challenge: str, claimed: str | None = None):
        super().__init__(reason)
        self.reason, self.challenge, self.claimed = reason, challenge, claimed


class Forbidden(DomainError):
    def __init__(self, caller: Caller, action: Action):
        super().__init__(f"The caller's roles do not allow {action.value}.")
        self.caller, self.action = caller, action


class RateLimited(DomainError):
    def __init__(self, retry_after: int, rate: float):
        super().__init__(f"Too many requests: at most {rate:g} per second for each caller.")
        self.retry_after, self.rate = retry_after, rate


class IdentityProviderUnavailable(DomainError):
    """Microsoft Entra's signing keys could not be fetched; the credential was not judged."""


class ApiTokenNotFound(NotFound):
    def __init__(self, token_id: str):
        super().__init__("API token", token_id)


class UserNotFound(NotFound):
    def __init__(self, user_id: str):
        super().__init__("User", user_id)


# Ids of tokens and users: IoT Central's id rule for path parameters, which is also safe as a row key.
ACCESS_ID = re.compile(r"[a-zA-Z0-9_-]{1,255}")
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")  # Entra's ids


def validate_access_id(value: str, field: str) -> str:
    if not isinstance(value, str) or not ACCESS_ID.fullmatch(value):
        raise InvalidField(field, "must be 1-255 letters, digits, '-' or '_'.")
    return value


def validate_role_ids(role_ids: list[str], field: str = "roles") -> tuple[str, ...]:
    """The roles given, each one of ROLES (InvalidField naming `roles[i].role` if not), without repeats."""
    if not role_ids:
        raise InvalidField(field, "must hold at least one role.")
    for index, role_id in enumerate(role_ids):
        if role_id not in ROLES_BY_ID:
            raise InvalidField(f"{field}[{index}].role", "is not a role of this app (GET /roles lists them).")
    return tuple(dict.fromkeys(role_ids))


@dataclass(frozen=True)
class ApiToken:
    """An API token as stored: never the token itself, only a hash of its secret (see
    shared.access.api_tokens)."""
    id: str
    role_ids: tuple[str, ...]
    expiry: datetime
    secret_hash: str
    created_at: datetime
    created_by: str = ""

    def expired(self, now: datetime) -> bool:
        return now >= self.expiry


class UserType(str, Enum):
    EMAIL = "email"
    SERVICE_PRINCIPAL = "servicePrincipal"


@dataclass(frozen=True)
class User:
    """A role assignment, as IoT Central's `PUT /users/{id}` makes it. People are matched by
    email (against the user name their Entra token carries), service principals by tenant and
    object id."""
    id: str
    type: UserType
    role_ids: tuple[str, ...]
    email: str | None = None
    tenant_id: str | None = None
    object_id: str | None = None

    @property
    def identity(self) -> str:
        """What authentication matches on: a normalised email, or tenant/object."""
        if self.type is UserType.EMAIL:
            return email_identity(self.email or "")
        return service_principal_identity(self.tenant_id or "", self.object_id or "")

    def as_caller(self, display_name: str) -> Caller:
        kind = CallerKind.USER if self.type is UserType.EMAIL else CallerKind.SERVICE_PRINCIPAL
        return Caller(kind, self.id, display_name, self.role_ids)


def email_identity(email: str) -> str:
    return "email:" + email.strip().lower()


def service_principal_identity(tenant_id: str, object_id: str) -> str:
    return f"sp:{tenant_id.strip().lower()}/{object_id.strip().lower()}"


class Outcome(str, Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # allowed, but the use case refused it (409, 412, 400, …)
    FORBIDDEN = "forbidden"
    UNAUTHENTICATED = "unauthenticated"


@dataclass(frozen=True)
class AuditEntry:
    time: datetime
    caller: Caller
    action: Action
    resource: str  # the request's resource path below /api, e.g. "jobs/reboot-west"
    outcome: Outcome
    request_id: str
    code: str | None = None  # the error code of a refusal or failure
    id: str = ""  # given by the audit log when stored
