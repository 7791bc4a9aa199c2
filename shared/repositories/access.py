"""The `access` table: API token records and users (role assignments).

API tokens: PartitionKey `apiToken`, RowKey the token id; each row holds what ApiToken holds
(the hash of the secret, never a token).

Users: PartitionKey `user`, two rows per user, kept in step by entity-group transactions:
- `user:<id>`, the user, read by id and listed in id order;
- `identity:<sha256 of the identity>`, the same user again, so that authentication finds a
  user by the identity its credential carries (User.identity) with one point read. The key is a
  hash because emails may hold characters a key may not (`/`, `#`, `?`) and have no useful order;
  the row carries the identity itself.
Both rows are written, replaced and deleted in one transaction, each conditioned on the ETag
it was read with (or on not existing yet): a process that dies mid-way leaves either both
changes or neither, and two writers racing for one user or one identity cannot both win. The
loser reads again and decides again; an identity another user holds is AlreadyExists.
"""
from __future__ import annotations

import abc
import hashlib
import json

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, TableTransactionError, UpdateMode

from shared.domain.access import (ACCESS_ID, ApiToken, ApiTokenNotFound, User, UserNotFound, UserType,
                                  validate_access_id)
from shared.domain.errors import AlreadyExists, ConcurrencyConflict
from shared.storage_names import ACCESS_TABLE

API_TOKEN_PARTITION = "apiToken"
USER_PARTITION = "user"
USER_ROW_PREFIX = "user:"
USER_ROWS_END = "user;"  # ";" follows ":": every user row sorts below it
IDENTITY_ROW_PREFIX = "identity:"
IDENTITY_KIND = "User with identity"  # AlreadyExists names the identity: "User with identity 'email:…'"


_RETRIED_STATUSES = (404, 409, 412)  # a row changed, appeared or vanished since it was read
# Users change rarely and by hand; a writer that loses this many races in a row is not racing people.
_MAX_ATTEMPTS = 10


def is_access_id(value: object) -> bool:
    """Whether `value` can be a token or user id at all (anything else is simply not found)."""
    return isinstance(value, str) and ACCESS_ID.fullmatch(value) is not None


class ApiTokenStore(abc.ABC):
    """API token records by id. Unknown or malformed ids are ApiTokenNotFound."""

    def add(self, token: ApiToken) -> ApiToken:
        """Store a new token; AlreadyExists if the id is taken (tokens are never replaced)."""
        validate_access_id(token.id, "id")
        return self._add(token)

    def get(self, token_id: str) -> ApiToken:
        if not is_access_id(token_id):
            raise ApiTokenNotFound(token_id)
        return self._get(token_id)

    def delete(self, token_id: str) -> None:
        if not is_access_id(token_id):
            raise ApiTokenNotFound(token_id)
        self._delete(token_id)

    @abc.abstractmethod
    def list(self) -> list[ApiToken]:
        """Every token, by id."""

    @abc.abstractmethod
    def _add(self, token: ApiToken) -> ApiToken: ...

    @abc.abstractmethod
    def _get(self, token_id: str) -> ApiToken: ...

    @abc.abstractmethod
    def _delete(self, token_id: str) -> None: ...


class UserStore(abc.ABC):
    """Users by id and by identity; no two users hold one identity."""

    def put(self, user: User) -> User:
        """Create or replace (IoT Central's PUT). AlreadyExists naming the identity if another
        user holds it."""
        validate_access_id(user.id, "id")
        return self._put(user)

    def get(self, user_id: str) -> User:
        if not is_access_id(user_id):
            raise UserNotFound(user_id)
        return self._get(user_id)

    def delete(self, user_id: str) -> None:
        if not is_access_id(user_id):
            raise UserNotFound(user_id)
        self._delete(user_id)

    @abc.abstractmethod
    def find_by_identity(self, identity: str) -> User | None:
        """The user holding `identity` (User.identity's form), or None."""

    @abc.abstractmethod
    def list(self) -> list[User]:
        """Every user, by id."""

    @abc.abstractmethod
    def _put(self, user: User) -> User: ...

    @abc.abstractmethod
    def _get(self, user_id: str) -> User: ...

    @abc.abstractmethod
    def _delete(self, user_id: str) -> None: ...


class ApiTokenRepository(ApiTokenStore):
    def __init__(self, service: TableServiceClient, table_name: str = ACCESS_TABLE):
        self._table = service.get_table_client(table_name)

    def _add(self, token: ApiToken) -> ApiToken:
        try:
            self._table.create_entity(_token_to_entity(token))
        except ResourceExistsError:
            raise AlreadyExists("API token", token.id) from None
        return token

    def _get(self, token_id: str) -> ApiToken:
        try:
            return _token_from_entity(self._table.get_entity(API_TOKEN_PARTITION, token_id))
        except ResourceNotFoundError:
            raise ApiTokenNotFound(token_id) from None

    def list(self) -> list[ApiToken]:
        entities = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": API_TOKEN_PARTITION},
                                              results_per_page=1000)
        return [_token_from_entity(entity) for entity in entities]

    def _delete(self, token_id: str) -> None:
        # A one-operation transaction: unlike delete_entity, it says when there was nothing to delete.
        try:
            self._table.submit_transaction([("delete", {"PartitionKey": API_TOKEN_PARTITION, "RowKey": token_id})])
        except TableTransactionError as error:
            if getattr(error, "status_code", None) == 404:
                raise ApiTokenNotFound(token_id) from None
            raise


