def test_health_reports_tables_queues_and_iot_hub_up(api):
    response = api.get("health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "checks": {"tables": {"status": "up"}, "queues": {"status": "up"},
                                                              "iotHub": {"status": "up"}}}


def test_many_health_calls_spend_no_hub_quota(api, hub):
    def twin_reads() -> int:
        return hub.control.counters().get("get_twin", {}).get("calls", 0)

    before = twin_reads()
    for _ in range(300):
        assert api.get("health").status_code == 200
    # One check at most every HEALTH_CACHE_SECONDS (30 s): one read, two if the window turns over.
    assert twin_reads() - before <= 2


def test_an_unknown_route_answers_404(api):
    assert api.get("no-such-thing").status_code == 404
