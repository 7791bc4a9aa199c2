"""The pipeline's triggers as the Functions host sees them."""
import inspect
import json
import logging
from datetime import timedelta

import pytest

import function_app
from dispatcher.dead_sender_rule import sender_lease
from shared.host_config import HostConfig
from shared.messages import PlanRequest
from shared.triggers import decode_or_refuse
from tests.fakes import FakeQueue


def test_each_stage_listens_on_its_queue_asynchronously():
    functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
    expected = {"plan_job": "jobs-plan", "send_batch": "jobs-dispatch", "collect_outcomes": "jobs-outcomes"}
    for name, queue in expected.items():
        trigger = functions[name].get_trigger()
        assert (trigger.type, trigger.queue_name, trigger.connection) == ("queueTrigger", queue, "AzureWebJobsStorage")
        # async: a sender waiting on its devices must not hold a worker thread the HTTP API needs
        assert inspect.iscoroutinefunction(functions[name].get_user_function())


def test_the_sender_lease_follows_the_host_s_function_timeout(tmp_path):
    def lease(environ, app_root=None):
        return sender_lease(HostConfig.read(environ, app_root) if app_root else HostConfig.read(environ))

    (tmp_path / "host.json").write_text(json.dumps({"functionTimeout": "00:10:00"}))
    assert lease({}, tmp_path) == timedelta(minutes=11)
    assert lease({"AzureFunctionsJobHost__functionTimeout": "1.02:00:00"}, tmp_path) == timedelta(hours=26, minutes=1)
    assert lease({"AzureFunctionsJobHost__functionTimeout": "-1"}, tmp_path) is None  # unbounded
    assert lease({}, tmp_path / "nowhere") == timedelta(minutes=31)  # the plans' default
    assert lease({}) == timedelta(minutes=11)  # this app's host.json


def test_the_last_delivery_follows_the_host_s_max_dequeue_count(tmp_path):
    (tmp_path / "host.json").write_text(json.dumps({"extensions": {"queues": {"maxDequeueCount": 3}}}))
    assert HostConfig.read({}, tmp_path).max_dequeue_count == 3
    overridden = {"AzureFunctionsJobHost__extensions__queues__maxDequeueCount": "7"}
    assert HostConfig.read(overridden, tmp_path).max_dequeue_count == 7
    assert HostConfig.read({}, tmp_path / "nowhere").max_dequeue_count == 5  # the extension's default
    assert HostConfig.read({}).max_dequeue_count == 5  # this app's host.json


@pytest.mark.parametrize("text, why", [
    ('{"kind": "replan", "jobId": "job-1", "incarnation": "a1"}', "kind"),  # a kind the planner does not know
    ('{"kind": "continue", "jobId": "job-1", "incarnation": "a1"}', "needs continuation"),  # without what it needs
    ('{"kind": "plan", "incarnation": "a1"}', "jobId"),  # no job
    ("not json", "message"),
])
def test_a_plan_message_the_planner_cannot_read_goes_to_poison_at_once_saying_why(caplog, text, why):
    poison = FakeQueue()
    with caplog.at_level(logging.ERROR, logger="shared.triggers"):
        assert decode_or_refuse(PlanRequest, text.encode(), "jobs-plan", poison) is None
    assert poison.messages == [text]
    (record,) = caplog.records
    assert "moved to jobs-plan-poison" in record.getMessage() and why in record.getMessage()


@pytest.mark.parametrize("text, kind, field", [
    ('{"jobId": "j1", "resume": false, "continuation": null, "watch": false, "progress": null, "since": null}',
     "plan", None),
    ('{"jobId": "j1", "resume": true}', "resume", None),
    ('{"jobId": "j1", "continuation": "294"}', "continue", ("continuation", "294")),
    ('{"jobId": "j1", "dispatchAfter": "dev-00097"}', "dispatchMore", ("after", "dev-00097")),
    ('{"jobId": "j1", "watch": true, "since": "2026-11-26T12:00:00Z", "progress": {"total": 3}}', "watch",
     ("progress", {"total": 3})),
])
def test_a_plan_message_queued_by_an_earlier_version_keeps_its_meaning(text, kind, field):
    request = decode_or_refuse(PlanRequest, text, "jobs-plan", FakeQueue())
    assert (request.kind.value, request.job_id, request.incarnation) == (kind, "j1", "")
    if field:
        assert getattr(request, field[0]) == field[1]


def test_a_plan_message_of_a_known_kind_is_decoded_and_nothing_is_poisoned():
    poison = FakeQueue()
    request = PlanRequest(kind="continue", job_id="job-1", incarnation="a1", continuation="294")
    assert decode_or_refuse(PlanRequest, request.to_text(), "jobs-plan", poison) == request
    assert poison.sent == []
