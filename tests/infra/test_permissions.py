"""The cross-check's own machinery: the SDK scan finds what it should, the tables have no typos."""
from __future__ import annotations

from tests.infra import app_surface as app
from tests.infra import permissions as perms


def test_scan_finds_sdk_calls_and_ignores_everyday_names():
    source = (
        "def f(table, queue, hub, d):\n"
        "    table.upsert_entity({'PartitionKey': 'p'})\n"
        "    queue.send_message('m')\n"
        "    send = hub.invoke_device_method\n"
        "    return d.get('x'), d.items()\n")
    found = {use.method for use in app.sdk_uses(source, "sample.py", perms.sdk_method_names())}
    assert found == {"upsert_entity", "send_message", "invoke_device_method"}


def test_sdk_universe_holds_the_operations_the_design_needs():
    universe = perms.sdk_method_names()
    for method in ("query_entities", "submit_transaction", "update_entity", "send_message", "upload_blob",
                   "list_blobs", "download_blob", "delete_blob", "get_twin", "update_twin", "invoke_device_method",
                   "query_iot_hub"):
        assert method in universe and method in perms.SDK_METHODS, method


def test_permission_table_names_real_sdk_methods_and_known_providers():
    universe = perms.sdk_method_names()
    assert set(perms.SDK_METHODS) <= universe, sorted(set(perms.SDK_METHODS) - universe)
    tables = list(perms.SDK_METHODS.values()) + list(perms.BINDINGS.values()) + [perms.HOST_STORAGE]
    for permission in {p for table in tables for p in table}:
        assert perms.provider_of(permission) in perms.PROVIDER_SCOPES, permission


def test_role_patterns_behave_like_azure_wildcards():
    owner, contributor = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
    assert perms.granted(owner, f"{perms.CONTAINERS}/blobs/write")
    assert not perms.granted(owner, f"{perms.TABLES}/entities/read")
    assert perms.granted(contributor, f"{perms.TABLES}/entities/read")
    assert not perms.granted("00000000-0000-0000-0000-000000000000", f"{perms.TABLES}/entities/read")


def test_app_source_is_scanned():
    files = {str(path.relative_to(app.ROOT)) for path in app.source_files()}
    assert "function_app.py" in files and any(name.startswith("shared/") for name in files)
