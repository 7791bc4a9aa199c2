"""Timer trigger for job history retention: daily (JOB_HISTORY_PURGE_SCHEDULE, 03:00 UTC deployed).

Run it by hand with `POST /admin/functions/purge_job_history` and body `{"input": ""}`.
"""

import azure.functions as func

from retention.purge import purge_job_history
from shared.bootstrap import services

bp = func.Blueprint()


@bp.function_name("purge_job_history")
@bp.timer_trigger(arg_name="timer", schedule="%JOB_HISTORY_PURGE_SCHEDULE%", use_monitor=True)
def purge_job_history_on_schedule(timer: func.TimerRequest) -> None:
    purge_job_history(services().collaborators)
