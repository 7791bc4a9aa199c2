import copy
from dataclasses import replace
from datetime import timedelta

import pytest

from shared.domain.errors import IllegalTransition, InvalidField
from shared.domain.jobs import ALLOWED_ACTIONS, Job, JobAction, JobStatus
from shared.domain.limits import MAX_EXPLICIT_DEVICES, MAX_OPERATIONS_PER_JOB
from shared.domain.progress import Progress
from tests.unit.domain.conftest import NOW, make_operation

LATER = NOW + timedelta(minutes=5)
DONE_OK = Progress(total=2, completed=2)
DONE_WITH_FAILURE = Progress(total=2, completed=1, failed=1)


def job_in(status: JobStatus) -> Job:
    job = Job.draft("job-1", "name", "group-1", [make_operation()], NOW)
    job.status = status
    return job


USER_ACTIONS = {
    JobStatus.DRAFT: {"edit", "run", "copy", "delete"},
    JobStatus.PENDING: {"copy", "stop", "delete"},  # a wrong job can be stopped before planning ends
    JobStatus.RUNNING: {"copy", "stop"},
    JobStatus.STOPPED: {"copy", "resume", "delete"},
    JobStatus.COMPLETED: {"copy", "delete", "rerun"},
    JobStatus.FAILED: {"copy", "delete", "rerun"},
    JobStatus.CANCELLED: {"copy", "delete", "rerun"},
}
USER = {JobAction.EDIT, JobAction.RUN, JobAction.COPY, JobAction.DELETE, JobAction.STOP, JobAction.RESUME,
        JobAction.RERUN}


@pytest.mark.parametrize("status", list(JobStatus))
def test_each_state_allows_exactly_the_user_actions_of_the_design(status):
    allowed = {action.value for action in ALLOWED_ACTIONS[status] if action in USER}
    assert allowed == USER_ACTIONS[status]


@pytest.mark.parametrize("status", list(JobStatus))
@pytest.mark.parametrize("action", list(JobAction))
def test_require_raises_illegal_transition_for_every_refused_action(status, action):
    job = job_in(status)
    if action in ALLOWED_ACTIONS[status]:
        job.require(action)
    else:
        with pytest.raises(IllegalTransition) as raised:
            job.require(action)
        assert raised.value.status == status.value and raised.value.action == action.value


def test_a_draft_runs_to_pending_and_records_when():
    job = job_in(JobStatus.DRAFT)
    job.run(LATER)
    assert (job.status, job.started_at, job.last_modified) == (JobStatus.PENDING, LATER, LATER)


def test_running_a_job_twice_is_refused():
    job = job_in(JobStatus.DRAFT)
    job.run(LATER)
    with pytest.raises(IllegalTransition):
        job.run(LATER)


def test_stop_and_resume_go_back_and_forth():
    job = job_in(JobStatus.RUNNING)
    job.planned = True
    job.stop(LATER)
    assert job.status is JobStatus.STOPPED
    job.resume(LATER)
    assert job.status is JobStatus.RUNNING


def test_a_job_stopped_before_its_planning_finished_resumes_to_be_planned_again():
    job = job_in(JobStatus.PENDING)
    job.stop(LATER)
    assert job.status is JobStatus.STOPPED and not job.planned
    job.resume(LATER)
    assert job.status is JobStatus.PENDING
    job.start(LATER)
    assert job.status is JobStatus.RUNNING and job.planned


@pytest.mark.parametrize("status", [JobStatus.DRAFT, JobStatus.COMPLETED])
def test_stop_is_refused_unless_pending_or_running(status):
    with pytest.raises(IllegalTransition):
        job_in(status).stop(LATER)


