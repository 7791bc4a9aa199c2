"""The gateway's aggregate queries for previews: rows as the SDK hands them (twins keeping unknown
fields apart), continuation pages followed, the queries admitted together within the reads'
share, and the hub's refusals classified as for any query."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from azure.iot.hub.models import Twin

from shared.hub_gateway import INVALID_QUERY, CallerThrottled, HubFailure, HubGateway, HubLimits, RetryPolicy
from tests.unit.pipeline.test_gateway import Ticks, http_error

S1 = HubLimits(0, 0, 0, queries_per_second=20 / 60, interactive_query_share=0.25)


class AggregatingManager:
    """Answers each query with its scripted pages of rows, deserialized as the SDK does ([Twin])."""

    def __init__(self, pages: dict[str, list[list[dict]]], error=None):
        self.pages, self.error, self.calls = pages, error, []

    def query_iot_hub(self, spec, continuation, size):
        self.calls.append((spec.query, continuation))
        if self.error:
            raise self.error
        pages = self.pages[spec.query]
        index = int(continuation or 0)
        following = str(index + 1) if index + 1 < len(pages) else None
        return SimpleNamespace(items=[Twin.deserialize(row) for row in pages[index]], continuation_token=following)


def hub_of(manager):
    ticks = Ticks()
    return HubGateway(manager, S1, RetryPolicy(max_attempts=2, base_delay=0.01), sleep=ticks.sleep,
                      monotonic=ticks.monotonic), ticks


def test_rows_are_the_aliases_and_their_values_page_after_page():
    manager = AggregatingManager({
        "edges": [[{"n": 2, "edge": True}], [{"n": 98, "edge": False}]],
        "states": [[{"n": 90, "state": "Connected"}, {"n": 8, "state": "Disconnected"}]]})
    hub, ticks = hub_of(manager)
    assert hub.for_reads.count_devices(["edges", "states"]) == [
        [{"n": 2, "edge": True}, {"n": 98, "edge": False}],
        [{"n": 90, "state": "Connected"}, {"n": 8, "state": "Disconnected"}]]
    assert manager.calls == [("edges", None), ("edges", "1"), ("states", None)] and ticks.slept == []


def test_the_queries_come_out_of_the_reads_share_together_or_not_at_all():
    manager = AggregatingManager({"q": [[{"n": 1}]]})
    hub, ticks = hub_of(manager)
    hub.for_reads.count_devices(["q"] * 4)  # of the reads' five a minute
    with pytest.raises(CallerThrottled):
        hub.for_reads.count_devices(["q", "q"])  # one is left: neither is asked
    assert len(manager.calls) == 4 and ticks.slept == []
    assert hub.for_reads.count_devices([]) == []


def test_a_refused_query_is_invalid_query():
    manager = AggregatingManager({}, http_error(400, "ArgumentInvalid", '{"Message":"ErrorCode:ArgumentInvalid;bad"}'))
    hub, _ = hub_of(manager)
    with pytest.raises(HubFailure) as caught:
        hub.for_reads.count_devices(["SELECT COUNT() AS n FROM devices WHERE (("])
    assert caught.value.code == INVALID_QUERY
