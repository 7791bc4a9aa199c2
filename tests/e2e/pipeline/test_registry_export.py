"""Planning from a registry export, through the dev host, Azurite and the simulator's export jobs:
one jobs operation instead of twin queries, the same devices as IoT Hub's own query would
choose, and a hub busy with another export waited for."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from azure.iot.hub.models import JobProperties
from azure.storage.blob import BlobServiceClient, generate_container_sas

from local.azurite import ACCOUNT_KEY, ACCOUNT_NAME

from shared.storage_names import REGISTRY_EXPORTS_CONTAINER
from tests.e2e.pipeline.conftest import log_of
from tests.e2e.pipeline.test_pipeline import twins
from local.waiting import wait_for

FAN = [{"type": "property", "path": "fanSpeed", "value": 4}]
# Tags, a reported property, IN, NOT, OR, <> and IS_DEFINED: what the planner evaluates itself over an export.
VARIED = ("SELECT * FROM devices WHERE tags.type = 'vending' AND (tags.region IN ['west', 'north'] "
          "OR NOT (properties.reported.firmwareVersion = '1.4.2')) AND tags.site <> 'site-07' "
          "AND IS_DEFINED(properties.reported.serialNumber)")


def calls(stack, operation: str) -> int:
    return stack.hub.control.counters().get(operation, {}).get("calls", 0)


def export_blobs(stack) -> list[str]:
    container = BlobServiceClient.from_connection_string(stack.azurite.connection_string) \
        .get_container_client(REGISTRY_EXPORTS_CONTAINER)
    return [blob.name for blob in container.list_blobs()]


def test_a_group_job_is_planned_from_one_registry_export_without_a_twin_query(stack, jobs):
    group_id = jobs.group(VARIED)  # the group's filter is checked by one query of a twin
    queries_before = calls(stack, "query_iot_hub")
    job_id = jobs.start(group_id, FAN)
    job = jobs.wait_ended(job_id)
    queries_by_planning = calls(stack, "query_iot_hub") - queries_before
    expected = set(twins(stack, VARIED))
    devices = jobs.devices(job_id)
    assert 50 < len(expected) < 1000  # the filter keeps some devices and leaves out others
    assert set(devices) == expected
    assert job["progress"]["total"] == len(expected) == job["progress"]["completed"] + job["progress"]["failed"]
    for device_id in expected:
        assert [entry["desired"] for entry in log_of(stack, device_id, "update_twin")] == [{"fanSpeed": 4}], device_id
    assert stack.hub.control.import_export_jobs()["byStatus"] == {"completed": 1}
    assert queries_by_planning == 0
    wait_for(lambda: not export_blobs(stack), timeout=30, interval=0.3, what="the export blob to be deleted")


def test_an_export_and_twin_queries_choose_the_same_devices(stack, jobs, host_settings):
    by_export = jobs.start(jobs.group(VARIED), FAN)
    jobs.wait_ended(by_export)
    assert stack.hub.control.import_export_jobs()["created"] == 1
    host_settings(PLAN_FROM_REGISTRY_EXPORT="false")
    by_queries = jobs.start(jobs.group(VARIED), FAN)
    jobs.wait_ended(by_queries)
    assert stack.hub.control.import_export_jobs()["created"] == 1  # the second job queried
    assert set(jobs.devices(by_export)) == set(jobs.devices(by_queries)) == set(twins(stack, VARIED))


def test_a_hub_busy_with_another_export_is_waited_for_then_the_job_plans_from_its_own(stack, jobs):
    stack.hub.control.set_job_queue_seconds(8)  # each export job stays enqueued 8 s: the hub is busy
    service = BlobServiceClient.from_connection_string(stack.azurite.connection_string)
    other = service.create_container("other-export-" + uuid.uuid4().hex[:8])
    try:
        sas = generate_container_sas(ACCOUNT_NAME, other.container_name, account_key=ACCOUNT_KEY, permission="rwd",
                                     expiry=datetime.now(timezone.utc) + timedelta(hours=1))
        stack.hub.job_manager().create_import_export_job(JobProperties(
            type="export", output_blob_container_uri=f"{other.url}?{sas}", exclude_keys_in_export=True))
        group_id = jobs.group("SELECT * FROM devices WHERE tags.type = 'kiosk'")
        queries_before = calls(stack, "query_iot_hub")
        job_id = jobs.start(group_id, FAN)
        job = jobs.wait_ended(job_id, timeout=90)
    finally:
        other.delete_container()
    assert job["progress"]["total"] == 30 and set(jobs.devices(job_id)) == {f"kiosk-{n:03d}" for n in range(1, 31)}
    assert stack.hub.control.import_export_jobs()["byStatus"] == {"completed": 2}  # the other's, then the job's
    assert calls(stack, "create_import_export_job") > 2  # refused while the other ran
    assert calls(stack, "query_iot_hub") == queries_before
