from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.core.exceptions import ServiceRequestError

from shared.domain.devices import DeviceErrorCode, DeviceStatus
from shared.domain.jobs import JobStatus
from shared.domain.operations import Operation, OperationType
from shared.hub_gateway import HubFailure
from shared.messages import DispatchRequest, OutcomesReport, PlanRequest

from dispatcher.planning import plan_job
from dispatcher.sending import InvokeCommand, PatchDesired, PatchTags, device_steps, send_batch
from status_collector.collecting import collect_outcomes
from tests.fakes import FakeQueue
from tests.unit.pipeline.conftest import add_devices, command_op, pending_job, property_op, run_until_quiet


def stop_after(p, calls: int):
    """A hub hook that stops job-1 once the hub has had `calls` device calls."""
    def stop(call):
        if len(p.hub.calls) == calls:
            job = p.c.jobs.get("job-1")
            job.stop(p.clock())
            p.c.jobs.update(job)
    return stop


def planned(p, count, operations):
    add_devices(p.hub, count)
    pending_job(p, operations)
    plan_job(PlanRequest.plan(p.c.jobs.get("job-1")), p.c)
    p.plan_queue.sent.clear()
    return p.dispatch_queue.take(DispatchRequest)


def test_steps_follow_the_operations_with_one_patch_per_kind():
    operations = (Operation(OperationType.COMMAND, "echo", {"a": 1}),
                  Operation(OperationType.PROPERTY, "fanSpeed", 2),
                  Operation(OperationType.CLOUD_PROPERTY, "site", "s1"),
                  Operation(OperationType.PROPERTY, "thermostat1.targetTemperature", 21),
                  Operation(OperationType.COMMAND, "thermostat1.getMaxMinReport", None, response_timeout_seconds=10))
    steps = device_steps(operations)
    assert [type(step) for step in steps] == [InvokeCommand, PatchDesired, PatchTags, InvokeCommand]
    assert steps[1].patch == {"fanSpeed": 2, "thermostat1": {"__t": "c", "targetTemperature": 21}}
    assert steps[2].patch == {"site": "s1"}


def test_each_claimed_device_gets_its_calls_and_one_outcomes_message_reports_the_batch(pipeline):
    (batch,) = planned(pipeline, 5, [property_op(), command_op("thermostat1.getMaxMinReport", {"since": 1},
                                                               response_timeout_seconds=12)])
    send_batch(batch, pipeline.c)
    assert pipeline.hub.calls_to("dev-00000") == [
        ("desired", "dev-00000", {"fanSpeed": 3}),
        ("method", "dev-00000", "thermostat1*getMaxMinReport", {"since": 1}, 12, 0)]
    (report,) = pipeline.outcomes_queue.take(OutcomesReport)
    assert [o.device_id for o in report.outcomes] == [f"dev-{i:05d}" for i in range(5)]
    assert pipeline.c.job_devices.get_progress("job-1").running == 5


def test_failures_are_classified_and_end_the_device_s_work(pipeline):
    (batch,) = planned(pipeline, 3, [property_op(), command_op()])
    pipeline.hub.failures["dev-00001"] = HubFailure(DeviceErrorCode.DEVICE_NOT_FOUND, "gone", 404)
    send_batch(batch, pipeline.c)
    (report,) = pipeline.outcomes_queue.sent
    outcomes = {o.device_id: o for o in OutcomesReport.from_text(report[0]).outcomes}
    assert outcomes["dev-00001"].error_code is DeviceErrorCode.DEVICE_NOT_FOUND
    assert len(pipeline.hub.calls_to("dev-00001")) == 1  # the command was not tried after the patch failed
    assert outcomes["dev-00000"].error_code is None


def test_an_unexpected_error_fails_only_that_device(pipeline):
    (batch,) = planned(pipeline, 2, [property_op()])
    pipeline.hub.failures["dev-00000"] = RuntimeError("boom")
    send_batch(batch, pipeline.c)
    outcomes = OutcomesReport.from_text(pipeline.outcomes_queue.sent[0][0]).outcomes
    assert [o.error_code for o in outcomes] == [DeviceErrorCode.HUB_ERROR, None]


