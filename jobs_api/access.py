"""Access as the API manages it, as IoT Central does: roles (`/roles`), API tokens
(`/apiTokens`), role assignments of people and service principals (`/users`); and the audit log
(`/auditLogs`, ours). Plain functions over the collaborators; who may call them is the
permission table's business (shared/domain/access.py), checked before they run.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from shared.access import api_tokens
from shared.access.api_tokens import MintedToken
from shared.collaborators import Collaborators
from shared.domain.access import (GUID, ROLES, ROLES_BY_ID, ApiToken, AuditEntry, Role, User, UserType,
                                  validate_access_id, validate_role_ids)
from shared.domain.errors import InvalidField, NotFound
from jobs_api.models import ApiTokenRequest, RoleAssignment, UserRequest

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
DEFAULT_TOKEN_LIFETIME = timedelta(days=365)
MAX_TOKEN_LIFETIME = timedelta(days=2 * 365)
MAX_AUDIT_FILTER = 512


class RoleNotFound(NotFound):
    def __init__(self, role_id: str):
        super().__init__("Role", role_id)


def list_roles() -> tuple[Role, ...]:
    return ROLES


def get_role(role_id: str) -> Role:
    if role_id not in ROLES_BY_ID:
        raise RoleNotFound(role_id[:100])
    return ROLES_BY_ID[role_id]


# API tokens


def create_api_token(token_id: str, request: ApiTokenRequest, ctx: Collaborators) -> MintedToken:
    """`PUT /apiTokens/{id}`: a new token, whose string is in this answer only. An id in use is
    AlreadyExists: a token is never replaced in place (delete it, then make another)."""
    validate_access_id(token_id, "tokenId")
    role_ids = _role_ids(request.roles)
    now = ctx.clock()
    expiry = _expiry(request.expiry, now)
    minted = api_tokens.mint(token_id, role_ids, expiry, ctx.settings.app_name, now, created_by=_who(ctx))
    ctx.api_tokens.add(minted.record)
    return minted


def list_api_tokens(ctx: Collaborators) -> list[ApiToken]:
    return ctx.api_tokens.list()


def get_api_token(token_id: str, ctx: Collaborators) -> ApiToken:
    return ctx.api_tokens.get(validate_access_id(token_id, "tokenId"))


def delete_api_token(token_id: str, ctx: Collaborators) -> None:
    """Revokes at once: the next request carrying the token finds no record."""
    ctx.api_tokens.delete(validate_access_id(token_id, "tokenId"))


# Users: role assignments of people (by their Entra user name) and service principals


def put_user(user_id: str, request: UserRequest, ctx: Collaborators) -> User:
    validate_access_id(user_id, "userId")
    role_ids = _role_ids(request.roles)
    if request.type == UserType.EMAIL.value:
        _require(email=True, tenantId=False, objectId=False, given=request, kind="an email user")
        if not _EMAIL.fullmatch(request.email.strip()):
            raise InvalidField("email", "must be the person's Entra user name, such as ana@contoso.com.")
        user = User(user_id, UserType.EMAIL, role_ids, email=request.email.strip().lower())
    else:
        _require(email=False, tenantId=True, objectId=True, given=request, kind="a service principal")
        for field, value in (("tenantId", request.tenant_id), ("objectId", request.object_id)):
            if not GUID.fullmatch(value.strip()):
                raise InvalidField(field, "must be a GUID, as Microsoft Entra ID shows it.")
        tenant = ctx.settings.entra_tenant_id
        if tenant and request.tenant_id.strip().lower() != tenant.strip().lower():
            raise InvalidField("tenantId", "must be the app's tenant (ENTRA_TENANT_ID): tokens of other tenants "
                                           "are refused, so the assignment could never apply.")
        user = User(user_id, UserType.SERVICE_PRINCIPAL, role_ids, tenant_id=request.tenant_id.strip().lower(),
                    object_id=request.object_id.strip().lower())
    return ctx.users.put(user)


def _require(*, given: UserRequest, kind: str, **needed: bool) -> None:
    """Each field named is given (True) or left out (False), else InvalidField naming it."""
    for field, wanted in needed.items():
        present = bool(getattr(given, {"tenantId": "tenant_id", "objectId": "object_id"}.get(field, field)))
        if present != wanted:
            raise InvalidField(field, f"{kind} {'needs' if wanted else 'takes no'} {field}.")


def list_users(ctx: Collaborators) -> list[User]:
    return ctx.users.list()


def get_user(user_id: str, ctx: Collaborators) -> User:
    return ctx.users.get(validate_access_id(user_id, "userId"))


def delete_user(user_id: str, ctx: Collaborators) -> None:
    ctx.users.delete(validate_access_id(user_id, "userId"))


# The audit log


def audit_page(size: int, continuation: str | None, resource: str | None, caller_id: str | None,
               ctx: Collaborators) -> tuple[list[AuditEntry], str | None]:
    """Newest first; `resource` (a path below /api, such as `jobs/reboot-west`) and `caller_id`
    (a token id, or a user's id) narrow it to exact matches."""
    for name, value in (("resource", resource), ("caller", caller_id)):
        if value is not None and not (0 < len(value) <= MAX_AUDIT_FILTER and value.isprintable()):
            raise InvalidField(name, f"must be 1-{MAX_AUDIT_FILTER} printable characters.")
    try:
        return ctx.audit_log.page(size, continuation, resource=resource, caller_id=caller_id)
    except InvalidField as error:
        if error.field == "continuationToken":  # the storage position in the token is not one the log gave
            raise InvalidField("$skiptoken", "is not valid; use the nextLink of the previous page.") from None
        raise


def _role_ids(assignments: list[RoleAssignment]) -> tuple[str, ...]:
    for index, assignment in enumerate(assignments):
        if assignment.organization is not None:
            raise InvalidField(f"roles[{index}].organization", "organizations are not supported: every role "
                                                               "applies to the whole app; leave it out.")
    return validate_role_ids([assignment.role for assignment in assignments])


def _expiry(value: str | None, now: datetime) -> datetime:
    if value is None:
        return now + DEFAULT_TOKEN_LIFETIME
    try:
        expiry = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidField("expiry", "must be an ISO 8601 time, such as 2027-01-31T00:00:00Z.") from None
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=timezone.utc)
    if not now < expiry <= now + MAX_TOKEN_LIFETIME:
        raise InvalidField("expiry", "must be in the future, at most two years from now.")
    return expiry


def _who(ctx: Collaborators) -> str:
    return f"{ctx.caller.kind.value}:{ctx.caller.id}"
