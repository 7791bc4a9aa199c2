"""The light transaction client against Azurite, side by side with the SDK's own TableClient:
the same operations store the same entities, answer the same ETags and fail with the same
errors (type, status, error code, failed operation's index)."""
from datetime import datetime, timezone

import pytest
from azure.core import MatchConditions
from azure.data.tables import TableTransactionError, UpdateMode

from shared.repositories.table_transactions import transaction_client

WHEN = datetime(2026, 11, 26, 12, 30, tzinfo=timezone.utc)


@pytest.fixture(params=["sdk", "light"])
def client(request, table_service, table_name):
    if request.param == "sdk":
        return table_service.get_table_client(table_name)
    return transaction_client(table_service, table_name)


def rows(count: int, **properties) -> list[dict]:
    return [{"PartitionKey": "job", "RowKey": f"d{index:03d}", "index": index, "at": WHEN, "name": "é,\r\n\"x\"",
             "ratio": 0.5, "flag": True, **properties} for index in range(count)]


def stored(table) -> dict[str, dict]:
    return {entity["RowKey"]: {**entity, "etag": entity.metadata["etag"]}
            for entity in table.query_entities("PartitionKey eq 'job'")}


def test_creates_answer_one_etag_per_operation_and_store_the_entities(client, table_service, table_name):
    results = client.submit_transaction([("create", row) for row in rows(99)])

    assert len(results) == 99
    found = stored(table_service.get_table_client(table_name))
    assert [result["etag"] for result in results] == [found[f"d{index:03d}"]["etag"] for index in range(99)]
    assert found["d042"]["name"] == "é,\r\n\"x\""
    assert found["d042"]["at"] == WHEN and found["d042"]["flag"] is True and found["d042"]["index"] == 42


def test_conditional_updates_deletes_and_merges_in_one_transaction(client, table_service, table_name):
    etags = [result["etag"] for result in client.submit_transaction([("create", row) for row in rows(4)])]
    condition = {"match_condition": MatchConditions.IfNotModified}
    client.submit_transaction([
        ("update", {"PartitionKey": "job", "RowKey": "d000", "status": "running"},
         {"mode": UpdateMode.REPLACE, "etag": etags[0], **condition}),
        ("update", {"PartitionKey": "job", "RowKey": "d001", "status": "done"},
         {"mode": UpdateMode.MERGE, "etag": etags[1], **condition}),
        ("delete", {"PartitionKey": "job", "RowKey": "d002"}),
        ("upsert", {"PartitionKey": "job", "RowKey": "d009", "status": "new"}),
    ])

    found = stored(table_service.get_table_client(table_name))
    assert set(found) == {"d000", "d001", "d003", "d009"}
    assert "index" not in found["d000"] and found["d000"]["status"] == "running"  # replaced
    assert found["d001"]["index"] == 1 and found["d001"]["status"] == "done"  # merged
    assert found["d009"]["status"] == "new"


def test_a_stale_etag_fails_the_whole_transaction_naming_the_operation(client, table_service, table_name):
    etags = [result["etag"] for result in client.submit_transaction([("create", row) for row in rows(3)])]
    client.submit_transaction([("update", {"PartitionKey": "job", "RowKey": "d002", "v": 1}, {"mode": UpdateMode.MERGE})])
    before = stored(table_service.get_table_client(table_name))

    with pytest.raises(TableTransactionError) as raised:
        client.submit_transaction([
            ("update", {"PartitionKey": "job", "RowKey": f"d{index:03d}", "v": 2},
             {"mode": UpdateMode.MERGE, "etag": etag, "match_condition": MatchConditions.IfNotModified})
            for index, etag in enumerate(etags)])

    assert raised.value.status_code == 412 and raised.value.index == 2
    assert raised.value.error_code == "UpdateConditionNotSatisfied"
    assert stored(table_service.get_table_client(table_name)) == before  # nothing changed


def test_creating_an_existing_row_fails_with_409_and_its_index(client, table_service, table_name):
    client.submit_transaction([("create", row) for row in rows(2)])

    with pytest.raises(TableTransactionError) as raised:
        client.submit_transaction([("create", row) for row in rows(3, extra=1)[1:]])

    assert raised.value.status_code == 409 and raised.value.index == 0
    assert raised.value.error_code == "EntityAlreadyExists"
    assert "extra" not in stored(table_service.get_table_client(table_name))["d001"]


def test_updating_a_missing_row_fails_with_404(client):
    with pytest.raises(TableTransactionError) as raised:
        client.submit_transaction([("update", {"PartitionKey": "job", "RowKey": "nope", "v": 1},
                                    {"mode": UpdateMode.MERGE, "etag": 'W/"datetime\'2026-01-01T00%3A00%3A00Z\'"',
                                     "match_condition": MatchConditions.IfNotModified})])

    assert raised.value.status_code == 404 and raised.value.error_code == "ResourceNotFound"


def test_the_client_shares_the_service_s_connection_pool(table_service, table_name):
    client = transaction_client(table_service, table_name)
    assert client._client._client._pipeline._transport._transport is table_service._client._client._pipeline._transport