class UserRepository(UserStore):
    def __init__(self, service: TableServiceClient, table_name: str = ACCESS_TABLE):
        self._table = service.get_table_client(table_name)

    def _put(self, user: User) -> User:
        for _ in range(_MAX_ATTEMPTS):
            current, holder = self._read(user_row_key(user.id)), self._read(identity_row_key(user.identity))
            if holder is not None and holder["userId"] != user.id:
                raise AlreadyExists(IDENTITY_KIND, user.identity)
            operations = [_write(_user_to_entity(user, user_row_key(user.id)), current),
                          _write(_user_to_entity(user, identity_row_key(user.identity)), holder)]
            if current is not None and current["identity"] != user.identity:
                operations += self._release(current)
            if self._submit(operations):
                return user
        raise ConcurrencyConflict("User", user.id)

    def _get(self, user_id: str) -> User:
        entity = self._read(user_row_key(user_id))
        if entity is None:
            raise UserNotFound(user_id)
        return _user_from_entity(entity)

    def find_by_identity(self, identity: str) -> User | None:
        entity = self._read(identity_row_key(identity))
        return _user_from_entity(entity) if entity is not None and entity["identity"] == identity else None

    def list(self) -> list[User]:
        entities = self._table.query_entities(
            "PartitionKey eq @pk and RowKey ge @first and RowKey lt @end",
            parameters={"pk": USER_PARTITION, "first": USER_ROW_PREFIX, "end": USER_ROWS_END}, results_per_page=1000)
        return [_user_from_entity(entity) for entity in entities]

    def _delete(self, user_id: str) -> None:
        for _ in range(_MAX_ATTEMPTS):
            current = self._read(user_row_key(user_id))
            if current is None:
                raise UserNotFound(user_id)
            if self._submit([_delete(current), *self._release(current)]):
                return
        raise ConcurrencyConflict("User", user_id)

    def _release(self, current: dict) -> list[tuple]:
        """Deleting the identity row `current` (a user row) points at, if it is that user's."""
        index = self._read(identity_row_key(current["identity"]))
        return [_delete(index)] if index is not None and index["userId"] == current["userId"] else []

    def _read(self, row_key: str) -> dict | None:
        try:
            return self._table.get_entity(USER_PARTITION, row_key)
        except ResourceNotFoundError:
            return None

    def _submit(self, operations: list[tuple]) -> bool:
        """True if the transaction was applied; False if it lost a race (nothing was written)."""
        try:
            self._table.submit_transaction(operations)
        except TableTransactionError as error:
            if getattr(error, "status_code", None) not in _RETRIED_STATUSES:
                raise
            return False
        return True


def user_row_key(user_id: str) -> str:
    return USER_ROW_PREFIX + user_id


def identity_row_key(identity: str) -> str:
    return IDENTITY_ROW_PREFIX + hashlib.sha256(identity.encode()).hexdigest()


def _write(entity: dict, stored: dict | None) -> tuple:
    """Create `entity`, or replace `stored` if it is still the version read."""
    if stored is None:
        return ("create", entity)
    return ("update", entity, {"mode": UpdateMode.REPLACE, "etag": stored.metadata["etag"],
                               "match_condition": MatchConditions.IfNotModified})


def _delete(stored: dict) -> tuple:
    return ("delete", {"PartitionKey": stored["PartitionKey"], "RowKey": stored["RowKey"]},
            {"etag": stored.metadata["etag"], "match_condition": MatchConditions.IfNotModified})


def _token_to_entity(token: ApiToken) -> dict:
    return {"PartitionKey": API_TOKEN_PARTITION, "RowKey": token.id, "roles": json.dumps(list(token.role_ids)),
            "expiry": token.expiry, "secretHash": token.secret_hash, "createdAt": token.created_at,
            "createdBy": token.created_by}


def _token_from_entity(entity: dict) -> ApiToken:
    return ApiToken(id=entity["RowKey"], role_ids=tuple(json.loads(entity["roles"])), expiry=entity["expiry"],
                    secret_hash=entity["secretHash"], created_at=entity["createdAt"],
                    created_by=entity.get("createdBy", ""))


def _user_to_entity(user: User, row_key: str) -> dict:
    entity = {"PartitionKey": USER_PARTITION, "RowKey": row_key, "userId": user.id, "type": user.type.value,
              "roles": json.dumps(list(user.role_ids)), "identity": user.identity, "email": user.email,
              "tenantId": user.tenant_id, "objectId": user.object_id}
    return {key: value for key, value in entity.items() if value is not None}


def _user_from_entity(entity: dict) -> User:
    return User(id=entity["userId"], type=UserType(entity["type"]), role_ids=tuple(json.loads(entity["roles"])),
                email=entity.get("email"), tenant_id=entity.get("tenantId"), object_id=entity.get("objectId"))
