"""Queue trigger of the status collector: `jobs-outcomes` → collect_outcomes.

Async, with the blocking work on two threads of its own, so collectors queued behind one
job's writer lock never hold the worker threads the HTTP API needs (see dispatcher/blueprint.py).
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import azure.functions as func

from shared.bootstrap import services
from shared.messages import OutcomesReport
from shared.storage_names import OUTCOMES_QUEUE
from shared.triggers import decode_or_refuse

from status_collector.collecting import collect_outcomes

logger = logging.getLogger(__name__)

bp = func.Blueprint()

RESEND_DELAY_SECONDS = 30
MAX_RESENDS = 20  # about ten minutes of later tries, then poison after all


@bp.function_name("collect_outcomes")
@bp.queue_trigger(arg_name="message", queue_name=OUTCOMES_QUEUE, connection="AzureWebJobsStorage")
async def collect_outcomes_trigger(message: func.QueueMessage) -> None:
    report = decode_or_refuse(OutcomesReport, message.get_body(), OUTCOMES_QUEUE)
    if report is not None:
        await asyncio.get_running_loop().run_in_executor(_pool(), collect, report, message.dequeue_count or 1)


def collect(report: OutcomesReport, dequeue_count: int = 1) -> None:
    started, c = time.monotonic(), services().collaborators
    try:
        progress = collect_outcomes(report, c)
    except Exception as error:
        if dequeue_count < c.host.max_dequeue_count or report.resent >= MAX_RESENDS:
            raise  # the host delivers it again (or, at last, moves it to poison)
        # The last delivery failed too (Table storage out of reach, say): outcomes are what a
        # sender learned from a device, so keep them, and record them later.
        logger.warning("job %s: recording %d outcomes failed on the last delivery (%s); trying again in %d s",
                       report.job_id, len(report.outcomes), type(error).__name__, RESEND_DELAY_SECONDS)
        c.outcomes_queue.send(report.later().to_text(), delay_seconds=RESEND_DELAY_SECONDS)
        return
    logger.info("job %s: %d outcomes collected in %.0f ms; progress %s", report.job_id, len(report.outcomes),
                (time.monotonic() - started) * 1000, progress.as_dict() if progress else None)


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(2, thread_name_prefix="collector")
