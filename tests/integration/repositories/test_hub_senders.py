"""The registry of processes sending to IoT Hub, on Azurite: each process counts once, by the
service's own timestamps; a process that withdraws stops counting at once."""
from datetime import timedelta

from shared.repositories.hub_senders import HubSenderRepository

WINDOW = timedelta(seconds=10)


def test_processes_count_once_each_within_the_window(table_service, table_name):
    senders = HubSenderRepository(table_service, table_name)
    assert senders.announce_and_count("a", WINDOW) == 1
    assert senders.announce_and_count("b", WINDOW) == 2
    assert senders.announce_and_count("b", WINDOW) == 2  # announcing again replaces
    # "a" announced before "b" last did: a window of no length leaves it out
    assert senders.announce_and_count("b", timedelta(0)) == 1


def test_a_process_that_withdraws_stops_counting_at_once(table_service, table_name):
    senders = HubSenderRepository(table_service, table_name)
    senders.announce_and_count("a", WINDOW)
    senders.withdraw("a")
    senders.withdraw("never-announced")
    assert senders.announce_and_count("b", WINDOW) == 1
