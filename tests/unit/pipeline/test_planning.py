from shared.domain.devices import DeviceErrorCode, DeviceOutcome, DeviceStatus
from shared.domain.groups import DeviceGroup
from shared.domain.jobs import JobStatus
from shared.hub_gateway import HubFailure
from shared.messages import DispatchRequest, OutcomesReport, PlanKind, PlanRequest

from dispatcher.dead_sender_rule import sender_lease
from dispatcher.planning import EMPTY_GROUP_REASON, PLANNING_STALLED_REASON, plan_job
from status_collector.collecting import collect_outcomes
from tests.unit.pipeline.conftest import (MODEL, START, add_devices, command_op, pending_job, property_op, run_job,
                                         run_until_quiet)


def statuses(p, job_id="job-1"):
    return {row.device_id: row.status for row in p.c.job_devices.iter_devices(job_id)}


class TestPlan:
    def test_writes_a_pending_row_per_device_then_one_dispatch_per_98_consecutive_devices(self, pipeline):
        ids = add_devices(pipeline.hub, 250)
        pending_job(pipeline, [property_op()])
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        assert pipeline.c.jobs.get("job-1").status is JobStatus.RUNNING
        assert pipeline.c.job_devices.get_progress("job-1").as_dict() == {
            "total": 250, "pending": 250, "running": 0, "completed": 0, "failed": 0}
        batches = pipeline.dispatch_queue.take(DispatchRequest)
        assert [b.size for b in batches] == [98, 98, 54]
        assert (batches[0].first_device_id, batches[-1].last_device_id) == (ids[0], ids[-1])
        assert all(a.last_device_id < b.first_device_id for a, b in zip(batches, batches[1:]))

    def test_a_group_that_takes_too_long_continues_in_a_new_message(self, pipeline):
        add_devices(pipeline.hub, 350)
        pending_job(pipeline, [property_op()])
        original_query = pipeline.hub.query_devices

        def slow_query(*args):
            pipeline.clock.seconds += 25  # three pages pass the 60 s budget
            return original_query(*args)

        pipeline.hub.query_devices = slow_query
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        follow_up = pipeline.plan_queue.take(PlanRequest)
        assert [(r.continuation, r.kind) for r in follow_up] == [("294", PlanKind.CONTINUE)]
        assert pipeline.c.job_devices.get_progress("job-1").total == 294
        assert pipeline.dispatch_queue.sent == [] and pipeline.c.jobs.get("job-1").status is JobStatus.PENDING
        plan_job(follow_up[0], pipeline.c)
        assert pipeline.c.job_devices.get_progress("job-1").total == 350
        assert sum(b.size for b in pipeline.dispatch_queue.take(DispatchRequest)) == 350

    def test_the_dispatch_messages_of_a_large_group_continue_in_a_new_message(self, pipeline):
        ids = add_devices(pipeline.hub, 250)
        pending_job(pipeline, [property_op()])
        original_send = pipeline.dispatch_queue.send

        def slow_send(*args, **kwargs):
            pipeline.clock.seconds += 40  # the second batch passes the 60 s budget
            original_send(*args, **kwargs)

        pipeline.dispatch_queue.send = slow_send
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        first = pipeline.dispatch_queue.take(DispatchRequest)
        follow_up = [request for request in pipeline.plan_queue.take(PlanRequest) if request.kind is not PlanKind.WATCH]

        assert [b.size for b in first] == [98, 98]
        assert [(r.after, r.kind) for r in follow_up] == [(first[-1].last_device_id, PlanKind.DISPATCH_MORE)]
        plan_job(follow_up[0], pipeline.c)
        rest = pipeline.dispatch_queue.take(DispatchRequest)
        assert [(b.first_device_id, b.last_device_id, b.size) for b in rest] == [(ids[196], ids[-1], 54)]
        assert pipeline.plan_queue.take(PlanRequest) == [] and pipeline.outcomes_queue.sent == []
        for request in first + rest:  # delivered: every device is done once
            original_send(request.to_text())
        run_until_quiet(pipeline)
        assert set(statuses(pipeline).values()) == {DeviceStatus.COMPLETED}
        assert sorted(call[1] for call in pipeline.hub.calls) == ids  # each device once

    def test_a_replayed_plan_message_adds_nothing(self, pipeline):
        add_devices(pipeline.hub, 120)
        pending_job(pipeline, [property_op()])
        pipeline.c.job_devices.add_pending("job-1", [f"dev-{i:05d}" for i in range(100)], pipeline.clock())
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        assert pipeline.c.job_devices.get_progress("job-1").total == 120

    def test_an_empty_group_completes_the_job_at_once_with_the_reason(self, pipeline):
        pending_job(pipeline, [property_op()])
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        job = pipeline.c.jobs.get("job-1")
        assert (job.status, job.reason) == (JobStatus.COMPLETED, EMPTY_GROUP_REASON)
        assert job.ended_at is not None and pipeline.dispatch_queue.sent == []

    def test_a_deleted_group_fails_the_job(self, pipeline):
        pending_job(pipeline, [property_op()])
        pipeline.c.groups.delete("vending")
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        job = pipeline.c.jobs.get("job-1")
        assert job.status is JobStatus.FAILED and "no longer exists" in job.reason

    def test_a_group_whose_query_the_hub_refuses_fails_the_job_with_the_reason(self, pipeline):
        pending_job(pipeline, [property_op()])
        pipeline.hub.query_failure = HubFailure("InvalidQuery", "the query is not valid", 400)
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        job = pipeline.c.jobs.get("job-1")
        assert job.status is JobStatus.FAILED and "corrupted" in job.reason and "not valid" in job.reason

    def test_a_group_whose_filter_no_longer_translates_fails_the_job(self, pipeline):
        pipeline.c.groups._groups["vending"] = DeviceGroup("vending", "V", "SELECT * FROM devices WHERE $ts > 1")
        pending_job(pipeline, [property_op()])
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        assert pipeline.c.jobs.get("job-1").status is JobStatus.FAILED

    def test_edge_devices_and_other_models_fail_when_planned_and_are_never_sent(self, pipeline):
        add_devices(pipeline.hub, 3)
        pipeline.hub.add("edge-1", is_edge=True)
        pipeline.hub.add("kiosk-1", model_id=None)
        pending_job(pipeline, [property_op(target=MODEL)])
        run_job(pipeline)
        rows = {row.device_id: row for row in pipeline.c.job_devices.iter_devices("job-1")}
        assert rows["edge-1"].error_code is DeviceErrorCode.EDGE_NOT_SUPPORTED
        assert rows["kiosk-1"].error_code is DeviceErrorCode.MODEL_MISMATCH
        assert "not set" in rows["kiosk-1"].error_message and MODEL in rows["kiosk-1"].error_message
        assert not pipeline.hub.calls_to("edge-1") and not pipeline.hub.calls_to("kiosk-1")
        assert pipeline.c.jobs.get("job-1").status is JobStatus.FAILED
        assert pipeline.c.job_devices.get_progress("job-1").completed == 3

    def test_a_job_of_only_refused_devices_still_ends(self, pipeline):
        pipeline.hub.add("edge-1", is_edge=True)
        pending_job(pipeline, [property_op()])
        run_job(pipeline)
        assert pipeline.c.jobs.get("job-1").status is JobStatus.FAILED

    def test_an_explicit_subset_targets_only_its_devices(self, pipeline):
        add_devices(pipeline.hub, 200)
        subset = tuple(f"dev-{i:05d}" for i in range(0, 200, 3))
        pending_job(pipeline, [property_op()], devices=subset)
        run_job(pipeline)
        assert set(statuses(pipeline)) == set(subset)
        assert {call[1] for call in pipeline.hub.calls} == set(subset)
        assert all("deviceId IN" in query for query in pipeline.hub.queries)


