"""The dry run of a draft: its counts, batches and estimate as pure functions, and the use case
over a stand-in hub that answers aggregate queries, writing nothing."""
from __future__ import annotations

import copy
import dataclasses
from datetime import timedelta
from types import SimpleNamespace

import pytest

from jobs_api import jobs as job_cases
from jobs_api.models import DraftRequest
from jobs_api.preview import (BatchPlan, HubQuotas, TargetCounts, batch_plan, counts_of_group, counts_of_subset,
                              estimate, hub_pace, mismatches, model_required, planning_seconds, preview_job,
                              sending_seconds)
from jobs_api.targets import HubBusy, HubUnavailable, TargetRefused
from local.iothub_sim.query import parse_query
from shared.domain.errors import IllegalTransition
from shared.domain.groups import DeviceGroup
from shared.domain.jobs import Job
from shared.domain.operations import Operation, OperationType
from shared.hub_gateway import INVALID_QUERY, CallerThrottled, DeviceSummary, HubFailure
from shared.repositories.in_memory import InMemoryDeviceGroupRepository
from tests.fakes import START, FakeClock, collaborators

FRIDGE = "dtmi:contoso:RefrigeratedVendingMachine;1"
THERMOSTAT = "dtmi:com:example:TemperatureController;2"
S1 = HubQuotas(twin_updates_per_second=50, method_units_per_second=40, queries_per_minute=20, planning_share=0.75)
FAN = Operation(OperationType.PROPERTY, "fanSpeed", 3)
REBOOT = Operation(OperationType.COMMAND, "reboot", {"delay": 0})


def job(**changes) -> Job:
    fields = dict(id="j", display_name="J", group_id="g", operations=(FAN,), created_at=START, last_modified=START)
    fields.update(changes)
    return Job(**fields)


class TestCounts:
    def test_a_group_counts_edge_devices_then_the_sendable_ones_by_connection_state(self):
        counts = counts_of_group([{"n": 2, "edge": True}, {"n": 98, "edge": False}],
                                 [{"n": 80, "state": "Connected"}, {"n": 5, "state": "Disconnected"}])
        assert counts == TargetCounts(targets=100, edge=2, model_mismatch=13, offline=5)
        assert (counts.planned, counts.to_send) == (100, 85)

    def test_an_empty_group_counts_nothing(self):
        counts = counts_of_group([{"n": 0}], [{"n": 0}])
        assert (counts.targets, counts.edge, counts.model_mismatch, counts.to_send) == (0, 0, 0, 0)

    def test_operations_for_two_models_refuse_every_device_but_edge_ones_as_edge(self):
        counts = counts_of_group([{"n": 3, "edge": True}, {"n": 7, "edge": False}], None)
        assert (counts.edge, counts.model_mismatch, counts.to_send, counts.offline) == (3, 7, 0, 0)

    def test_a_subset_refuses_each_id_for_its_first_reason_as_the_run_and_the_planner_do(self):
        members = [DeviceSummary("a", FRIDGE), DeviceSummary("b", FRIDGE, connection_state="Disconnected"),
                   DeviceSummary("e", FRIDGE, is_edge=True), DeviceSummary("k", None),
                   DeviceSummary("t", THERMOSTAT, connection_state="Disconnected")]
        counts = counts_of_subset(["a", "b", "e", "k", "t", "missing", "a"], members, (FRIDGE,))
        assert counts == TargetCounts(targets=6, edge=1, model_mismatch=2, not_in_group=1, offline=1, subset=True)
        assert (counts.planned, counts.to_send) == (5, 2)

    def test_the_model_rule_is_the_planners(self):
        assert model_required([FAN, Operation(OperationType.PROPERTY, "x", 1, target=FRIDGE),
                               Operation(OperationType.PROPERTY, "y", 1, target=FRIDGE)]) == (FRIDGE,)
        assert not mismatches(None, ())
        assert mismatches(None, (FRIDGE,)) and mismatches("", (FRIDGE,)) and mismatches(FRIDGE, (FRIDGE, THERMOSTAT))
        assert not mismatches(FRIDGE, (FRIDGE,))


