"""A resume racing the retention purge, retention at 0 days: either the resume
wins (204, and the job lives on, unarchived) or the purge does (409, the job is gone and its archive
shows it stopped), never both: a resume answered 204 for a job then archived and deleted as stopped.

The stack is this module's own (separate processes): with 0 days, every ended or stopped job in
its storage is purged. The resume is sent at three moments of the purge, each seen from outside:
as it starts, once the job's archive is recorded (racing the purge's check and claim of the job),
and once the archive is final and the job's 1,000 device rows are being deleted."""
from __future__ import annotations

from collections import Counter

import pytest
from azure.storage.blob import BlobServiceClient

from local.harness import Stack
from local.waiting import wait_for
from shared.job_archive import PURGING, JobArchive
from tests.e2e.pipeline.conftest import Jobs

FUNCTION = "purge_job_history"
VENDING_CONNECTED = "SELECT * FROM devices WHERE tags.type = 'vending' AND connectionState = 'Connected'"
MOMENTS = ("purge started", "archive recorded", "rows being deleted")
TRIES_PER_MOMENT = 3


@pytest.fixture(scope="module")
def stack():
    stack = Stack()
    # The timer never fires by itself here (1 January only): every run is the test's.
    stack.host.start(JOB_HISTORY_RETENTION_DAYS="0", JOB_HISTORY_PURGE_SCHEDULE="0 0 3 1 1 *")
    yield stack
    stack.close()


@pytest.fixture(scope="module")
def archive(stack) -> JobArchive:
    return JobArchive.in_blob_storage(BlobServiceClient.from_connection_string(stack.azurite.connection_string))


@pytest.fixture
def jobs(stack) -> Jobs:
    stack.hub.control.reset()
    stack.hub.control.set_fleet_behaviour(failure_probability=0, latency="fixed:50")
    return Jobs(stack)


def purges_finished(stack: Stack) -> Counter:
    log = stack.host.log_path.read_text(errors="replace")
    return Counter({outcome: log.count(f"Executed 'Functions.{FUNCTION}' ({outcome}")
                    for outcome in ("Succeeded", "Failed")})


def stopped_job(jobs: Jobs, group_id: str) -> tuple[str, bytes]:
    """A command job stopped with devices left to do, once its devices in flight have answered;
    with its report as the API gives it then."""
    job_id = jobs.start(group_id, [{"type": "command", "path": "echo", "value": "resumed?"}])
    wait_for(lambda: jobs.get(job_id)["progress"]["completed"] >= 20, timeout=60, interval=0.1,
             what=f"devices of {job_id} done")
    assert jobs.action(job_id, "stop").status_code == 204
    job = wait_for(lambda: (job := jobs.get(job_id))["progress"]["running"] == 0 and job, timeout=60,
                   interval=0.2, what=f"devices of {job_id} in flight to answer")
    assert job["status"] == "stopped" and job["progress"]["pending"] > 0, job
    return job_id, jobs.api.get(f"jobs/{job_id}/report.csv").content


def resume_at(moment: str, jobs: Jobs, archive: JobArchive, job_id: str):
    if moment == "archive recorded":
        wait_for(lambda: archive.find(job_id), timeout=60, interval=0.01, what=f"the archive of {job_id}")
    elif moment == "rows being deleted":
        wait_for(lambda: (entry := archive.find(job_id)) and entry.state == PURGING, timeout=60, interval=0.01,
                 what=f"the archive of {job_id} to be final")
    return jobs.action(job_id, "resume")


def assert_resume_won(jobs: Jobs, archive: JobArchive, job_id: str) -> None:
    after = jobs.api.get(f"jobs/{job_id}")
    assert after.status_code == 200, f"resume answered 204, then the job was purged: {after.text}"
    assert after.json()["status"] in ("pending", "running", "completed"), after.json()
    assert archive.find(job_id) is None
    ended = jobs.wait_ended(job_id, timeout=120)
    assert ended["status"] == "completed" and ended["progress"]["completed"] == ended["progress"]["total"], ended
    assert jobs.api.delete(f"jobs/{job_id}").status_code == 204  # so the next purge has only its own job


def assert_purge_won(resume, jobs: Jobs, job_id: str, report: bytes) -> None:
    assert resume.status_code == 409, resume.text
    assert resume.json()["error"]["code"] == "InvalidJobState", resume.text
    gone = jobs.api.get(f"jobs/{job_id}")
    assert gone.status_code == 404, gone.text
    pointer = gone.json()["error"]["details"][0]
    assert pointer["code"] == "JobArchived" and pointer["target"] == jobs.api.url(f"history/{job_id}/report.csv")
    archived = jobs.api.get(f"history/{job_id}/report.csv").content
    assert archived == report and b"\r\nStatus,stopped\r\n" in archived


def test_a_resume_during_the_purge_either_wins_or_is_refused_never_answered_for_a_job_purged_as_stopped(
        stack, jobs, archive):
    group_id = jobs.group(VENDING_CONNECTED)
    outcomes: Counter = Counter()
    for moment in MOMENTS:
        for _ in range(TRIES_PER_MOMENT):
            job_id, report = stopped_job(jobs, group_id)
            finished = purges_finished(stack)
            started = jobs.api.session.post(f"{stack.host.base_url}/admin/functions/{FUNCTION}", json={"input": ""},
                                            timeout=30)
            assert started.status_code == 202, started.text

            resume = resume_at(moment, jobs, archive, job_id)

            wait_for(lambda: sum(purges_finished(stack).values()) > sum(finished.values()), timeout=120,
                     what="the purge to finish")
            assert purges_finished(stack)["Failed"] == finished["Failed"], stack.host.log_path
            assert resume.status_code in (204, 409), resume.text
            if resume.status_code == 204:
                assert_resume_won(jobs, archive, job_id)
            else:
                assert_purge_won(resume, jobs, job_id, report)
            outcomes[moment, resume.status_code] += 1
    print(f"\nresume during the purge, {len(MOMENTS) * TRIES_PER_MOMENT} tries: {dict(outcomes)}")
    assert outcomes["rows being deleted", 409] == TRIES_PER_MOMENT  # the purge decided: no resume now