class TestResume:
    def _stopped_with_leftovers(self, pipeline, operations):
        add_devices(pipeline.hub, 10)
        pending_job(pipeline, operations)
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        pipeline.dispatch_queue.take(DispatchRequest)
        batch = DispatchRequest(job_id="job-1", incarnation="", first_device_id="dev-00000", last_device_id="dev-00003", size=4)
        pipeline.c.job_devices.claim("job-1", batch.batch, pipeline.clock())  # a sender that then died
        pipeline.clock.now += sender_lease(pipeline.c.host)  # longer ago than any live sender holds a row
        job = pipeline.c.jobs.get("job-1")
        job.stop(pipeline.clock())
        job.resume(pipeline.clock())
        pipeline.c.jobs.update(job)

    def test_property_jobs_release_leftover_running_devices_and_send_them_again(self, pipeline):
        self._stopped_with_leftovers(pipeline, [property_op()])
        plan_job(PlanRequest.resume(pipeline.c.jobs.get("job-1")), pipeline.c)
        assert set(statuses(pipeline).values()) == {DeviceStatus.PENDING}
        run_until_quiet(pipeline)
        assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED
        assert len(pipeline.hub.calls) == 10

    def test_command_jobs_fail_leftover_running_devices_as_outcome_unknown_and_never_resend(self, pipeline):
        self._stopped_with_leftovers(pipeline, [command_op()])
        plan_job(PlanRequest.resume(pipeline.c.jobs.get("job-1")), pipeline.c)
        run_until_quiet(pipeline)
        rows = {row.device_id: row for row in pipeline.c.job_devices.iter_devices("job-1")}
        unknown = {d for d, row in rows.items() if row.error_code is DeviceErrorCode.OUTCOME_UNKNOWN}
        assert unknown == {f"dev-{i:05d}" for i in range(4)}
        assert {call[1] for call in pipeline.hub.calls} == set(rows) - unknown
        assert pipeline.c.job_devices.get_progress("job-1").as_dict() == {
            "total": 10, "pending": 0, "running": 0, "completed": 6, "failed": 4}
        assert pipeline.c.jobs.get("job-1").status is JobStatus.FAILED

    def test_a_resume_leaves_rows_claimed_moments_ago_to_their_sender(self, pipeline):
        add_devices(pipeline.hub, 10)
        pending_job(pipeline, [command_op()])
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        (batch,) = pipeline.dispatch_queue.take(DispatchRequest)
        sub = DispatchRequest(job_id="job-1", incarnation="", first_device_id="dev-00000", last_device_id="dev-00003", size=4)
        pipeline.c.job_devices.claim("job-1", sub.batch, pipeline.clock())  # a live sender, still at work
        job = pipeline.c.jobs.get("job-1")
        job.stop(pipeline.clock())
        job.resume(pipeline.clock())
        pipeline.c.jobs.update(job)

        plan_job(PlanRequest.resume(pipeline.c.jobs.get("job-1")), pipeline.c)

        assert pipeline.outcomes_queue.sent == []  # nothing failed as OutcomeUnknown
        assert pipeline.c.job_devices.get_progress("job-1").running == 4
        collect_outcomes(OutcomesReport.split(pipeline.c.jobs.get("job-1"), [DeviceOutcome.success(f"dev-{i:05d}") for i in range(4)])[0],
                         pipeline.c)  # the sender finishes
        run_until_quiet(pipeline)
        assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED
        assert sorted(call[1] for call in pipeline.hub.calls) == [f"dev-{i:05d}" for i in range(4, 10)]

    def test_a_resume_message_for_a_job_stopped_again_does_nothing(self, pipeline):
        self._stopped_with_leftovers(pipeline, [property_op()])
        job = pipeline.c.jobs.get("job-1")
        job.stop(pipeline.clock())
        pipeline.c.jobs.update(job)
        plan_job(PlanRequest.resume(pipeline.c.jobs.get("job-1")), pipeline.c)
        assert pipeline.dispatch_queue.sent == [] and pipeline.outcomes_queue.sent == []


