"""Every paged list walked to its end through the HTTPS proxy by a client that appends
`api-version` to each `nextLink` again: jobs, device groups, a group's devices, a job's devices
(the whole demo fleet, 1,056 devices, in default pages) and the archived history; links name the
proxy's https URL, or `PUBLIC_BASE_URL` when it is set."""
from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qsl, urlsplit

import requests

from local.tls_proxy import TlsProxy
from local.waiting import wait_for

from .conftest import API_VERSION, CentralClient

FLEET_SIZE = 1_056
KIOSKS = "SELECT * FROM devices WHERE tags.type = 'kiosk'"  # 30 devices
PURGE = "purge_job_history"


def fan(value: int) -> list[dict]:
    return [{"type": "property", "path": "fanSpeed", "value": value}]


def parameters(link: str) -> Counter:
    return Counter(name for name, _ in parse_qsl(urlsplit(link).query, keep_blank_values=True))


def assert_walked(pages: list[dict], size: int, total: int) -> None:
    assert [len(page["value"]) for page in pages[:-1]] == [size] * (len(pages) - 1)
    assert sum(len(page["value"]) for page in pages) == total
    for page in pages[:-1]:
        assert parameters(page["nextLink"])["api-version"] <= 1, page["nextLink"]  # once, if at all


def test_the_whole_demo_fleets_job_devices_are_every_device_once_across_its_pages(central):
    group_id = central.group("SELECT * FROM devices")
    job_id = central.start(group_id, fan(7))
    job = central.wait_ended(job_id, timeout=300)
    assert job["progress"]["total"] == FLEET_SIZE, job

    pages = central.pages(f"jobs/{job_id}/devices")
    ids = Counter(device["id"] for page in pages for device in page["value"])
    group_ids = Counter(device["id"] for device in central.items(f"deviceGroups/{group_id}/devices"))

    print(f"\n{job_id}: {len(pages)} pages of job devices through the proxy, {len(ids)} devices")
    assert_walked(pages, 100, FLEET_SIZE)
    assert len(ids) == FLEET_SIZE and set(ids.values()) == {1}, ids.most_common(3)
    assert ids == group_ids  # the job's devices are the group's, each once


def test_jobs_groups_and_a_groups_devices_are_walked_to_the_end_in_small_pages(central):
    group_ids = [central.group(KIOSKS, description=f"kiosks {n}") for n in range(3)]
    job_ids = [central.start(group_id, fan(n)) for n, group_id in enumerate(group_ids)]

    jobs = central.pages("jobs", maxpagesize=2)
    groups = central.pages("deviceGroups", maxpagesize=2)
    kiosks = central.pages(f"deviceGroups/{group_ids[0]}/devices", maxpagesize=7)

    listed_jobs = [job["id"] for page in jobs for job in page["value"]]
    listed_groups = [group["id"] for page in groups for group in page["value"]]
    assert set(job_ids) <= set(listed_jobs) and len(set(listed_jobs)) == len(listed_jobs)
    assert set(group_ids) <= set(listed_groups) and len(set(listed_groups)) == len(listed_groups)
    assert_walked(jobs, 2, len(listed_jobs))
    assert_walked(groups, 2, len(listed_groups))
    assert_walked(kiosks, 7, 30)
    assert {device["id"] for page in kiosks for device in page["value"]} == {f"kiosk-{n:03d}" for n in range(1, 31)}