class TestBatches:
    def test_a_number_cuts_full_batches_and_a_last_one_of_the_rest(self):
        assert batch_plan({"type": "number", "value": 100}, 250) == BatchPlan(3, 100, 50)
        assert batch_plan({"type": "number", "value": 100}, 200) == BatchPlan(2, 100, 100)
        assert batch_plan({"type": "number", "value": 100}, 7) == BatchPlan(1, 7, 7)

    def test_a_percentage_is_of_the_jobs_devices_rounded_up(self):
        assert batch_plan({"type": "percentage", "value": 30}, 10) == BatchPlan(4, 3, 1)
        assert batch_plan({"type": "percentage", "value": 100}, 10) == BatchPlan(1, 10, 10)

    def test_no_batch_or_no_device_is_no_batches(self):
        assert batch_plan(None, 10) is None
        assert batch_plan({"type": "number", "value": 5}, 0) is None


class TestEstimate:
    def test_the_slower_of_twin_updates_and_methods_bounds_the_pace(self):
        assert hub_pace([FAN], S1) == (3000, "twinUpdates")
        assert hub_pace([FAN, FAN, REBOOT], S1) == (1500, "twinUpdates")
        assert hub_pace([REBOOT], S1) == (2400, "directMethods")
        big = Operation(OperationType.COMMAND, "load", "x" * 9000)  # three 4 KB units
        assert hub_pace([big], S1) == (800, "directMethods")
        assert hub_pace([FAN], HubQuotas(0, 0, 0)) == (None, None)

    def test_planning_waits_only_for_queries_past_its_part_of_a_minutes_budget(self):
        assert planning_seconds(15, S1) == 0
        assert planning_seconds(25, S1) == 30  # ten past the fifteen at once, three seconds each
        assert planning_seconds(1000, HubQuotas(50, 40, 0)) == 0

    def test_a_rollout_rate_below_the_hub_pace_bounds_sending(self):
        assert sending_seconds(600, 3000, {"maximumPerMinute": 600}) == (60, 600, True)
        assert sending_seconds(600, 3000, None) == (12, 3000, False)
        assert sending_seconds(600, 300, {"maximumPerMinute": 600}) == (120, 300, False)
        assert sending_seconds(600, None, None) == (0, None, False)

    def test_an_exponential_rate_grows_by_its_factor_up_to_its_maximum(self):
        ramp = {"maximumPerMinute": 400, "exponentialRate": {
            "baseRatePerMinute": 100, "incrementFactor": 2, "rateIncreaseCriteria": {"numberOfNotifiedDevices": 100}}}
        seconds, pace, by_rate = sending_seconds(700, 3000, ramp)
        # 100 at 100/min (60 s), 100 at 200/min (30 s), then 500 at 400/min (75 s)
        assert (seconds, pace, by_rate) == (165, 400, True)
        unbounded = {"exponentialRate": {"baseRatePerMinute": 60, "incrementFactor": 2,
                                         "rateIncreaseCriteria": {"numberOfSucceededDevices": 60}}}
        assert sending_seconds(120, None, unbounded) == (90, 120, True)  # 60 s, then 30 s
        steep = {"exponentialRate": {"baseRatePerMinute": 30_000, "incrementFactor": 5,
                                     "rateIncreaseCriteria": {"numberOfNotifiedDevices": 30_000}}}
        assert sending_seconds(90_000, None, steep) == (120, 60_000, True)  # then at the largest rate allowed

    def test_the_estimate_adds_planning_to_sending_and_names_what_bounds_it(self):
        counts = TargetCounts(targets=2000, edge=10, model_mismatch=0, offline=0)
        guess = estimate(counts, job(), S1)
        # 21 pages of 98, six past the 15 at once (3 s each); 1990 devices at 3000 a minute
        assert (guess.planning_seconds, guess.sending_seconds) == (18, 39.8)
        assert (guess.seconds, guess.devices_per_minute, guess.limited_by) == (57.8, 3000, "twinUpdates")

    def test_planning_from_a_registry_export_waits_for_no_query(self):
        guess = estimate(TargetCounts(targets=2000), job(), S1, from_export=True)
        assert (guess.planning_seconds, guess.seconds) == (0, guess.sending_seconds)

    def test_the_estimate_reads_the_rollout_rate_of_jobs_that_have_one(self):
        guess = estimate(TargetCounts(targets=100), job(rollout_rate={"maximumPerMinute": 60}), S1)
        assert (guess.sending_seconds, guess.limited_by) == (100, "rolloutRate")
        without = SimpleNamespace(operations=(FAN,))  # a job from before rolloutRate
        assert estimate(TargetCounts(targets=100), without, S1).limited_by == "twinUpdates"

    def test_nothing_to_send_is_no_sending(self):
        guess = estimate(TargetCounts(targets=3, edge=3), job(), S1)
        assert (guess.sending_seconds, guess.limited_by) == (0, None)


