"""The pipeline's triggers as the Functions host sees them."""
import inspect
import json
from datetime import timedelta
from pathlib import Path

import function_app
from dispatcher.leftovers import SENDER_LEASE


def test_each_stage_listens_on_its_queue_asynchronously():
    functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
    expected = {"plan_job": "jobs-plan", "send_batch": "jobs-dispatch", "collect_outcomes": "jobs-outcomes"}
    for name, queue in expected.items():
        trigger = functions[name].get_trigger()
        assert (trigger.type, trigger.queue_name, trigger.connection) == ("queueTrigger", queue, "AzureWebJobsStorage")
        # async: a sender waiting on its devices must not hold a worker thread the HTTP API needs
        assert inspect.iscoroutinefunction(functions[name].get_user_function())


def test_no_live_sender_outlasts_the_lease_the_resume_rule_relies_on():
    hours, minutes, seconds = json.loads((Path(__file__).parents[3] / "host.json").read_text())["functionTimeout"].split(":")
    assert timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds)) <= SENDER_LEASE
