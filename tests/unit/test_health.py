from azure.core.exceptions import HttpResponseError, ServiceRequestError

from shared.health import Health, PartDown, check_health
from shared.hub_gateway import HubFailure


def test_healthy_when_every_probe_passes():
    assert check_health({"tables": lambda: None}) == {"status": "healthy", "checks": {"tables": {"status": "up"}}}


def test_a_failing_part_is_named_with_a_short_reason_and_never_the_error_text():
    def refused():
        raise ServiceRequestError("<urllib3.connection.HTTPConnection object at 0x7f>: Failed to establish")

    def missing():
        raise PartDown("missing tables: jobs")

    def hub_says_500():
        raise HubFailure("HubError", "Tracking ID:abc internal detail", 500)

    report = check_health({"tables": missing, "queues": refused, "iotHub": hub_says_500})
    assert report == {"status": "unhealthy", "checks": {
        "tables": {"status": "down", "error": "missing tables: jobs"},
        "queues": {"status": "down", "error": "unreachable"},
        "iotHub": {"status": "down", "error": "answered 500"}}}


def test_storage_and_hub_refusing_the_app_s_credentials_and_a_hub_out_of_reach():
    forbidden = HttpResponseError("AuthorizationPermissionMismatch")
    forbidden.status_code = 403

    def refuse():
        raise forbidden

    def unreachable():
        raise HubFailure("HubError", "IoT Hub could not be reached: HTTPSConnectionPool(host=...)")

    checks = check_health({"tables": refuse, "iotHub": unreachable})["checks"]
    assert checks == {"tables": {"status": "down", "error": "refused the app's credentials"},
                      "iotHub": {"status": "down", "error": "unreachable"}}


def test_a_report_is_reused_while_it_is_young_then_checked_again():
    now, calls = [0.0], []
    health = Health({"iotHub": lambda: calls.append(1)}, cache_seconds=30, monotonic=lambda: now[0])
    for _ in range(300):
        health.report()
    assert len(calls) == 1
    now[0] = 30
    assert health.report()["status"] == "healthy" and len(calls) == 2


def test_no_cache_checks_on_every_call():
    calls = []
    health = Health({"iotHub": lambda: calls.append(1)}, cache_seconds=0)
    health.report()
    health.report()
    assert len(calls) == 2