def test_a_job_that_is_not_running_is_left_alone(pipeline):
    (batch,) = planned(pipeline, 3, [property_op()])
    job = pipeline.c.jobs.get("job-1")
    job.stop(pipeline.clock())
    pipeline.c.jobs.update(job)
    send_batch(batch, pipeline.c)
    assert pipeline.hub.calls == [] and pipeline.outcomes_queue.sent == []
    assert pipeline.c.job_devices.get_progress("job-1").pending == 3


def test_a_duplicate_dispatch_message_sends_nothing_and_changes_no_count(pipeline):
    (batch,) = planned(pipeline, 4, [command_op()])
    send_batch(batch, pipeline.c)
    run_until_quiet(pipeline)
    before = pipeline.c.job_devices.get_progress("job-1")
    send_batch(batch, pipeline.c)
    assert len(pipeline.hub.calls) == 4 and pipeline.outcomes_queue.sent == []
    assert pipeline.c.job_devices.get_progress("job-1") == before


def test_a_duplicate_while_the_first_is_still_sending_sends_nothing(pipeline):
    (batch,) = planned(pipeline, 4, [command_op()])
    pipeline.c.job_devices.claim("job-1", batch.batch, pipeline.clock())  # the first delivery, still sending
    result = send_batch(batch, pipeline.c)
    assert result.sent == 0 and pipeline.hub.calls == []


def test_stop_lets_started_devices_finish_and_releases_the_rest(pipeline):
    (batch,) = planned(pipeline, 6, [property_op()])

    pipeline.hub.on_call = stop_after(pipeline, 2)
    result = send_batch(batch, pipeline.c)
    assert (result.sent, result.released) == (2, 4)
    run_until_quiet(pipeline)
    assert pipeline.c.job_devices.get_progress("job-1").as_dict() == {
        "total": 6, "pending": 4, "running": 0, "completed": 2, "failed": 0}
    assert pipeline.c.jobs.get("job-1").status is JobStatus.STOPPED


def test_devices_given_back_after_the_job_was_resumed_are_batched_again(pipeline):
    (batch,) = planned(pipeline, 6, [command_op()])

    give_back = pipeline.c.job_devices.release

    def resumed_before_the_release(job_id, device_ids, now, incarnation):
        job = pipeline.c.jobs.get(job_id)
        job.resume(pipeline.clock())
        pipeline.c.jobs.update(job)
        plan_job(PlanRequest.resume(pipeline.c.jobs.get(job_id)), pipeline.c)  # nothing is pending yet
        return give_back(job_id, device_ids, now, incarnation)

    pipeline.hub.on_call = stop_after(pipeline, 2)
    pipeline.c.job_devices.release = resumed_before_the_release
    result = send_batch(batch, pipeline.c)

    assert (result.sent, result.released) == (2, 4)
    assert pipeline.dispatch_queue.take(DispatchRequest) == [batch]  # sent again, by the sender
    pipeline.dispatch_queue.send(batch.to_text())
    run_until_quiet(pipeline)
    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert sorted(call[1] for call in pipeline.hub.calls) == [f"dev-{i:05d}" for i in range(6)]  # each once


def test_a_redelivered_batch_resolves_its_dead_sender_s_devices(pipeline):
    (batch,) = planned(pipeline, 4, [command_op()])
    pipeline.c.job_devices.claim("job-1", batch.batch, pipeline.clock())  # then the sender died
    send_batch(batch, pipeline.c, redelivered=True)
    assert pipeline.hub.calls == []
    run_until_quiet(pipeline)
    assert {row.error_code for row in pipeline.c.job_devices.iter_devices("job-1")} == {DeviceErrorCode.OUTCOME_UNKNOWN}
    assert pipeline.c.jobs.get("job-1").status is JobStatus.FAILED


def test_a_redelivery_resolves_only_the_rows_its_own_delivery_left(pipeline):
    (batch,) = planned(pipeline, 4, [command_op()])
    first_two = DispatchRequest(job_id="job-1", incarnation="", first_device_id="dev-00000", last_device_id="dev-00001", size=2)
    pipeline.c.job_devices.claim("job-1", first_two.batch, pipeline.clock(), "message-a")  # alive, overlapping
    pipeline.c.job_devices.claim("job-1", batch.batch, pipeline.clock(), "message-b")  # then its sender died

    send_batch(batch, pipeline.c, redelivered=True, delivery_id="message-b")

    reports = pipeline.outcomes_queue.take(OutcomesReport)
    assert sorted(o.device_id for r in reports for o in r.outcomes) == ["dev-00002", "dev-00003"]
    rows = {row.device_id: row for row in pipeline.c.job_devices.iter_devices("job-1")}
    assert [(rows[d].status, rows[d].claimed_by) for d in ("dev-00000", "dev-00001")] == \
        [(DeviceStatus.RUNNING, "message-a")] * 2  # left to their live sender