def test_the_archived_history_is_walked_to_the_end_and_its_links_lead_through_the_proxy(central, other_host):
    group_id = central.group(KIOSKS)
    job_ids = [central.start(group_id, fan(n)) for n in range(3)]
    for job_id in job_ids:
        central.wait_ended(job_id)
    # Retention at 0 days archives and purges every ended job; the timer never fires by itself (1 January).
    with other_host(JOB_HISTORY_RETENTION_DAYS="0", JOB_HISTORY_PURGE_SCHEDULE="0 0 3 1 1 *") as host:
        started = requests.post(f"{host.base_url}/admin/functions/{PURGE}", json={"input": ""}, timeout=30)
        assert started.status_code == 202, started.text
        wait_for(lambda: f"Executed 'Functions.{PURGE}' (Succeeded" in host.log_path.read_text(errors="replace"),
                 timeout=180, what="the purge to finish")

        pages = central.pages("history", maxpagesize=1)
        archived = [entry["id"] for page in pages for entry in page["value"]]
        assert set(job_ids) <= set(archived), archived
        assert_walked(pages, 1, len(archived))
        entry = next(entry for page in pages for entry in page["value"] if entry["id"] == job_ids[0])
        report = central.get(entry["report"])
        assert report.status_code == 200 and job_ids[0].encode() in report.content, report.text
        gone = central.get(f"jobs/{job_ids[0]}")
        assert gone.status_code == 404 and gone.json()["error"]["details"][0]["target"] == entry["report"]


def test_with_public_base_url_set_every_link_uses_it_and_forwarded_headers_do_not(central, proxy, other_host):
    """An app published under a path of another host: the proxy strips `/fleet`, so only links
    that carry it lead anywhere; forwarded headers (trusted here) would name the proxy without it."""
    published = TlsProxy(proxy.upstream_base_url, path_prefix="/fleet").start()
    try:
        with other_host(PUBLIC_BASE_URL=published.base_url) as host:
            published.upstream_base_url = host.base_url
            client = CentralClient(published, central.session.headers["Authorization"])
            group_id = client.group(KIOSKS)
            created = client.post("jobs", {"displayName": "published", "group": group_id, "data": fan(1)})
            assert created.status_code == 201, created.text
            assert created.headers["Location"] == client.url(f"jobs/{created.json()['id']}")
            assert client.get(created.headers["Location"]).status_code == 200

            pages = client.pages(f"deviceGroups/{group_id}/devices", maxpagesize=10)
            assert_walked(pages, 10, 30)
            assert pages[0]["nextLink"].startswith(f"{published.base_url}/api/deviceGroups/{group_id}/devices?")
            assert client.get("https://" + published.public_host + "/api/jobs").status_code == 404  # outside /fleet
    finally:
        published.close()


def test_a_parameter_repeated_with_another_value_is_refused_naming_it(central):
    central.start(central.group(KIOSKS), fan(1))
    same = central.get("jobs?maxpagesize=1&api-version=" + API_VERSION, params={"maxpagesize": "1"})
    assert same.status_code == 200, same.text  # each parameter twice, with the same value
    assert len(same.json()["value"]) == 1 and parameters(same.json()["nextLink"]) == Counter(
        {"maxpagesize": 1, "api-version": 1, "$skiptoken": 1}), same.json()["nextLink"]
    for query, name in ((f"api-version={API_VERSION}&api-version=2022-10-31-preview", "api-version"),
                        ("maxpagesize=3&maxpagesize=4", "maxpagesize")):
        refused = central.session.get(central.url(f"jobs?{query}"), timeout=60, verify=central.ca_bundle)
        assert refused.status_code == 400, refused.text
        assert refused.headers["x-ms-error-code"] == refused.json()["error"]["code"]
        assert name in refused.json()["error"]["message"], refused.text


def test_forwarded_headers_a_caller_sends_do_not_reach_the_links(central):
    """The proxy sets the forwarded headers itself; what a caller sent under those names (to send
    the next client that follows a nextLink, and its Authorization, elsewhere) is not believed."""
    group_id = central.group(KIOSKS)
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http",
              "Forwarded": 'proto=http;host="evil.example"'}
    page = central.get(f"deviceGroups/{group_id}/devices", params={"maxpagesize": "5"}, headers=forged)
    assert page.status_code == 200, page.text
    assert page.json()["nextLink"].startswith(central.url(f"deviceGroups/{group_id}/devices?"))
