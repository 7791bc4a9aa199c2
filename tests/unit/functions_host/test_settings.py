"""Settings: local.settings.json, precedence, connections, TimeSpans, host.json queue options."""
import json

import pytest

from local.functions_host.keys import HostKeys
from local.functions_host.queue_listener import (QueueOptions, RandomizedBackoff, decode_body,
                                                 poison_queue_name)
from local.functions_host.settings import (SettingsError, apply_settings, expand_settings, extension_options,
                                           parse_timespan, read_local_settings, resolve_connection, with_overrides)


def test_local_settings_values_and_port(tmp_path):
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": {"A": "1", "N": None},
                                "Host": {"LocalHttpPort": 7077}}))
    settings = read_local_settings(path)
    assert settings.values == {"A": "1", "N": ""}
    assert settings.http_port == 7077


def test_missing_file_is_empty_and_encrypted_file_is_refused(tmp_path):
    assert read_local_settings(tmp_path / "nope.json").values == {}
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": True, "Values": {}}))
    with pytest.raises(SettingsError, match="encrypted"):
        read_local_settings(path)


def test_environment_wins_over_local_settings():
    environ = {"A": "from-env", "EMPTY": ""}
    skipped = apply_settings({"A": "from-file", "B": "from-file", "EMPTY": "from-file"}, environ)
    assert environ == {"A": "from-env", "B": "from-file", "EMPTY": "from-file"}
    assert skipped == ["A"]


def test_connection_resolution_order():
    environ = {"Mine": "direct", "AzureWebJobsOther": "prefixed", "AzureWebJobsStorage": "default"}
    assert resolve_connection("Mine", environ) == "direct"
    assert resolve_connection("Other", environ) == "prefixed"
    assert resolve_connection("", environ) == "default"
    assert resolve_connection(None, environ) == "default"
    with pytest.raises(SettingsError, match="Missing"):
        resolve_connection("Missing", environ)
    with pytest.raises(SettingsError, match="identity-based"):
        resolve_connection("Id", {"Id__queueServiceUri": "https://x"})


def test_setting_expansion():
    assert expand_settings("%Q%-x", {"Q": "jobs"}) == "jobs-x"
    with pytest.raises(SettingsError):
        expand_settings("%Nope%", {})


@pytest.mark.parametrize("value, seconds", [
    ("00:00:02", 2), ("00:01:00", 60), ("1.00:00:00", 86400), ("00:00:00.250", 0.25), (5, 5)])
def test_timespans(value, seconds):
    assert parse_timespan(value) == seconds


def test_bare_polling_interval_is_milliseconds():
    options = QueueOptions.from_host_json({"maxpollinginterval": 2000})
    assert options.max_polling_interval == 2


def test_queue_options_from_host_json():
    options = QueueOptions.from_host_json({"batchsize": 64, "visibilitytimeout": "00:00:05",
                                           "maxpollinginterval": "00:00:00.010", "messageencoding": "None"})
    assert options.batch_size == 32            # capped at 32
    assert options.visibility_timeout == 5
    assert options.max_polling_interval == 0.1  # floor of 100 ms
    assert options.message_encoding == "none"
    assert options.max_dequeue_count == 5


def test_queue_defaults_are_the_development_ones():
    options = QueueOptions.from_host_json({})
    assert (options.batch_size, options.max_polling_interval, options.visibility_timeout) == (16, 2, 0)
    assert options.message_encoding == "base64" and options.max_dequeue_count == 5


def test_poison_queue_names():
    assert poison_queue_name("jobs") == "jobs-poison"
    assert poison_queue_name("jobs-poison") is None
    assert poison_queue_name("a" * 60) is None


def test_message_decoding():
    assert decode_body("aGVsbG8=", "base64") == b"hello"
    assert decode_body("not base64!", "base64") is None
    assert decode_body("plain", "none") == b"plain"


def test_backoff_grows_to_the_maximum_and_resets():
    backoff = RandomizedBackoff(0.1, 2.0)
    delays = [backoff.next_delay(False) for _ in range(10)]
    assert delays == sorted(delays) and delays[-1] == 2.0
    assert backoff.next_delay(True) == 0.1


def test_keys_per_auth_level():
    keys = HostKeys.from_settings({"FUNCTIONS_MASTER_KEY": "m", "FUNCTIONS_HOST_KEYS": "h1, h2",
                                   "FUNCTIONS_KEYS_Orders": "f"})
    assert keys.allows("anonymous", "x", None)
    assert keys.allows("function", "x", "h2") and keys.allows("function", "orders", "f")
    assert not keys.allows("function", "x", "f") and not keys.allows("function", "x", None)
    assert keys.allows("admin", "x", "m") and not keys.allows("admin", "x", "h1")
    assert HostKeys.from_settings({}).master_generated


def test_app_settings_override_host_json_values_by_path_ignoring_case():
    host_json = {"version": "2.0", "extensions": {"queues": {"batchSize": 16, "newBatchThreshold": 8}}}
    environ = {"AzureFunctionsJobHost__extensions__queues__BATCHSIZE": "1",
               "azurefunctionsjobhost__functionTimeout": "00:05:00", "OTHER": "x"}
    merged = with_overrides(host_json, environ)
    assert merged["extensions"]["queues"] == {"batchSize": "1", "newBatchThreshold": 8}
    assert merged["functionTimeout"] == "00:05:00" and host_json["extensions"]["queues"]["batchSize"] == 16
    assert QueueOptions.from_host_json({k.lower(): v for k, v in merged["extensions"]["queues"].items()}).batch_size == 1


def test_an_override_may_create_a_section_in_any_case():
    merged = with_overrides({}, {"AzureFunctionsJobHost__Extensions__Queues__batchSize": "2"})
    assert extension_options(merged, "queues") == {"batchsize": "2"}
