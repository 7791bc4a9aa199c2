"""Timer triggers through the dev host: schedule, admin runs, the useMonitor status blob, past-due runs."""
import json
import uuid
from datetime import datetime, timezone

import pytest
from azure.storage.blob import BlobServiceClient

from local.functions_host import start_host

from .conftest import HostUnderTest, Results, create_queues, http, unique_queues, wait_until

YEARLY = "0 0 0 1 1 *"


def status_blob(connection_string: str, host_id: str, function: str):
    service = BlobServiceClient.from_connection_string(connection_string)
    return service.get_blob_client("azure-webjobs-hosts", f"timers/{host_id}/{function}/status")


def timer_environ(connection_string: str, queues: dict, host_id: str) -> dict:
    return {"AzureWebJobsStorage": connection_string, "TICK_SCHEDULE": YEARLY, "EVERY_SECOND_ON": "1",
            "AzureFunctionsWebHost__hostid": host_id, **queues}


@pytest.fixture(scope="module")
def timer_host(storage_connection_string, app_dir):
    queues = unique_queues()
    create_queues(storage_connection_string, queues.values())
    host_id = f"test-{uuid.uuid4().hex[:12]}"
    host = start_host(app_dir, environ=timer_environ(storage_connection_string, queues, host_id))
    under_test = HostUnderTest(host, storage_connection_string, queues,
                               Results(storage_connection_string, queues["RESULTS_QUEUE"]))
    under_test.host_id = host_id
    yield under_test
    host.stop()


def test_a_six_field_schedule_fires_every_second(timer_host):
    records = timer_host.results.wait_for(lambda r: r["fn"] == "every_second", count=2, timeout=5)
    assert not any(r["past_due"] for r in records)


def test_admin_endpoint_runs_a_timer_function(timer_host):
    response = http("POST", timer_host.url + "/admin/functions/tick", body=b'{"input": ""}',
                    headers={"Content-Type": "application/json"})
    assert response.status == 202
    [record] = timer_host.results.wait_for(lambda r: r["fn"] == "tick")
    assert record["past_due"] is False


def test_admin_endpoint_unknown_function_is_404_and_http_function_is_refused(timer_host):
    assert http("POST", timer_host.url + "/admin/functions/nope", body=b'{"input": ""}').status == 404
    assert http("POST", timer_host.url + "/admin/functions/plain", body=b'{"input": ""}').status == 400


def test_monitor_status_blob_records_the_next_occurrence(timer_host):
    blob = status_blob(timer_host.connection_string, timer_host.host_id, "tick")
    status = json.loads(blob.download_blob().readall())
    next_new_year = datetime(datetime.now(timezone.utc).year + 1, 1, 1, tzinfo=timezone.utc)
    assert datetime.fromisoformat(status["Next"]) == next_new_year


def test_past_due_run_at_startup(storage_connection_string, timer_host, app_dir):
    host_id = f"test-{uuid.uuid4().hex[:12]}"
    missed = "2020-01-01T00:00:00+00:00"
    blob = status_blob(storage_connection_string, host_id, "tick")
    blob.upload_blob(json.dumps({"Last": "0001-01-01T00:00:00", "Next": missed, "LastUpdated": missed}))
    host = start_host(app_dir, environ=timer_environ(storage_connection_string, timer_host.queues, host_id))
    try:
        [record] = timer_host.results.wait_for(lambda r: r["fn"] == "tick" and r["past_due"])
        assert record["status"]["Next"] == missed
        wait_until(lambda: datetime.fromisoformat(json.loads(blob.download_blob().readall())["Next"])
                   > datetime.now(timezone.utc), message="the status blob to record the next occurrence")
    finally:
        host.stop()