class TestWatch:
    def test_a_job_whose_counters_do_not_move_is_recovered(self, pipeline):
        add_devices(pipeline.hub, 5)
        pending_job(pipeline, [command_op()])
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        lost = pipeline.dispatch_queue.take(DispatchRequest)[0]  # its dispatch message is stuck somewhere
        pipeline.c.job_devices.claim("job-1", lost.batch, pipeline.clock())
        (watch, delay), = [(PlanRequest.from_text(t), d) for t, d in pipeline.plan_queue.sent]
        pipeline.plan_queue.sent.clear()
        assert watch.kind is PlanKind.WATCH and delay == 30 and watch.progress is None
        plan_job(watch, pipeline.c)  # first look: remembers the counters
        (second,) = pipeline.plan_queue.take(PlanRequest)
        assert second.progress["running"] == 5 and pipeline.outcomes_queue.sent == []
        plan_job(second, pipeline.c)  # nothing moved: recover
        reports = pipeline.outcomes_queue.take(OutcomesReport)
        assert sum(len(r.outcomes) for r in reports) == 5
        assert all(o.error_code is DeviceErrorCode.OUTCOME_UNKNOWN for r in reports for o in r.outcomes)

    def test_the_chain_ends_when_the_job_is_stopped(self, pipeline):
        add_devices(pipeline.hub, 5)
        pending_job(pipeline, [property_op()])
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)
        (watch,) = [r for r in pipeline.plan_queue.take(PlanRequest) if r.kind is PlanKind.WATCH]
        job = pipeline.c.jobs.get("job-1")
        job.stop(pipeline.clock())
        pipeline.c.jobs.update(job)
        plan_job(watch, pipeline.c)
        assert pipeline.plan_queue.sent == []

    def test_a_pending_job_whose_planning_never_ran_is_planned_again_then_fails(self, pipeline):
        add_devices(pipeline.hub, 5)
        job = pending_job(pipeline, [property_op()])
        first_look = PlanRequest.watch(job, pipeline.c.job_devices.planning_state("job-1"))  # as the API sends it
        plan_job(first_look, pipeline.c)  # the plan messages failed until the host gave up on them
        queued = pipeline.plan_queue.take(PlanRequest)
        assert [r.kind for r in queued] == [PlanKind.PLAN, PlanKind.WATCH] and queued[1].replanned
        plan_job(queued[1], pipeline.c)  # the second plan message failed too
        stuck = pipeline.c.jobs.get("job-1")
        assert stuck.status is JobStatus.FAILED and stuck.reason == PLANNING_STALLED_REASON
        assert pipeline.dispatch_queue.sent == [] and pipeline.hub.calls == []

    def test_a_pending_job_planned_again_by_its_watchdog_runs(self, pipeline):
        ids = add_devices(pipeline.hub, 5)
        job = pending_job(pipeline, [property_op()])
        plan_job(PlanRequest.watch(job, pipeline.c.job_devices.planning_state("job-1")), pipeline.c)
        run_until_quiet(pipeline)  # the second plan message runs
        assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED
        assert sorted(call[1] for call in pipeline.hub.calls) == ids

    def test_a_pending_job_whose_planning_moves_is_left_to_it(self, pipeline):
        job = pending_job(pipeline, [property_op()])
        first_look = PlanRequest.watch(job, pipeline.c.job_devices.planning_state("job-1"))
        pipeline.c.job_devices.add_pending("job-1", ["dev-00000"], START)  # a page planned since the last look
        plan_job(first_look, pipeline.c)
        (watch,) = pipeline.plan_queue.take(PlanRequest)
        assert watch.kind is PlanKind.WATCH and not watch.replanned and watch.progress["total"] == 1


