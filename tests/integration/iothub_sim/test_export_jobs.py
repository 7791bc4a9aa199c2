"""Export devices through the real `IoTHubJobManager`; the blob is read back from Azurite with azure-storage-blob."""
from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta, timezone

import pytest
from azure.iot.hub.models import JobProperties, QuerySpecification, Twin, TwinProperties
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from local.azurite import ACCOUNT_KEY, ACCOUNT_NAME

from .support import hub_error, wait_until

ENDED = ("completed", "failed", "cancelled")
EVERY_TWIN = "SELECT * FROM devices"


@pytest.fixture
def jobs(hub):
    return hub.job_manager()


@pytest.fixture
def container(azurite, unique_name):
    client = BlobServiceClient.from_connection_string(azurite.connection_string).create_container(unique_name)
    yield client
    client.delete_container()


def sas_url(container, permission: str = "rwd", expiry: timedelta = timedelta(hours=1)) -> str:
    sas = generate_container_sas(ACCOUNT_NAME, container.container_name, account_key=ACCOUNT_KEY,
                                 permission=ContainerSasPermissions.from_string(permission),
                                 expiry=datetime.now(timezone.utc) + expiry)
    return f"{container.url}?{sas}"


def export(jobs, url: str, exclude_keys: bool = True, blob_name: str | None = None):
    return jobs.create_import_export_job(JobProperties(type="export", output_blob_container_uri=url,
                                                       exclude_keys_in_export=exclude_keys, output_blob_name=blob_name))


def ended(jobs, job_id: str, timeout: float = 60):
    def poll():
        job = jobs.get_import_export_job(job_id)
        return job if job.status in ENDED else None
    return wait_until(poll, timeout=timeout, interval=0.1, message=f"export job {job_id} to end")


def exported_lines(container, blob_name: str = "devices.txt") -> list[dict]:
    text = container.download_blob(blob_name).readall().decode()
    return [json.loads(line) for line in text.splitlines()]


def every_twin(registry) -> dict:
    twins, token = {}, None
    while True:
        page = registry.query_iot_hub(QuerySpecification(query=EVERY_TWIN), token, 100)
        twins.update((twin.device_id, twin) for twin in page.items)
        token = page.continuation_token
        if not token:
            return twins


def without_metadata(section: dict) -> dict:
    return {key: value for key, value in section.items() if not key.startswith("$")}


def test_every_device_is_exported_once_with_its_twin_and_without_keys(hub, registry, jobs, container):
    registry.update_twin("kiosk-001", Twin(tags={"export": "yes"}, properties=TwinProperties(desired={"mode": "eco"})))
    twins = every_twin(registry)

    job = export(jobs, sas_url(container))
    assert (job.type, job.status, job.progress) == ("export", "enqueued", 0)
    assert job.job_id and job.start_time_utc

    done = ended(jobs, job.job_id)
    assert (done.status, done.progress, done.failure_reason) == ("completed", 100, None)
    assert done.end_time_utc >= done.start_time_utc
    lines = exported_lines(container)
    ids = [line["id"] for line in lines]
    assert len(ids) == len(set(ids)) == len(twins) and set(ids) == set(twins)
    for line in lines:
        twin = twins[line["id"]]
        assert (line["eTag"], line["twinETag"], line["status"]) == (twin.device_etag, twin.etag, twin.status)
        assert line["tags"] == twin.tags
        assert line["properties"]["desired"] == without_metadata(twin.properties.desired)
        assert line["properties"]["reported"] == without_metadata(twin.properties.reported)
        assert line["capabilities"] == {"iotEdge": twin.capabilities.iot_edge}
        assert line["authentication"]["symmetricKey"] == {"primaryKey": None, "secondaryKey": None}
        assert "modelId" not in line and "importMode" not in line
    kiosk = lines[ids.index("kiosk-001")]
    assert kiosk["tags"]["export"] == "yes" and kiosk["properties"]["desired"] == {"mode": "eco"}
    edge = lines[ids.index("edge-gateway-01")]
    assert edge["capabilities"] == {"iotEdge": True} and edge["deviceScope"].startswith("ms-azure-iot-edge://")


def test_keys_are_exported_unless_excluded_into_the_named_blob(registry, jobs, container):
    job = export(jobs, sas_url(container), exclude_keys=False, blob_name="registry.txt")
    assert ended(jobs, job.job_id).status == "completed"
    lines = {line["id"]: line for line in exported_lines(container, "registry.txt")}
    keys = registry.get_device("vending-0001").authentication.symmetric_key
    assert lines["vending-0001"]["authentication"]["symmetricKey"] == {"primaryKey": keys.primary_key,
                                                                      "secondaryKey": keys.secondary_key}
    assert "devices.txt" not in [blob.name for blob in container.list_blobs()]


def test_a_second_export_while_one_is_active_is_refused(hub, jobs, container):
    hub.control.set_job_queue_seconds(60)
    first = export(jobs, sas_url(container))
    with hub_error(403, 403001) as error:
        export(jobs, sas_url(container))
    assert error.code_name == "JobQuotaExceeded"
    assert jobs.get_import_export_job(first.job_id).status == "enqueued"

    jobs.cancel_import_export_job(first.job_id)
    assert jobs.get_import_export_job(first.job_id).status == "cancelled"
    hub.control.set_job_queue_seconds(0)
    second = export(jobs, sas_url(container))
    assert ended(jobs, second.job_id).status == "completed"
    assert {job.job_id: job.status for job in jobs.get_import_export_jobs()} == {
        first.job_id: "cancelled", second.job_id: "completed"}
    assert hub.control.import_export_jobs()["byStatus"] == {"cancelled": 1, "completed": 1}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("make_url", [
    pytest.param(lambda c: sas_url(c, expiry=timedelta(minutes=-5)), id="expired"),
    pytest.param(lambda c: sas_url(c, permission="r"), id="read-only"),
    pytest.param(lambda c: sas_url(c).replace(c.container_name, c.container_name + "gone"), id="no-container"),
    pytest.param(lambda c: sas_url(c).replace(c.url.split("/")[2], f"127.0.0.1:{_closed_port()}"), id="unreachable"),
])
def test_a_sas_the_simulator_cannot_write_with_fails_the_job_with_a_reason(jobs, container, make_url):
    job = export(jobs, make_url(container))
    assert job.status == "enqueued"
    done = ended(jobs, job.job_id)
    assert done.status == "failed" and done.failure_reason and done.end_time_utc
    assert list(container.list_blobs()) == []


def test_an_unknown_job_is_job_not_found(jobs):
    with hub_error(404, 404002) as error:
        jobs.get_import_export_job("no-such-job")
    assert error.code_name == "JobNotFound"


def test_create_is_a_jobs_operation_throttled_on_s1(hub, jobs, container):
    hub.control.set_sku("S1")
    assert hub.control.throttle()["buckets"]["jobs"]["capacity"] == 100
    hub.control.set_job_queue_seconds(60)
    first = export(jobs, sas_url(container))
    for _ in range(99):  # refused as the second active job, but each call is still a jobs operation
        with hub_error(403, 403001):
            export(jobs, sas_url(container))
    with hub_error(429, 429001) as error:
        export(jobs, sas_url(container))
    assert "Retry-After" not in error.headers
    assert jobs.get_import_export_job(first.job_id).status == "enqueued"  # a job's get is not metered
