"""IoT Central's clients against the product, as they reach it in a deployment: through an HTTPS
reverse proxy (started here, in front of a dev host that trusts its forwarded headers), with
`api-version` on every request, a `nextLink` followed as given with `api-version` appended again,
as the Azure CLI's `az iot central` commands do. One stack for the package (Azurite, the demo
fleet's simulator, the dev host, in subprocesses)."""
from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest
import requests

from local.harness import HostProcess, Stack
from local.tls_proxy import TlsProxy
from local.waiting import wait_for
from tests.e2e.conftest import Api

API_VERSION = "2022-07-31"
ENDED = ("completed", "failed", "cancelled")


class CentralClient(Api):
    """The API through the proxy, called as IoT Central's clients call it."""

    def __init__(self, proxy: TlsProxy, token: str):
        super().__init__(proxy.base_url, token)
        self.ca_bundle = proxy.ca_bundle  # per request: requests lets REQUESTS_CA_BUNDLE override a session's

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        url = path if path.startswith("https://") else self.url(path)
        params = {**kwargs.pop("params", {}), "api-version": API_VERSION}  # appended, even to a nextLink
        return self.session.request(method, url, params=params, timeout=60, verify=self.ca_bundle, **kwargs)

    def pages(self, path: str, **params) -> list[dict]:
        """Every page of a list, following each `nextLink` to the end; each link must lead back
        through the proxy."""
        pages, url = [], path
        while url:
            response = self.get(url, params=params)
            assert response.status_code == 200, f"{url}: {response.text}"
            pages.append(response.json())
            url, params = pages[-1].get("nextLink"), {}
            assert url is None or url.startswith(self.url("")), f"a nextLink off the public URL: {url}"
        return pages

    def items(self, path: str, **params) -> list[dict]:
        return [item for page in self.pages(path, **params) for item in page["value"]]

    def group(self, filter_: str, **more) -> str:
        group_id = "g-" + uuid.uuid4().hex[:10]
        response = self.put(f"deviceGroups/{group_id}", {"displayName": group_id, "filter": filter_, **more})
        assert response.status_code == 200, response.text
        return group_id

    def start(self, group_id: str, data: list[dict], **more) -> str:
        job_id = "j-" + uuid.uuid4().hex[:10]
        response = self.put(f"jobs/{job_id}", {"displayName": job_id, "group": group_id, "data": data, **more})
        assert response.status_code == 200, response.text
        return job_id

    def job(self, job_id: str) -> dict:
        response = self.get(f"jobs/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_ended(self, job_id: str, timeout: float = 180) -> dict:
        return wait_for(lambda: (job := self.job(job_id))["status"] in ENDED and job, timeout=timeout,
                        interval=0.3, what=f"job {job_id} to end")


@pytest.fixture(scope="package")
def stack():
    stack = Stack.started(TRUST_FORWARDED_HEADERS="true")
    yield stack
    stack.close()


@pytest.fixture(scope="package")
def proxy(stack):
    proxy = TlsProxy(stack.host.base_url).start()
    yield proxy
    proxy.close()


@pytest.fixture
def central(stack, proxy) -> CentralClient:
    stack.hub.control.reset()
    return CentralClient(proxy, stack.admin_token)


@pytest.fixture
def other_host(stack, proxy):
    """`with other_host(**settings) as host:` the package's dev host replaced, behind the same
    proxy, by one with these settings added; the package's comes back after."""
    @contextmanager
    def replaced(**settings: str):
        stack.host.stop()
        host = HostProcess({**stack.host.environ, **settings})
        try:
            host.start()
            proxy.upstream_base_url = host.base_url
            yield host
        finally:
            host.stop()
            stack.host.start()
            proxy.upstream_base_url = stack.host.base_url
    return replaced