class CountingHub:
    """The gateway's reads view as the preview uses it: aggregate queries answered with the rows
    given (by the alias they group on), subset queries with the listed ids it holds; every query
    recorded."""

    def __init__(self, edge_rows, state_rows, devices=()):
        self.edge_rows, self.state_rows = edge_rows, state_rows
        self.devices = {device.device_id: device for device in devices}
        self.queries: list[str] = []
        self.failure: Exception | None = None

    def count_devices(self, queries):
        self.queries += list(queries)
        if self.failure:
            raise self.failure
        return [self.edge_rows if "AS edge" in query else self.state_rows for query in queries]

    def query_each(self, queries):
        for query in queries:
            self.queries.append(query)
            yield from (device for device_id, device in self.devices.items() if f"'{device_id}'" in query)


@pytest.fixture
def hub():
    return CountingHub([{"n": 1, "edge": True}, {"n": 9, "edge": False}],
                       [{"n": 6, "state": "Connected"}, {"n": 2, "state": "Disconnected"}],
                       [DeviceSummary("v1", FRIDGE), DeviceSummary("v2", FRIDGE, connection_state="Disconnected"),
                        DeviceSummary("gw", None, is_edge=True)])


@pytest.fixture
def ctx(hub):
    groups = InMemoryDeviceGroupRepository()
    groups.save(DeviceGroup("west", "West", 'SELECT * FROM devices WHERE tags.region = "west"'))
    return collaborators(groups=groups, hub=hub, clock=FakeClock(step=timedelta(seconds=1)))


def draft(ctx, **changes):
    body = {"displayName": "Fan", "group": "west",
            "data": [{"type": "property", "path": "fanSpeed", "value": 2, "target": FRIDGE}]}
    body.update(changes)
    return job_cases.save_draft(DraftRequest.model_validate(body), ctx)


