"""The registry of processes sending to IoT Hub, on Azurite: each announcement counts once, old
ones stop counting and are pruned."""
from datetime import datetime, timedelta, timezone

from shared.repositories.hub_senders import HubSenderRepository

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def test_processes_count_once_each_until_their_announcement_ages(table_service, table_name):
    senders = HubSenderRepository(table_service, table_name)
    senders.announce("a", NOW - timedelta(seconds=20))
    senders.announce("b", NOW - timedelta(seconds=5))
    senders.announce("b", NOW)  # announcing again replaces
    senders.announce("gone", NOW - timedelta(hours=2))

    assert senders.count_since(NOW - timedelta(seconds=30)) == 2
    assert senders.count_since(NOW - timedelta(seconds=10)) == 1

    keys = {row["RowKey"] for row in table_service.get_table_client(table_name).list_entities()}
    assert keys == {"a", "b"}  # the row of a process gone for hours was pruned


def test_a_process_that_withdraws_stops_counting_at_once(table_service, table_name):
    senders = HubSenderRepository(table_service, table_name)
    senders.announce("a", NOW)
    senders.announce("b", NOW)
    senders.withdraw("a")
    senders.withdraw("never-announced")
    assert senders.count_since(NOW - timedelta(seconds=30)) == 1
