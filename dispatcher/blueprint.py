"""Queue triggers of the dispatcher: `jobs-plan` → plan_job, `jobs-dispatch` → send_batch; and
the scheduler's timer (SCHEDULED_JOBS_TIMER_SCHEDULE) → start_due_runs.
Thin: decode the message, call the plain function with the process's collaborators.

The triggers are async and run the blocking work on a small pool of their own: a sender waits
seconds for its devices, and as a sync function it would hold one of the worker's threads,
which it shares with the HTTP API, all that time (measured: with 16 batches in flight the API
answered a GET after 10 s). A few senders at once keep the device pool busy.
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial

import azure.functions as func

from shared.bootstrap import services
from shared.collaborators import Collaborators
from shared.messages import DispatchRequest, PlanKind, PlanRequest
from shared.storage_names import DISPATCH_QUEUE, PLAN_QUEUE
from shared.triggers import decode_or_refuse

from dispatcher.planning import fail_planning, plan_job
from dispatcher.scheduling import start_due_runs
from dispatcher.sending import send_batch

logger = logging.getLogger(__name__)

bp = func.Blueprint()

STAGE_THREADS = 4  # planners and senders running at once in one process
MAX_RESENDS = 20  # a message that keeps failing after this many later tries goes to poison after all


def collaborators() -> Collaborators:
    return services().collaborators


@lru_cache(maxsize=1)
def _stage_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(STAGE_THREADS, thread_name_prefix="dispatcher")


async def _in_stage_pool(function, *args, **kwargs):
    return await asyncio.get_running_loop().run_in_executor(_stage_pool(), partial(function, *args, **kwargs))


@bp.function_name("plan_job")
@bp.queue_trigger(arg_name="message", queue_name=PLAN_QUEUE, connection="AzureWebJobsStorage")
async def plan_job_trigger(message: func.QueueMessage) -> None:
    request = decode_or_refuse(PlanRequest, message.get_body(), PLAN_QUEUE)
    if request is not None:
        await _in_stage_pool(plan_with_last_resort, request, message.dequeue_count or 0)


def plan_with_last_resort(request: PlanRequest, dequeue_count: int) -> None:
    c = collaborators()
    try:
        plan_job(request, c)
    except Exception as error:
        if request.kind is PlanKind.WATCH and request.resent < MAX_RESENDS:
            # The watchdog must outlive an outage that makes plan messages fail until the host
            # gives up on them: its look is taken again later instead of being redelivered.
            logger.warning("job %s: the watchdog's look failed (%s); looking again later", request.job_id, error)
            c.plan_queue.send(request.later().to_text(), delay_seconds=c.settings.dispatch_stall_seconds)
            return
        if dequeue_count < c.host.max_dequeue_count:
            raise  # the host delivers it again
        logger.exception("planning job %s failed on its last delivery", request.job_id)
        fail_planning(request, error, c)


@bp.function_name("send_batch")
@bp.queue_trigger(arg_name="message", queue_name=DISPATCH_QUEUE, connection="AzureWebJobsStorage")
async def send_batch_trigger(message: func.QueueMessage) -> None:
    invoked_at = time.monotonic()  # the host's functionTimeout counts from here, waiting for a thread included
    request = decode_or_refuse(DispatchRequest, message.get_body(), DISPATCH_QUEUE)
    if request is not None:
        await _in_stage_pool(send_and_log, request, redelivered=(message.dequeue_count or 1) > 1,
                             delivery_id=message.id, invoked_at=invoked_at)


def send_and_log(request: DispatchRequest, redelivered: bool, delivery_id: str | None = None,
                 invoked_at: float | None = None) -> None:
    started = time.monotonic()
    result = send_batch(request, collaborators(), redelivered=redelivered, delivery_id=delivery_id,
                        invoked_at=invoked_at)
    logger.info("job %s batch %s..%s: %s in %.0f ms", request.job_id, request.first_device_id,
                request.last_device_id, result, (time.monotonic() - started) * 1000)


# No monitor: a tick that was missed is made good by the next one (the grace period), not by a
# past-due run of the timer.
@bp.function_name("start_scheduled_jobs")
@bp.timer_trigger(arg_name="timer", schedule="%SCHEDULED_JOBS_TIMER_SCHEDULE%", use_monitor=False)
async def start_scheduled_jobs(timer: func.TimerRequest) -> None:
    result = await _in_stage_pool(start_due_runs, collaborators())
    if result.started or result.missed or result.deferred:
        logger.info("scheduler: started %s, missed %d, left for the next tick %s", list(result.started),
                    result.missed, list(result.deferred))