class TestPreviewJob:
    @pytest.mark.parametrize("exports, target, planning", [(None, None, 18), (object(), None, 0), (object(), FRIDGE, 18)])
    def test_planning_is_estimated_as_a_run_would_plan(self, ctx, hub, exports, target, planning):
        """From a registry export when exports are on and no operation targets a model (the export
        has no model ids), else by a twin query a page."""
        hub.edge_rows, hub.state_rows = [{"n": 2000, "edge": False}], [{"n": 2000, "state": "Connected"}]
        ctx = dataclasses.replace(ctx, registry_exports=exports)
        operation = {"type": "property", "path": "fanSpeed", "value": 2} | ({"target": target} if target else {})
        saved = draft(ctx, data=[operation])
        assert preview_job(saved.id, ctx).to_json()["estimatedDuration"]["planningSeconds"] == planning

    def test_a_group_is_counted_with_two_single_dimension_aggregates_the_simulator_parses(self, ctx, hub):
        saved = draft(ctx, batch={"type": "number", "value": 4})
        preview = preview_job(saved.id, ctx).to_json()
        assert hub.queries == [
            "SELECT COUNT() AS n, capabilities.iotEdge AS edge FROM devices WHERE (tags.region = 'west') "
            "GROUP BY capabilities.iotEdge",
            "SELECT COUNT() AS n, connectionState AS state FROM devices WHERE (tags.region = 'west') AND "
            f"(capabilities.iotEdge = false) AND (modelId = '{FRIDGE}') GROUP BY connectionState"]
        for query in hub.queries:
            parsed = parse_query(query)
            assert parsed.is_aggregate and len(parsed.group_by) == 1
        assert {key: preview[key] for key in ("jobId", "group", "targets", "refused", "toSend", "offline")} == {
            "jobId": saved.id, "group": "west", "targets": 10, "refused": 2, "toSend": 8, "offline": 2}
        assert preview["refusals"] == [{"code": "EdgeNotSupported", "count": 1, "refusesRun": False},
                                       {"code": "ModelMismatch", "count": 1, "refusesRun": False}]
        assert preview["batches"] == {"count": 3, "size": 4, "lastSize": 2, "pauseAfterEach": False}
        assert preview["etag"] == saved.etag
        assert preview["hubLimits"] == {"twinUpdatesPerSecond": 50, "methodUnitsPerSecond": 40, "queriesPerMinute": 20}
        assert preview["estimatedDuration"]["limitedBy"] == "twinUpdates"

    def test_a_group_of_every_device_is_counted_without_a_condition(self, ctx, hub):
        ctx.groups.save(DeviceGroup("all", "All", "SELECT * FROM devices"))
        preview_job(draft(ctx, group="all", data=[{"type": "command", "path": "reboot"}]).id, ctx)
        assert hub.queries == [
            "SELECT COUNT() AS n, capabilities.iotEdge AS edge FROM devices GROUP BY capabilities.iotEdge",
            "SELECT COUNT() AS n, connectionState AS state FROM devices WHERE (capabilities.iotEdge = false) "
            "GROUP BY connectionState"]

    def test_nothing_is_written(self, ctx):
        saved = draft(ctx)
        before = copy.deepcopy(ctx.jobs.get(saved.id))
        preview_job(saved.id, ctx)
        assert ctx.jobs.get(saved.id) == before and ctx.jobs.get(saved.id).etag == before.etag
        assert ctx.job_devices.get_progress(saved.id).total == 0
        assert ctx.plan_queue.messages == [] and ctx.dispatch_queue.messages == []

    def test_a_subset_is_read_by_id_and_its_refusals_refuse_the_run(self, ctx, hub):
        saved = draft(ctx, devices=["v1", "v2", "gw", "nowhere"])
        preview = preview_job(saved.id, ctx).to_json()
        (query,) = hub.queries
        assert query.startswith("SELECT deviceId, modelId, capabilities, connectionState FROM devices WHERE "
                                "(tags.region = 'west') AND deviceId IN [")
        assert (preview["targets"], preview["refused"], preview["toSend"], preview["offline"]) == (4, 2, 2, 1)
        assert preview["refusals"] == [{"code": "DeviceNotInGroup", "count": 1, "refusesRun": True},
                                       {"code": "EdgeDeviceNotSupported", "count": 1, "refusesRun": True}]
        assert "batches" not in preview

    def test_operations_for_two_models_ask_one_query(self, ctx, hub):
        saved = draft(ctx, data=[{"type": "property", "path": "a", "value": 1, "target": FRIDGE},
                                 {"type": "property", "path": "b", "value": 1, "target": THERMOSTAT}])
        preview = preview_job(saved.id, ctx).to_json()
        assert len(hub.queries) == 1 and (preview["toSend"], preview["refused"]) == (0, 10)

    def test_a_job_already_run_is_refused_it_has_its_answer_in_its_rows(self, ctx):
        saved = draft(ctx)
        ctx.jobs.change(saved.id, lambda job: job.run(START))
        with pytest.raises(IllegalTransition, match="preview"):
            preview_job(saved.id, ctx)

    def test_a_missing_group_is_refused_naming_group(self, ctx):
        saved = draft(ctx, group="gone")
        with pytest.raises(TargetRefused) as refused:
            preview_job(saved.id, ctx)
        assert (refused.value.field, refused.value.code) == ("group", "DeviceGroupNotFound")

    @pytest.mark.parametrize("failure, raised", [
        (CallerThrottled("spent", 7), HubBusy),
        (HubFailure(INVALID_QUERY, "bad", 400), TargetRefused),
        (HubFailure("HubError", "down", 503), HubUnavailable)])
    def test_hub_failures_are_the_apis(self, ctx, hub, failure, raised):
        saved = draft(ctx)
        hub.failure = failure
        with pytest.raises(raised):
            preview_job(saved.id, ctx)
