from shared.health import check_health


def test_healthy_when_every_probe_passes():
    assert check_health({"storage": lambda: None}) == {"status": "healthy", "checks": {"storage": {"status": "up"}}}


def test_a_failing_probe_is_reported_with_its_reason():
    def unreachable():
        raise ConnectionError("connection refused")

    report = check_health({"storage": lambda: None, "iotHub": unreachable})
    assert report["status"] == "unhealthy"
    assert report["checks"]["storage"] == {"status": "up"}
    assert report["checks"]["iotHub"] == {"status": "down", "error": "ConnectionError: connection refused"}