@pytest.mark.parametrize("status", [JobStatus.DRAFT, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_resume_is_refused_unless_stopped_or_running(status):
    with pytest.raises(IllegalTransition):
        job_in(status).resume(LATER)


@pytest.mark.parametrize(("status", "act"), [(JobStatus.STOPPED, Job.stop), (JobStatus.RUNNING, Job.resume),
                                             (JobStatus.PENDING, Job.resume)])
def test_a_stop_or_resume_asked_again_changes_nothing(status, act):
    # Clients retry: a stop of a stopped job, a resume of a running one is done already.
    job = job_in(status)
    before = copy.deepcopy(job)
    act(job, LATER)
    assert job == before and job.last_modified == before.last_modified


def test_a_job_being_deleted_is_not_stopped_or_resumed_quietly():
    job = job_in(JobStatus.STOPPED)
    job.mark_deleting()
    with pytest.raises(IllegalTransition):
        job.stop(LATER)


@pytest.mark.parametrize(("progress", "ended"), [(DONE_OK, JobStatus.COMPLETED),
                                                 (DONE_WITH_FAILURE, JobStatus.FAILED),
                                                 (Progress(), JobStatus.COMPLETED)])
@pytest.mark.parametrize("status", [JobStatus.PENDING, JobStatus.RUNNING, JobStatus.STOPPED])
def test_finish_applies_the_end_rule(status, progress, ended):
    job = job_in(status)
    job.finish(progress, LATER)
    assert (job.status, job.ended_at) == (ended, LATER)


def test_finish_is_refused_while_devices_remain():
    with pytest.raises(IllegalTransition):
        job_in(JobStatus.RUNNING).finish(Progress(total=2, pending=1, completed=1), LATER)


def test_fail_keeps_the_reason():
    job = job_in(JobStatus.PENDING)
    job.fail("The device group is corrupted.", LATER)
    assert (job.status, job.reason, job.ended_at) == (JobStatus.FAILED, "The device group is corrupted.", LATER)


def test_cancel_only_while_devices_may_still_report():
    for status in (JobStatus.RUNNING, JobStatus.STOPPED):  # a stopped job's last devices still report
        job = job_in(status)
        job.cancel("threshold", LATER)
        assert (job.status, job.ended_at, job.reason) == (JobStatus.CANCELLED, LATER, "threshold")
    for status in (JobStatus.DRAFT, JobStatus.PENDING, JobStatus.COMPLETED):
        with pytest.raises(IllegalTransition):
            job_in(status).cancel("threshold", LATER)


@pytest.mark.parametrize("threshold, failed, total, crossed", [
    ({"type": "number", "value": 3}, 3, 100, False),
    ({"type": "number", "value": 3}, 4, 100, True),
    ({"type": "number", "value": 0}, 1, 100, True),
    ({"type": "percentage", "value": 5}, 5, 100, False),
    ({"type": "percentage", "value": 5}, 6, 100, True),
    ({"type": "percentage", "value": 2.5}, 1, 30, True),
    ({"type": "number", "value": 3, "batch": True}, 50, 100, False),  # per batch: batches are not carried out
    (None, 100, 100, False),
])
def test_the_cancellation_threshold_counts_failed_devices_of_the_whole_job(threshold, failed, total, crossed):
    job = job_in(JobStatus.RUNNING)
    job.cancellation_threshold = threshold
    reason = job.threshold_crossed(Progress(total=total, failed=failed, completed=total - failed))
    assert (reason is not None) == crossed
    if crossed:
        assert f"{failed} devices failed" in reason


def test_copy_is_a_new_draft_named_copy_and_leaves_the_source_alone():
    source = job_in(JobStatus.COMPLETED)
    source.ended_at, source.reason, source.etag = NOW, "x", "etag"
    copied = source.copy("job-2", LATER)
    assert (copied.id, copied.display_name, copied.status) == ("job-2", "name Copy", JobStatus.DRAFT)
    assert (copied.created_at, copied.started_at, copied.ended_at, copied.reason, copied.etag) == (
        LATER, None, None, None, None)
    assert copied.operations == source.operations and source.status is JobStatus.COMPLETED


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_a_rerun_is_a_new_draft_of_the_same_operations_pointing_at_its_source(status):
    source = job_in(status)
    source.devices, source.ended_at, source.reason, source.etag = ("d1", "d2"), NOW, "x", "etag"
    rerun = source.rerun("job-2", LATER)
    assert (rerun.id, rerun.status, rerun.rerun_of, rerun.devices) == ("job-2", JobStatus.DRAFT, source.id, None)
    assert (rerun.created_at, rerun.started_at, rerun.ended_at, rerun.reason, rerun.etag) == (
        LATER, None, None, None, None)
    assert rerun.operations == source.operations and rerun.display_name == source.display_name
    assert rerun.copy("job-3", LATER).rerun_of is None  # a copy targets the group again


@pytest.mark.parametrize("status", [JobStatus.DRAFT, JobStatus.PENDING, JobStatus.RUNNING, JobStatus.STOPPED])
def test_only_an_ended_job_can_be_rerun(status):
    with pytest.raises(IllegalTransition):
        job_in(status).rerun("job-2", LATER)


def test_edit_changes_a_draft_and_validates():
    job = job_in(JobStatus.DRAFT)
    job.edit(LATER, display_name="renamed", devices=["d1", "d2"])
    assert (job.display_name, job.devices, job.last_modified) == ("renamed", ("d1", "d2"), LATER)
    with pytest.raises(InvalidField) as raised:
        job.edit(LATER, operations=[])
    assert raised.value.field == "data"


def test_edit_refuses_other_states_and_read_only_fields():
    with pytest.raises(IllegalTransition):
        job_in(JobStatus.RUNNING).edit(LATER, display_name="x")
    with pytest.raises(InvalidField):
        job_in(JobStatus.DRAFT).edit(LATER, status=JobStatus.RUNNING)


@pytest.mark.parametrize(("changes", "field"), [
    ({"id": "has space"}, "id"), ({"id": ""}, "id"), ({"id": "x" * 256}, "id"),
    ({"display_name": ""}, "displayName"), ({"group_id": "a/b"}, "group"),
    ({"operations": (make_operation(),) * (MAX_OPERATIONS_PER_JOB + 1)}, "data"),
    ({"devices": ()}, "devices"), ({"devices": ("ok", "bad/id")}, "devices[1]"),
    ({"devices": ("a", "a")}, "devices"),
    ({"devices": tuple(f"d{i}" for i in range(MAX_EXPLICIT_DEVICES + 1))}, "devices"),
])
def test_validation_names_the_field(draft, changes, field):
    with pytest.raises(InvalidField) as raised:
        replace(draft, **changes).validated()
    assert raised.value.field == field


def test_ids_as_iot_central_allows_them(draft):
    replace(draft, id="A-b_9" + "x" * 250).validated()


@pytest.mark.parametrize(("status", "anchor"), [
    (JobStatus.DRAFT, "last_modified"), (JobStatus.STOPPED, "last_modified"),
    (JobStatus.COMPLETED, "ended_at"), (JobStatus.PENDING, None), (JobStatus.RUNNING, None)])
def test_retention_counts_from_the_end_or_the_last_change(status, anchor):
    job = job_in(status)
    job.ended_at, job.last_modified = NOW, LATER
    assert job.retention_anchor == (getattr(job, anchor) if anchor else None)
