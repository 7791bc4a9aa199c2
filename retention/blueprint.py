"""Timer trigger for retention: daily (JOB_HISTORY_PURGE_SCHEDULE, 03:00 UTC deployed), the audit
log's old entries, then the job history.

Run it by hand with `POST /admin/functions/purge_job_history` and body `{"input": ""}`.
"""

import azure.functions as func

from retention.audit import purge_audit_log
from retention.purge import purge_job_history
from shared.bootstrap import services

bp = func.Blueprint()


@bp.function_name("purge_job_history")
@bp.timer_trigger(arg_name="timer", schedule="%JOB_HISTORY_PURGE_SCHEDULE%", use_monitor=True)
def purge_job_history_on_schedule(timer: func.TimerRequest) -> None:
    collaborators = services().collaborators
    try:
        purge_audit_log(collaborators)
    finally:  # the job history is purged even when the audit log could not be
        purge_job_history(collaborators)
