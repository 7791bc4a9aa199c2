"""Queue triggers through the dev host against Azurite (host.json: batchSize 2,
newBatchThreshold 0, maxDequeueCount 3, visibilityTimeout 0)."""
import base64
import uuid

from local.functions_host import queue_listener

from .conftest import http, wait_until


def marker() -> str:
    return uuid.uuid4().hex[:10]


def test_message_is_processed_with_metadata_and_deleted(app_host):
    body = f"hello {marker()}"
    app_host.queue("WORK_QUEUE").send_message(body)
    [record] = app_host.results.wait_for(lambda r: r["fn"] == "work" and r["body"] == body)
    assert record["dequeue_count"] == 1 and record["has_times"] and record["id"]
    wait_until(lambda: app_host.queue("WORK_QUEUE").get_queue_properties().approximate_message_count == 0,
               message="the message to be deleted")


def test_queue_output_binding_feeds_the_next_function_as_str(app_host):
    body = f"chain:{marker()}"
    app_host.queue("WORK_QUEUE").send_message(body)
    [record] = app_host.results.wait_for(lambda r: r["fn"] == "chained" and r["body"] == body)
    assert record["kind"] == "str"


def test_failures_are_retried_with_a_growing_dequeue_count(app_host):
    body = f"flaky {marker()}"
    app_host.queue("FLAKY_QUEUE").send_message(body)
    records = app_host.results.wait_for(lambda r: r["fn"] == "flaky" and r["body"] == body, count=3)
    assert [r["dequeue_count"] for r in records] == [1, 2, 3]  # succeeds on the third attempt
    assert body not in app_host.poison_texts("FLAKY_QUEUE")


def test_poison_after_max_dequeue_count_keeps_the_original_text(app_host):
    body = f"always {marker()}"
    app_host.queue("FLAKY_QUEUE").send_message(body)
    wire_text = base64.b64encode(body.encode()).decode()
    wait_until(lambda: wire_text in app_host.poison_texts("FLAKY_QUEUE"), message="the poison message")
    records = [r for r in app_host.results.wait_for(lambda r: r.get("body") == body, count=3)]
    assert [r["dequeue_count"] for r in records] == [1, 2, 3]


def test_invalid_base64_goes_to_poison_without_invoking(app_host):
    text = f"not base64 {marker()}!"
    app_host.queue("WORK_QUEUE", encode=False).send_message(text)
    wait_until(lambda: text in app_host.poison_texts("WORK_QUEUE"), message="the poison message")
    app_host.queue("WORK_QUEUE").send_message(after := f"after {marker()}")
    app_host.results.wait_for(lambda r: r.get("body") == after)
    assert not [r for r in app_host.results.seen if text in str(r.get("body"))]


def test_batch_size_bounds_concurrency(app_host):
    tag = marker()
    queue = app_host.queue("SLOW_QUEUE")
    for index in range(6):
        queue.send_message(f"{tag}-{index}")
    records = app_host.results.wait_for(lambda r: r["fn"] == "slow" and r["body"].startswith(tag), count=6)
    assert max(r["concurrent"] for r in records) == 2  # batchSize 2 + newBatchThreshold 0


def test_visibility_is_renewed_while_a_long_invocation_runs(app_host, monkeypatch):
    # receive with 3 s instead of 10 minutes: the 4 s invocation outlives it unless renewed
    monkeypatch.setattr(queue_listener, "RECEIVE_VISIBILITY_SECONDS", 3)
    body = f"long {marker()}"
    queue = app_host.queue("SLOW_QUEUE")
    queue.send_message(body)
    app_host.results.wait_for(lambda r: r["fn"] == "slow_started" and r["body"] == body)
    visible_while_running = []

    def finished():
        visible_while_running.extend(m.id for m in queue.peek_messages(max_messages=32))
        return app_host.results.find(lambda r: r["fn"] == "slow" and r["body"] == body)

    wait_until(finished, message="the long invocation to finish")
    assert visible_while_running == []
    wait_until(lambda: queue.get_queue_properties().approximate_message_count == 0,
               message="the message to be deleted with the renewed pop receipt")


def test_admin_endpoint_runs_a_queue_function_with_the_input_as_body(app_host):
    body = f"by hand {marker()}"
    response = http("POST", app_host.url + "/admin/functions/work", body=f'{{"input": "{body}"}}'.encode(),
                    headers={"Content-Type": "application/json"})
    assert response.status == 202
    app_host.results.wait_for(lambda r: r["fn"] == "work" and r["body"] == body)
