"""A small app for the dev host's tests. Functions report what they saw to the queue named by
the RESULTS_QUEUE setting, as JSON records {"fn": ..., ...}."""
import asyncio
import json
import os
import threading
import time

import azure.functions as func
from azure.storage.queue import QueueClient

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_lock = threading.Lock()
_running = {"now": 0}


def report(fn: str, **fields) -> None:
    client = QueueClient.from_connection_string(os.environ["AzureWebJobsStorage"], os.environ["RESULTS_QUEUE"])
    with client:
        client.send_message(json.dumps({"fn": fn, **fields}))


def reply(**fields) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(fields), mimetype="application/json")


# --- HTTP -----------------------------------------------------------------------------------

@app.route(route="items/{id:int?}", methods=["GET", "POST"])
def items(req: func.HttpRequest) -> func.HttpResponse:
    return reply(fn="items", id=req.route_params.get("id"), params=dict(req.params), method=req.method,
                 body=req.get_body().decode(), header=req.headers.get("x-test"))


@app.route(route="items/special", methods=["GET"])
def special_item(req: func.HttpRequest) -> func.HttpResponse:
    return reply(fn="special_item")


@app.route(route="things/{key:guid}")
def thing_by_guid(req: func.HttpRequest) -> func.HttpResponse:
    return reply(fn="thing_by_guid", key=req.route_params["key"])


@app.route(route="things/{name:alpha}")
def thing_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return reply(fn="thing_by_name", name=req.route_params["name"])


@app.route(route="codes/{code:regex(^[a-z]{{3}}$)}")
def code(req: func.HttpRequest) -> func.HttpResponse:
    return reply(fn="code", code=req.route_params["code"])


@app.route(route="files/{*path}")
def files(req: func.HttpRequest) -> func.HttpResponse:
    return reply(fn="files", path=req.route_params.get("path"))


@app.route(methods=["GET"])
def plain(req: func.HttpRequest) -> str:
    return "plain text"


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("boom on purpose")


@app.route(route="settings")
def settings(req: func.HttpRequest) -> func.HttpResponse:
    return reply(greeting=os.environ.get("GREETING"),
                 storage_from_file=os.environ["AzureWebJobsStorage"] == "UseDevelopmentStorage=true")


@app.route(route="secure", auth_level=func.AuthLevel.FUNCTION)
def secure(req: func.HttpRequest) -> func.HttpResponse:
    return reply(fn="secure")


@app.route(route="async-hello")
async def async_hello(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0)
    return reply(fn="async_hello")


# --- queues ---------------------------------------------------------------------------------

@app.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="chain", queue_name="%CHAIN_QUEUE%", connection="AzureWebJobsStorage")
def work(msg: func.QueueMessage, chain: func.Out[str]) -> None:
    body = msg.get_body().decode()
    report("work", body=body, dequeue_count=msg.dequeue_count, id=msg.id,
           has_times=msg.insertion_time is not None and msg.expiration_time is not None)
    if body.startswith("chain:"):
        chain.set(body)


@app.queue_trigger(arg_name="text", queue_name="%CHAIN_QUEUE%", connection="")
async def chained(text: str) -> None:
    report("chained", body=text, kind=type(text).__name__)


@app.queue_trigger(arg_name="msg", queue_name="%FLAKY_QUEUE%", connection="AzureWebJobsStorage")
def flaky(msg: func.QueueMessage) -> None:
    report("flaky", body=msg.get_body().decode(), dequeue_count=msg.dequeue_count)
    if msg.dequeue_count < 3 and "always" not in msg.get_body().decode():
        raise ValueError(f"failing attempt {msg.dequeue_count} on purpose")
    if "always" in msg.get_body().decode():
        raise ValueError("always failing on purpose")


@app.queue_trigger(arg_name="msg", queue_name="%SLOW_QUEUE%", connection="AzureWebJobsStorage")
def slow(msg: func.QueueMessage) -> None:
    with _lock:
        _running["now"] += 1
        concurrent = _running["now"]
    if msg.get_body().startswith(b"long"):
        report("slow_started", body=msg.get_body().decode())
    time.sleep(4 if msg.get_body().startswith(b"long") else 0.4)
    with _lock:
        _running["now"] -= 1
    report("slow", body=msg.get_body().decode(), concurrent=concurrent, dequeue_count=msg.dequeue_count)


# --- timers ---------------------------------------------------------------------------------

@app.timer_trigger(arg_name="timer", schedule="%TICK_SCHEDULE%", use_monitor=True)
def tick(timer: func.TimerRequest) -> None:
    report("tick", past_due=timer.past_due, status=timer.schedule_status)


@app.timer_trigger(arg_name="timer", schedule="*/1 * * * * *", use_monitor=False)
def every_second(timer: func.TimerRequest) -> None:
    if os.environ.get("EVERY_SECOND_ON") == "1":
        report("every_second", past_due=timer.past_due)