def test_a_redelivered_property_batch_sends_its_dead_sender_s_devices_again(pipeline):
    (batch,) = planned(pipeline, 4, [property_op()])
    pipeline.c.job_devices.claim("job-1", batch.batch, pipeline.clock())
    send_batch(batch, pipeline.c, redelivered=True)
    run_until_quiet(pipeline)
    assert len(pipeline.hub.calls) == 4
    assert pipeline.c.jobs.get("job-1").status is JobStatus.COMPLETED


def test_devices_run_concurrently_on_the_pool_and_every_outcome_counts_once(pipeline):
    with ThreadPoolExecutor(8) as pool:
        p = pipeline.with_changes(devices_pool=pool)
        batches = planned(p, 300, [property_op()])
        for batch in batches:
            send_batch(batch, p.c)
        for report in p.outcomes_queue.take(OutcomesReport):
            collect_outcomes(report, p.c)
    assert p.c.job_devices.get_progress("job-1").completed == 300
    assert p.c.jobs.get("job-1").status is JobStatus.COMPLETED
    assert len(p.hub.calls) == 300


def test_a_range_holding_more_pending_devices_than_one_transaction_is_claimed_in_parts(pipeline):
    planned(pipeline, 150, [property_op()])
    wide = DispatchRequest(job_id="job-1", incarnation="", first_device_id="dev-00000", last_device_id="dev-00149", size=98)
    result = send_batch(wide, pipeline.c)
    assert result.sent == 150


def test_a_failure_code_outside_the_device_vocabulary_is_a_hub_error(pipeline):
    (batch,) = planned(pipeline, 1, [property_op()])
    pipeline.hub.failures["dev-00000"] = HubFailure("SomethingNew", "odd", 400)
    send_batch(batch, pipeline.c)
    (outcome,) = OutcomesReport.from_text(pipeline.outcomes_queue.sent[0][0]).outcomes
    assert (outcome.error_code, outcome.error_message) == (DeviceErrorCode.HUB_ERROR, "odd")


def test_a_job_deleted_while_its_batch_runs_is_left_alone(pipeline):
    (batch,) = planned(pipeline, 3, [property_op()])
    pipeline.c.job_devices.delete_all("job-1")
    assert send_batch(batch, pipeline.c).sent == 0


class FlakyQueue(FakeQueue):
    """Refuses the first `failures` sends, as a storage account out of reach does."""

    def __init__(self, failures: int):
        super().__init__()
        self.failures = failures

    def send(self, text: str, delay_seconds: float = 0) -> None:
        if self.failures:
            self.failures -= 1
            raise ServiceRequestError("Connection refused")
        super().send(text, delay_seconds)


def test_a_sender_keeps_reporting_what_it_knows_through_a_storage_outage(pipeline):
    (batch,) = planned(pipeline, 5, [command_op()])
    flaky = FlakyQueue(failures=8)  # 45 s of pauses, well inside the invocation's time
    result = send_batch(batch, pipeline.with_changes(outcomes_queue=flaky).c)
    assert result.sent == 5
    (report,) = flaky.take(OutcomesReport)
    assert sorted(outcome.device_id for outcome in report.outcomes) == sorted(call[1] for call in pipeline.hub.calls)
    assert sum(pipeline.clock.slept) == 45.5


def test_a_sender_gives_up_reporting_only_when_the_invocation_would_end(pipeline):
    (batch,) = planned(pipeline, 5, [command_op()])
    with pytest.raises(ServiceRequestError):
        send_batch(batch, pipeline.with_changes(outcomes_queue=FlakyQueue(failures=1000)).c)
    budget = pipeline.c.host.function_timeout.total_seconds()
    assert budget - 60 < sum(pipeline.clock.slept) <= budget  # then the message is delivered again
