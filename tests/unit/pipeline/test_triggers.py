"""The pipeline's triggers as the Functions host sees them."""
import inspect

import function_app


def test_each_stage_listens_on_its_queue_asynchronously():
    functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
    expected = {"plan_job": "jobs-plan", "send_batch": "jobs-dispatch", "collect_outcomes": "jobs-outcomes"}
    for name, queue in expected.items():
        trigger = functions[name].get_trigger()
        assert (trigger.type, trigger.queue_name, trigger.connection) == ("queueTrigger", queue, "AzureWebJobsStorage")
        # async: a sender waiting on its devices must not hold a worker thread the HTTP API needs
        assert inspect.iscoroutinefunction(functions[name].get_user_function())
