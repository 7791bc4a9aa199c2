"""API token records and users, against Azurite and the in-memory fakes: round trips, one
owner per identity, and an identity index that stays in step with its users."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from shared.domain.access import (ADMINISTRATOR, OPERATOR, VIEWER, ApiToken, ApiTokenNotFound, User, UserNotFound,
                                  UserType, email_identity, service_principal_identity)
from shared.domain.errors import AlreadyExists, InvalidField
from shared.repositories.access import (API_TOKEN_PARTITION, USER_PARTITION, ApiTokenRepository, UserRepository,
                                        identity_row_key, user_row_key)
from tests.integration.repositories.conftest import NOW


def a_token(token_id: str = "tok-1", **changes) -> ApiToken:
    fields = {"id": token_id, "role_ids": (OPERATOR.id, VIEWER.id), "expiry": NOW + timedelta(days=365),
              "secret_hash": "ab" * 32, "created_at": NOW, "created_by": "user:alice"}
    return ApiToken(**{**fields, **changes})


def a_person(user_id: str = "alice", email: str = "alice@contoso.com", roles=(OPERATOR.id,)) -> User:
    return User(user_id, UserType.EMAIL, tuple(roles), email=email)


def a_principal(user_id: str = "deployer", tenant: str = "T-1", object_id: str = "O-1") -> User:
    return User(user_id, UserType.SERVICE_PRINCIPAL, (ADMINISTRATOR.id,), tenant_id=tenant, object_id=object_id)


class TestApiTokens:
    def test_a_token_round_trips_every_field(self, api_tokens):
        token = a_token()
        assert api_tokens.add(token) == token
        assert api_tokens.get("tok-1") == token

    def test_tokens_are_listed_by_id(self, api_tokens):
        for token_id in ("tok-b", "tok-a", "tok-c"):
            api_tokens.add(a_token(token_id))
        assert [token.id for token in api_tokens.list()] == ["tok-a", "tok-b", "tok-c"]

    def test_adding_an_id_twice_is_refused_and_keeps_the_first(self, api_tokens):
        api_tokens.add(a_token())
        with pytest.raises(AlreadyExists) as refused:
            api_tokens.add(a_token(secret_hash="cd" * 32))
        assert refused.value.identifier == "tok-1"
        assert api_tokens.get("tok-1").secret_hash == "ab" * 32

    def test_unknown_and_malformed_ids_are_not_found(self, api_tokens):
        for token_id in ("nope", "a/b", "a'b", ""):
            with pytest.raises(ApiTokenNotFound):
                api_tokens.get(token_id)
            with pytest.raises(ApiTokenNotFound):
                api_tokens.delete(token_id)
        with pytest.raises(InvalidField):
            api_tokens.add(a_token("a/b"))

    def test_a_deleted_token_is_gone_and_deleting_it_again_is_not_found(self, api_tokens):
        api_tokens.add(a_token())
        api_tokens.add(a_token("tok-2"))
        api_tokens.delete("tok-1")
        with pytest.raises(ApiTokenNotFound):
            api_tokens.get("tok-1")
        with pytest.raises(ApiTokenNotFound):
            api_tokens.delete("tok-1")
        assert [token.id for token in api_tokens.list()] == ["tok-2"]


class TestUsers:
    def test_people_and_service_principals_round_trip(self, users):
        person, principal = a_person(roles=(OPERATOR.id, VIEWER.id)), a_principal()
        assert users.put(person) == person and users.put(principal) == principal
        assert users.get("alice") == person and users.get("deployer") == principal
        assert [user.id for user in users.list()] == ["alice", "deployer"]

    def test_users_are_found_by_their_normalised_identity(self, users):
        users.put(a_person(email=" Alice@Contoso.COM"))
        users.put(a_principal(tenant="T-1", object_id="O-1"))
        assert users.find_by_identity(email_identity("alice@contoso.com")).id == "alice"
        assert users.find_by_identity(service_principal_identity("t-1", "o-1")).id == "deployer"
        assert users.find_by_identity(email_identity("bob@contoso.com")) is None

    def test_put_replaces_roles_and_the_identity_finds_the_new_roles(self, users):
        users.put(a_person())
        users.put(a_person(roles=(VIEWER.id,)))
        assert users.get("alice").role_ids == (VIEWER.id,)
        assert users.find_by_identity(email_identity("alice@contoso.com")).role_ids == (VIEWER.id,)
        assert len(users.list()) == 1

    def test_a_change_of_email_moves_the_identity(self, users):
        users.put(a_person(email="alice@contoso.com"))
        users.put(a_person(email="alice@fabrikam.com"))
        assert users.find_by_identity(email_identity("alice@contoso.com")) is None
        assert users.find_by_identity(email_identity("alice@fabrikam.com")) == users.get("alice")

    def test_a_person_who_becomes_a_service_principal_is_found_only_as_one(self, users):
        users.put(a_person("ci"))
        users.put(a_principal("ci"))
        assert users.find_by_identity(email_identity("alice@contoso.com")) is None
        assert users.find_by_identity(a_principal().identity).id == "ci"

    def test_a_deleted_user_is_gone_by_id_and_by_identity(self, users):
        users.put(a_person())
        users.put(a_person("bob", "bob@contoso.com"))
        users.delete("alice")
        with pytest.raises(UserNotFound):
            users.get("alice")
        with pytest.raises(UserNotFound):
            users.delete("alice")
        assert users.find_by_identity(email_identity("alice@contoso.com")) is None
        assert [user.id for user in users.list()] == ["bob"]

    def test_unknown_and_malformed_ids_are_not_found(self, users):
        for user_id in ("nobody", "a/b", ""):
            with pytest.raises(UserNotFound):
                users.get(user_id)
            with pytest.raises(UserNotFound):
                users.delete(user_id)
        with pytest.raises(InvalidField):
            users.put(a_person("a#b"))

    def test_an_identity_another_user_holds_is_refused_naming_it(self, users):
        users.put(a_person())
        with pytest.raises(AlreadyExists) as refused:
            users.put(a_person("alice-2", email="ALICE@contoso.com"))
        assert refused.value.identifier == email_identity("alice@contoso.com")
        with pytest.raises(UserNotFound):
            users.get("alice-2")
        assert users.find_by_identity(email_identity("alice@contoso.com")).id == "alice"

    def test_a_refused_change_of_email_leaves_the_user_as_it_was(self, users):
        users.put(a_person())
        users.put(a_person("bob", "bob@contoso.com"))
        with pytest.raises(AlreadyExists):
            users.put(a_person("bob", "alice@contoso.com", roles=(ADMINISTRATOR.id,)))
        assert users.get("bob") == a_person("bob", "bob@contoso.com")
        assert users.find_by_identity(email_identity("bob@contoso.com")).id == "bob"
        assert users.find_by_identity(email_identity("alice@contoso.com")).id == "alice"

    def test_an_identity_released_by_a_change_or_a_delete_can_be_claimed(self, users):
        users.put(a_person())
        users.put(a_person(email="alice@fabrikam.com"))
        users.put(a_person("bob", "alice@contoso.com"))
        users.delete("alice")
        users.put(a_person("carol", "alice@fabrikam.com"))
        assert users.find_by_identity(email_identity("alice@contoso.com")).id == "bob"
        assert users.find_by_identity(email_identity("alice@fabrikam.com")).id == "carol"

    def test_of_users_racing_for_one_identity_exactly_one_holds_it(self, users):
        def claim(index: int) -> str:
            try:
                return users.put(a_person(f"user-{index}", "shared@contoso.com")).id
            except AlreadyExists:
                return ""

        with ThreadPoolExecutor(8) as pool:
            winners = [user_id for user_id in pool.map(claim, range(8)) if user_id]
        assert len(winners) == 1
        assert users.find_by_identity(email_identity("shared@contoso.com")).id == winners[0]
        assert [user.id for user in users.list()] == winners


class TestStoredRows:
    """What the table holds: tokens only as hashes, and exactly two rows per user."""

    def test_a_token_row_holds_the_hash_and_nothing_more(self, table_service, table_name):
        ApiTokenRepository(table_service, table_name).add(a_token())
        row = table_service.get_table_client(table_name).get_entity(API_TOKEN_PARTITION, "tok-1")
        assert set(row) == {"PartitionKey", "RowKey", "roles", "expiry", "secretHash", "createdAt", "createdBy"}

    def test_each_user_is_two_rows_and_changes_leave_no_stale_row(self, table_service, table_name):
        users, table = UserRepository(table_service, table_name), table_service.get_table_client(table_name)
        users.put(a_person())
        users.put(a_person(email="alice@fabrikam.com"))
        users.put(a_principal("alice"))
        users.put(a_person("bob", "bob@contoso.com"))
        users.delete("bob")
        rows = {row["RowKey"] for row in table.query_entities("PartitionKey eq @pk", parameters={"pk": USER_PARTITION})}
        assert rows == {user_row_key("alice"), identity_row_key(a_principal("alice").identity)}
