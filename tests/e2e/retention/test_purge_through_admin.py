"""Retention end to end: the dev host runs the unchanged app with JOB_HISTORY_RETENTION_DAYS=0, the
purge is started through the admin endpoint, and the tests wait for its effect.

This module runs its own host and never asks for the session's `app_host`: in-process hosts share
os.environ, and this one needs a different retention setting. With 0 days, a run archives and
purges every ended job and draft in the shared storage, which only this module's jobs may be.
"""
from __future__ import annotations

import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from local.functions_host import start_host
from local.waiting import wait_for
from shared.job_archive import PURGING, JobArchive
from shared.repositories import JobDeviceRepository, JobRepository, ensure_tables
from tests.e2e.api.conftest import device_filter, job_body
from tests.e2e.conftest import PROJECT_ROOT, Api
from tests.unit.retention.seeding import seed_job

FUNCTION = "purge_job_history"


@pytest.fixture(scope="module")
def retention_host(app_environment):
    environ = {**app_environment, "JOB_HISTORY_RETENTION_DAYS": "0", "HUB_QUERIES_PER_MINUTE": "0"}
    host = start_host(str(PROJECT_ROOT), port=0, environ=environ)
    forget_cached_settings()
    yield host
    host.stop()
    forget_cached_settings()


def forget_cached_settings() -> None:
    """A host imports afresh only the modules the process has not imported yet: when the session's
    host ran first, this one shares its `shared.bootstrap` and the composition root it cached with
    the default retention. Forgetting it makes the next call read the settings now in os.environ."""
    bootstrap = sys.modules.get("shared.bootstrap")
    if bootstrap is not None:
        bootstrap.services.cache_clear()


@pytest.fixture(scope="module")
def api(retention_host, admin_token) -> Api:
    return Api(retention_host.base_url, admin_token)


@pytest.fixture(scope="module")
def repositories(azurite):
    tables = TableServiceClient.from_connection_string(azurite.connection_string)
    ensure_tables(tables)
    return JobRepository(tables), JobDeviceRepository(tables)


@pytest.fixture(scope="module")
def archive(azurite) -> JobArchive:
    return JobArchive.in_blob_storage(BlobServiceClient.from_connection_string(azurite.connection_string))


@pytest.fixture
def group_id(api) -> str:
    group_id = unique("group")
    body = {"displayName": "Retention", "filter": device_filter("vending-0001", "vending-0002", "vending-0003")}
    assert api.put(f"deviceGroups/{group_id}", body).status_code == 200
    return group_id


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def run_purge(retention_host) -> None:
    response = requests.post(f"{retention_host.base_url}/admin/functions/{FUNCTION}", json={"input": ""}, timeout=30)
    assert response.status_code == 202, response.text


def wait_until_purged(api, archive, job_ids, timeout: float = 60) -> None:
    def purged():
        return all(api.get(f"jobs/{job_id}").status_code == 404 and
                   (entry := archive.find(job_id)) is not None and entry.state == PURGING for job_id in job_ids)
    wait_for(purged, timeout=timeout, what=f"jobs {', '.join(job_ids)} archived and purged")


def archived(archive, job_id) -> bytes:
    return b"".join(archive.read(archive.find(job_id)))


def test_ended_jobs_and_drafts_are_archived_as_their_report_and_purged_running_ones_stay(
        api, retention_host, repositories, archive, group_id):
    jobs, job_devices = repositories
    draft = api.post("jobs", job_body(group_id, displayName="Draft → archived"))
    assert draft.status_code == 201, draft.text
    draft_id = draft.json()["id"]
    an_hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    ended_id, running_id = unique("ended"), unique("running")
    seed_job(jobs, job_devices, ended_id, "failed", an_hour_ago, devices=120)  # as the pipeline leaves it
    seed_job(jobs, job_devices, running_id, "running", an_hour_ago)
    reports = {job_id: api.get(f"jobs/{job_id}/report.csv").content for job_id in (draft_id, ended_id)}

    run_purge(retention_host)

    wait_until_purged(api, archive, [draft_id, ended_id])
    for job_id, report in reports.items():
        assert archived(archive, job_id) == report
    assert archive.find(ended_id).progress.total == 120
    running = api.get(f"jobs/{running_id}")
    assert running.status_code == 200 and running.json()["status"] == "running"
    assert len(list(job_devices.iter_devices(running_id))) == 3


def test_a_job_run_through_the_pipeline_is_archived_once_it_ended(api, retention_host, archive, group_id):
    job_id = unique("job")
    assert api.put(f"jobs/{job_id}", job_body(group_id)).status_code in (200, 201)
    wait_for(lambda: api.get(f"jobs/{job_id}").json()["status"] in ("completed", "failed"), timeout=60,
             what=f"job {job_id} ended")
    report = api.get(f"jobs/{job_id}/report.csv").content

    run_purge(retention_host)

    wait_until_purged(api, archive, [job_id])
    assert archived(archive, job_id) == report
    assert archive.find(job_id).progress.total == 3


def test_purged_jobs_are_listed_in_history_and_their_404_points_at_the_archive(
        api, retention_host, repositories, archive, group_id):
    jobs, job_devices = repositories
    job_id = unique("archived")
    seed_job(jobs, job_devices, job_id, "completed", datetime.now(timezone.utc) - timedelta(hours=2), devices=5)
    report = api.get(f"jobs/{job_id}/report.csv").content

    run_purge(retention_host)
    wait_until_purged(api, archive, [job_id])

    missing = api.get(f"jobs/{job_id}")
    assert missing.status_code == 404 and missing.headers["x-ms-error-code"] == "NotFound"
    pointer = missing.json()["error"]["details"][0]
    assert pointer["code"] == "JobArchived"
    assert pointer["target"] == api.url(f"history/{job_id}/report.csv")
    assert api.session.get(pointer["target"], timeout=30).content == report
    assert api.get(f"jobs/{job_id}/report.csv").json()["error"]["details"][0]["target"] == pointer["target"]

    listed = api.get("history", params={"maxpagesize": "1000"}).json()["value"]
    entry = next(item for item in listed if item["id"] == job_id)
    assert entry["status"] == "completed" and entry["progress"]["total"] == 5
    assert entry["report"] == pointer["target"]
    assert entry["archive"]["path"].endswith(f"/{job_id}.csv") and entry["archive"]["size"] == len(report)


def test_history_refuses_an_unknown_archive_and_a_forged_page_token(api):
    unknown = api.get("history/no-such-job/report.csv")
    assert unknown.status_code == 404 and unknown.json()["error"]["target"] == "no-such-job"
    forged = api.get("history", params={"$skiptoken": "not-a-token"})
    assert forged.status_code == 400 and forged.json()["error"]["target"] == "$skiptoken"
