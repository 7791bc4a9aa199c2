"""Timer trigger for job history retention: daily (JOB_HISTORY_PURGE_SCHEDULE, 03:00 UTC deployed).

Run it by hand with `POST /admin/functions/purge_job_history` and body `{"input": ""}`.
"""

import azure.functions as func

from retention.purge import purge_job_history
from shared.bootstrap import dependencies
from shared.clock import utc_now
from shared.job_archive import JobArchive
from shared.repositories import JobDeviceRepository, JobRepository, ensure_tables

bp = func.Blueprint()


@bp.function_name("purge_job_history")
@bp.timer_trigger(arg_name="timer", schedule="%JOB_HISTORY_PURGE_SCHEDULE%", use_monitor=True)
def purge_job_history_on_schedule(timer: func.TimerRequest) -> None:
    connections = dependencies()
    ensure_tables(connections.tables)
    archive = JobArchive.in_blob_storage(connections.blobs)
    archive.ensure_container()
    purge_job_history(utc_now(), jobs=JobRepository(connections.tables),
                      job_devices=JobDeviceRepository(connections.tables), archive=archive,
                      retention_days=connections.settings.job_history_retention_days)
