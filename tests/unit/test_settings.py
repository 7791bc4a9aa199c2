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
