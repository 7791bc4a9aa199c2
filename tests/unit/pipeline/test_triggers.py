"""The pipeline's triggers as the Functions host sees them."""
import inspect
import json
from datetime import timedelta

import function_app
from dispatcher.leftovers import sender_lease


def test_each_stage_listens_on_its_queue_asynchronously():
    functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
    expected = {"plan_job": "jobs-plan", "send_batch": "jobs-dispatch", "collect_outcomes": "jobs-outcomes"}
    for name, queue in expected.items():
        trigger = functions[name].get_trigger()
        assert (trigger.type, trigger.queue_name, trigger.connection) == ("queueTrigger", queue, "AzureWebJobsStorage")
        # async: a sender waiting on its devices must not hold a worker thread the HTTP API needs
        assert inspect.iscoroutinefunction(functions[name].get_user_function())


def test_the_sender_lease_follows_the_host_s_function_timeout(tmp_path):
    (tmp_path / "host.json").write_text(json.dumps({"functionTimeout": "00:10:00"}))
    assert sender_lease({}, tmp_path) == timedelta(minutes=11)
    assert sender_lease({"AzureFunctionsJobHost__functionTimeout": "1.02:00:00"}, tmp_path) == timedelta(hours=26,
                                                                                                          minutes=1)
    assert sender_lease({"AzureFunctionsJobHost__functionTimeout": "-1"}, tmp_path) is None  # unbounded
    assert sender_lease({}, tmp_path / "nowhere") == timedelta(minutes=31)  # the plans' default
    assert sender_lease({}) == timedelta(minutes=11)  # this app's host.json