class TestStoppedWhilePlanning:
    def test_a_job_stopped_while_pending_is_planned_anew_when_resumed(self, pipeline):
        ids = add_devices(pipeline.hub, 150)
        job = pending_job(pipeline, [property_op()])
        job.stop(START)
        pipeline.c.jobs.update(job)
        pipeline.c.job_devices.add_pending("job-1", ids[:40], START)  # what its planner wrote before it stopped
        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-1")), pipeline.c)  # a plan message seen after the stop
        assert pipeline.dispatch_queue.sent == [] and pipeline.c.job_devices.get_progress("job-1").total == 40

        job = pipeline.c.jobs.get("job-1")
        job.resume(START)
        pipeline.c.jobs.update(job)
        assert job.status is JobStatus.PENDING
        pipeline.plan_queue.send(PlanRequest.resume(job).to_text())
        run_until_quiet(pipeline)
        assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED
        assert sorted(call[1] for call in pipeline.hub.calls) == ids  # each device once


class TestRerun:
    def _failed_source(self, pipeline, count=120):
        ids = add_devices(pipeline.hub, count)
        failing = set(ids[::2])  # more than one hub query's worth of ids
        pipeline.hub.failures = {device_id: HubFailure(DeviceErrorCode.DEVICE_NOT_ONLINE, "offline", 404)
                                 for device_id in failing}
        pending_job(pipeline, [command_op()])
        run_job(pipeline)
        pipeline.hub.failures, pipeline.hub.calls = {}, []
        return pipeline.c.jobs.get("job-1"), failing

    def _run_rerun(self, pipeline, source):
        rerun = source.rerun("job-2", START)
        rerun.run(START)
        pipeline.c.jobs.add(rerun)
        run_job(pipeline, "job-2")
        return pipeline.c.jobs.get("job-2")

    def test_a_rerun_sends_only_to_the_devices_that_failed_in_its_source(self, pipeline):
        source, failing = self._failed_source(pipeline)
        assert source.status is JobStatus.FAILED

        rerun = self._run_rerun(pipeline, source)

        assert rerun.status is JobStatus.COMPLETED and rerun.rerun_of == "job-1"
        assert set(statuses(pipeline, "job-2")) == failing
        assert sorted(call[1] for call in pipeline.hub.calls) == sorted(failing)  # each exactly once
        assert pipeline.c.job_devices.get_progress("job-2").completed == len(failing)
        assert all("deviceId IN" in query for query in pipeline.hub.queries[-2:])

    def test_a_rerun_continues_after_its_last_planned_device_in_a_new_message(self, pipeline):
        source, failing = self._failed_source(pipeline)
        rerun = source.rerun("job-2", START)
        rerun.run(START)
        pipeline.c.jobs.add(rerun)
        # hand over after every page
        slow = pipeline.with_changes(settings=pipeline.c.settings.model_copy(update={"plan_seconds_per_invocation": 0}))

        plan_job(PlanRequest.plan(pipeline.c.jobs.get("job-2")), slow.c)
        follow_up = [request for request in slow.plan_queue.take(PlanRequest) if request.kind is not PlanKind.WATCH]

        assert len(statuses(slow, "job-2")) == 50 and follow_up[0].continuation == max(statuses(slow, "job-2"))
        plan_job(follow_up[0], slow.c)
        assert set(statuses(slow, "job-2")) == failing


def test_a_pending_job_whose_planning_walks_devices_planned_before_is_not_taken_for_stalled(pipeline):
    ids = add_devices(pipeline.hub, 300)
    job = pending_job(pipeline, [property_op()])
    pipeline.c.job_devices.add_pending("job-1", ids, START)  # planned before a stop and a resume
    first_look = PlanRequest.watch(job, pipeline.c.job_devices.planning_state("job-1"))
    slow = pipeline.with_changes(settings=pipeline.c.settings.model_copy(update={"plan_seconds_per_invocation": 0}))
    plan_job(PlanRequest.plan(job), slow.c)  # one page walked again: no new row, the counters stand still
    slow.plan_queue.sent.clear()
    plan_job(first_look, slow.c)
    (watch,) = slow.plan_queue.take(PlanRequest)
    assert watch.kind is PlanKind.WATCH and not watch.replanned  # moving: neither planned again nor failed
    assert pipeline.c.jobs.get("job-1").status is JobStatus.PENDING
