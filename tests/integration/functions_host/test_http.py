"""HTTP triggers through the dev host: route prefix, templates, constraints, methods, settings."""
import pytest

from .conftest import http


def get(app_host, path: str, **kwargs):
    return http("GET", app_host.url + path, **kwargs)


def test_route_prefix_comes_from_host_json(app_host):
    assert get(app_host, "/testapi/plain").status == 200
    assert get(app_host, "/api/plain").status == 404


def test_route_defaults_to_the_function_name_and_str_becomes_text(app_host):
    response = get(app_host, "/testapi/plain")
    assert response.body == b"plain text"
    assert response.headers["Content-Type"].startswith("text/plain")


def test_request_carries_route_params_query_headers_and_body(app_host):
    response = http("POST", app_host.url + "/testapi/items/5?q=a&q=b&x=1", body=b"payload",
                    headers={"X-Test": "yes"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"fn": "items", "id": "5", "params": {"q": "a,b", "x": "1"}, "method": "POST",
                               "body": "payload", "header": "yes"}



def test_a_header_of_20_kib_reaches_the_function(app_host):
    """Entra tokens and Easy Auth principals can pass aiohttp's 8 KiB default; the Functions host takes 32 KiB."""
    response = http("POST", app_host.url + "/testapi/items/5", body=b"payload", headers={"X-Test": "y" * 20_000})
    assert response.status == 200
    assert response.json()["header"] == "y" * 20_000

@pytest.mark.parametrize("path, function, values", [
    ("/testapi/items", "items", {"id": None}),
    ("/testapi/items/12", "items", {"id": "12"}),
    ("/testapi/items/special", "special_item", {}),
    ("/TESTAPI/Items/SPECIAL", "special_item", {}),
    ("/testapi/things/0f8fad5b-d9cb-469f-a165-70867728950e", "thing_by_guid",
     {"key": "0f8fad5b-d9cb-469f-a165-70867728950e"}),
    ("/testapi/things/Widget", "thing_by_name", {"name": "Widget"}),
    ("/testapi/codes/abc", "code", {"code": "abc"}),
    ("/testapi/files/a/b/c.txt", "files", {"path": "a/b/c.txt"}),
    ("/testapi/files", "files", {"path": None}),
])
def test_templates_and_constraints_pick_the_function(app_host, path, function, values):
    response = get(app_host, path)
    assert response.status == 200
    body = response.json()
    assert body["fn"] == function
    assert {key: body[key] for key in values} == values


@pytest.mark.parametrize("path", ["/testapi/items/abc", "/testapi/things/12", "/testapi/codes/abcd",
                                  "/testapi/codes/ab1", "/testapi/nothing-here"])
def test_constraint_failures_are_404(app_host, path):
    assert get(app_host, path).status == 404


def test_wrong_method_is_404_not_405(app_host):
    assert http("DELETE", app_host.url + "/testapi/items/1").status == 404
    assert http("POST", app_host.url + "/testapi/plain", body=b"").status == 404
    assert http("PUT", app_host.url + "/testapi/files/x", body=b"").status == 200  # methods=None: any


def test_async_function(app_host):
    assert get(app_host, "/testapi/async-hello").json() == {"fn": "async_hello"}


def test_a_function_that_raises_gives_500_and_the_host_keeps_serving(app_host):
    assert get(app_host, "/testapi/boom").status == 500
    assert get(app_host, "/testapi/boom").status == 500
    assert get(app_host, "/testapi/plain").status == 200


def test_keys_are_not_enforced_by_default(app_host):
    assert get(app_host, "/testapi/secure").status == 200


def test_local_settings_become_the_environment_but_the_environment_wins(app_host):
    body = get(app_host, "/testapi/settings").json()
    assert body["greeting"] == "hello from local.settings.json"
    assert body["storage_from_file"] is False  # AzureWebJobsStorage was already set by the test


def test_host_status(app_host):
    response = get(app_host, "/admin/host/status")
    assert response.status == 200 and response.json()["state"] == "Running"
