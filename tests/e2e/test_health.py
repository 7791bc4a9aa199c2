def test_health_reports_storage_and_iot_hub_up(api):
    response = api.get("health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy",
                               "checks": {"storage": {"status": "up"}, "iotHub": {"status": "up"}}}


def test_an_unknown_route_answers_404(api):
    assert api.get("no-such-thing").status_code == 404
