import pytest
from pydantic import ValidationError

from shared.settings import Settings


def test_settings_come_from_the_app_setting_names():
    settings = Settings.from_environ({"AzureWebJobsStorage": "UseDevelopmentStorage=true",
                                      "IOTHUB_CONNECTION_STRING": "HostName=h;SharedAccessKeyName=k;SharedAccessKey=a2V5"})
    assert settings.storage_connection_string == "UseDevelopmentStorage=true"
    assert settings.iothub_connection_string.startswith("HostName=h;")


def test_an_empty_setting_counts_as_unset():
    assert Settings.from_environ({"AzureWebJobsStorage": ""}).storage_connection_string is None


def test_identity_based_storage_endpoints_follow_the_functions_convention():
    settings = Settings.from_environ({"AzureWebJobsStorage__accountName": "fleetjobs",
                                      "AzureWebJobsStorage__tableServiceUri": "https://custom.example/tables"})
    assert settings.storage_service_uri("queue") == "https://fleetjobs.queue.core.windows.net"
    assert settings.storage_service_uri("table") == "https://custom.example/tables"
    assert Settings.from_environ({}).storage_service_uri("blob") is None


def test_hub_and_health_settings_have_their_defaults_and_bounds():
    settings = Settings.from_environ({})
    assert (settings.hub_throttled_wait_seconds, settings.hub_interactive_query_percent,
            settings.hub_interactive_deadline_seconds, settings.group_check_cache_seconds,
            settings.health_cache_seconds) == (300, 25, 10, 60, 30)
    for name, value in [("HUB_INTERACTIVE_QUERY_PERCENT", "0"), ("HUB_INTERACTIVE_QUERY_PERCENT", "101"),
                        ("HUB_THROTTLED_WAIT_SECONDS", "0"), ("HUB_THROTTLED_WAIT_SECONDS", "600"),
                        ("HUB_INTERACTIVE_DEADLINE_SECONDS", "0"), ("HEALTH_CACHE_SECONDS", "-1")]:
        with pytest.raises(ValidationError):
            Settings.from_environ({name: value})
    assert Settings.from_environ({"HEALTH_CACHE_SECONDS": "0"}).health_cache_seconds == 0
