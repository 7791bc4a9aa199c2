"""The gateway's classification, retries and pacing, with a stand-in for the SDK."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from msrest.exceptions import ClientRequestError, HttpOperationError

from shared.domain.devices import DeviceErrorCode
from shared.hub_gateway import CallerThrottled, HubFailure, HubGateway, HubLimits, RetryPolicy
from shared.pacing import OneWriterPerJob


def http_error(status: int, code: str = "", text: str = "", retry_after: str | None = None) -> HttpOperationError:
    error = HttpOperationError.__new__(HttpOperationError)
    headers = {"iothub-errorcode": code} if code else {}
    if retry_after:
        headers["Retry-After"] = retry_after
    error.response = SimpleNamespace(status_code=status, headers=headers, text=text)
    return error


class ScriptedManager:
    """Raises the scripted errors in turn, then succeeds."""

    def __init__(self, *errors):
        self.errors, self.calls = list(errors), 0

    def _next(self, result=None):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return result

    def update_twin(self, device_id, twin, etag):
        return self._next()

    def invoke_device_method(self, device_id, request):
        return self._next(SimpleNamespace(status=200, payload=None))

    def query_iot_hub(self, spec, continuation, size):
        return self._next(SimpleNamespace(items=[], continuation_token=None))

    def get_twin(self, device_id):
        return self._next()


class Ticks:
    """A monotonic clock that moves only when the code under test sleeps."""

    def __init__(self):
        self.seconds, self.slept = 0.0, []

    def monotonic(self):
        return self.seconds

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.seconds += seconds


S1_QUERIES = HubLimits(0, 0, 0, queries_per_second=20 / 60, interactive_query_share=0.25)


def ticking(manager, limits=S1_QUERIES, **retry):
    ticks = Ticks()
    hub = HubGateway(manager, limits, RetryPolicy(max_attempts=4, base_delay=0.01, **retry), sleep=ticks.sleep,
                     monotonic=ticks.monotonic)
    return hub, ticks


def gateway(manager, limits=HubLimits(0, 0, 0, 0), sleeps=None):
    sleeps = [] if sleeps is None else sleeps
    return HubGateway(manager, limits, RetryPolicy(max_attempts=4, base_delay=0.01), sleep=sleeps.append)


def test_a_gateway_timeout_on_a_patch_is_retried_but_never_on_a_command():
    patching = ScriptedManager(http_error(504))
    gateway(patching).patch_desired("d", {"a": 1})
    assert patching.calls == 2
    commanding = ScriptedManager(http_error(504, text='{"Message":"{\\"errorCode\\":504101}"}'))
    with pytest.raises(HubFailure) as caught:
        gateway(commanding).invoke_method("d", "reboot")
    assert caught.value.code is DeviceErrorCode.TIMEOUT and commanding.calls == 1


def test_retry_after_is_honoured():
    sleeps = []
    gateway(ScriptedManager(http_error(503, retry_after="2")), sleeps=sleeps).patch_tags("d", {"a": 1})
    assert sleeps == [2.0]


@pytest.mark.parametrize("status, code, expected", [
    (404, "DeviceNotFound", DeviceErrorCode.DEVICE_NOT_FOUND),
    (404, "", DeviceErrorCode.DEVICE_NOT_FOUND),
    (400, "ArgumentInvalid", DeviceErrorCode.INVALID_VALUE),
    (403, "IoTHubQuotaExceeded", DeviceErrorCode.HUB_ERROR),
    (412, "PreconditionFailed", DeviceErrorCode.HUB_ERROR),
])
def test_each_refusal_has_its_code_and_is_not_retried(status, code, expected):
    manager = ScriptedManager(http_error(status, code))
    with pytest.raises(HubFailure) as caught:
        gateway(manager).patch_desired("d", {"a": 1})
    assert caught.value.code is expected and manager.calls == 1


def test_a_command_that_may_have_reached_the_hub_is_not_repeated_after_a_transport_error():
    manager = ScriptedManager(ClientRequestError("Read timed out"))
    with pytest.raises(HubFailure) as caught:
        gateway(manager).invoke_method("d", "reboot")
    assert caught.value.code is DeviceErrorCode.TIMEOUT and manager.calls == 1


def test_a_patch_is_repeated_after_a_transport_error():
    manager = ScriptedManager(ClientRequestError("Connection aborted"))
    gateway(manager).patch_desired("d", {"a": 1})
    assert manager.calls == 2


def test_a_minute_s_worth_of_queries_less_the_reads_share_goes_at_once_then_they_are_paced():
    sleeps = []
    hub = gateway(ScriptedManager(), HubLimits(0, 0, 0, queries_per_second=20 / 60, interactive_query_share=0.25),
                  sleeps)
    for _ in range(16):
        hub.query_devices("SELECT * FROM devices")
    assert len(sleeps) == 1 and sleeps[0] == pytest.approx(3, abs=0.1)


def test_each_process_paces_at_its_share_of_the_hub_s_limits():
    sleeps, senders = [], [2]
    hub = HubGateway(ScriptedManager(), HubLimits(0, twin_updates_per_second=40, method_units_per_second=0,
                                                  queries_per_second=0),
                     RetryPolicy(max_attempts=1), sleep=sleeps.append, senders=lambda: senders[0])
    for _ in range(6):  # two processes share 40/s: a burst of 5 (a quarter of a second), then one every 0.05 s
        hub.patch_desired("d", {"x": 1})
    assert len(sleeps) == 1 and sleeps[0] == pytest.approx(0.05, abs=0.005)
    senders[0] = 1  # the other one stopped sending: back to the whole budget
    sleeps.clear()
    for _ in range(3):
        hub.patch_desired("d", {"x": 1})
    # no time passes here, so the debt grows: by 1/40 s a call again, not 1/20 s
    assert sleeps == pytest.approx([0.05, 0.075, 0.1], abs=0.008)


def test_limits_quoted_per_second_are_met_with_a_quarter_second_s_burst():
    hub, ticks = ticking(ScriptedManager(), HubLimits(0, twin_updates_per_second=100, method_units_per_second=0,
                                                      queries_per_second=0))
    for _ in range(25):  # a quarter of a second's calls go at once: the hub keeps the rest for jitter
        hub.patch_desired("d", {"x": 1})
    assert ticks.slept == []
    for _ in range(2):
        hub.patch_desired("d", {"x": 1})
    assert ticks.slept == [pytest.approx(0.01), pytest.approx(0.01)]  # then one call every 1/100 s


def test_a_429_storm_is_waited_out_whatever_the_number_of_attempts():
    manager = ScriptedManager(*[http_error(429) for _ in range(40)])
    hub, ticks = ticking(manager, HubLimits(0, 0, 0, 0))
    hub.patch_tags("d", {"a": 1})  # max_attempts is 4; throttling is not counted in it
    assert manager.calls == 41 and sum(ticks.slept) > 0  # every 429 held the class off


def test_throttling_that_outlasts_the_wait_fails_throttled():
    manager = ScriptedManager(*[http_error(429) for _ in range(10_000)])
    hub, ticks = ticking(manager, HubLimits(0, 0, 0, 0), throttled_wait=20, max_delay=4)
    with pytest.raises(HubFailure) as caught:
        hub.patch_desired("d", {"a": 1})
    assert caught.value.code is DeviceErrorCode.THROTTLED and "kept throttling" in caught.value.message
    assert 16 <= ticks.seconds <= 20 and manager.calls < 10_000


def test_a_429_lowers_the_pace_of_the_whole_class():
    manager = ScriptedManager(http_error(429))
    hub, ticks = ticking(manager, HubLimits(0, twin_updates_per_second=10, method_units_per_second=0,
                                            queries_per_second=0))
    hub.patch_desired("d", {"a": 1})
    assert hub._limiters["update"].rate == 5


def test_reads_use_only_their_share_never_wait_and_the_pipeline_waits_for_what_they_spent():
    manager = ScriptedManager()
    hub, ticks = ticking(manager)
    for _ in range(5):  # a quarter of S1's 20 a minute
        hub.for_reads.query_devices("SELECT * FROM devices")
    with pytest.raises(CallerThrottled) as caught:
        hub.for_reads.query_devices("SELECT * FROM devices")
    assert caught.value.retry_after == pytest.approx(12, abs=0.1) and ticks.slept == []
    for _ in range(10):  # the pipeline's 15, less the 5 reads
        hub.query_devices("SELECT * FROM devices")
    assert ticks.slept == []
    hub.query_devices("SELECT * FROM devices")
    assert ticks.slept == [pytest.approx(3, abs=0.1)]
    assert manager.calls == 16


def test_job_checks_take_the_pipeline_s_budget_waiting_their_turn_up_to_the_deadline():
    manager = ScriptedManager()
    hub, ticks = ticking(manager)
    for _ in range(15):
        hub.query_devices("SELECT * FROM devices")
    hub.for_job_checks.query_devices("SELECT * FROM devices")  # 3 s for the next token: within 10 s
    assert ticks.slept == [pytest.approx(3, abs=0.1)]
    hub._limiters["query"].charge(4)  # pipeline calls queued 12 s ahead
    with pytest.raises(CallerThrottled) as caught:
        hub.for_job_checks.query_devices("SELECT * FROM devices")
    assert caught.value.retry_after == pytest.approx(15, abs=0.1) and manager.calls == 16


def test_a_multi_query_check_is_admitted_at_once_or_not_at_all():
    manager = ScriptedManager()
    hub, ticks = ticking(manager)
    queries = [f"SELECT * FROM devices WHERE deviceId IN ['d{n}']" for n in range(20)]
    assert list(hub.for_job_checks.query_each(queries)) == []  # 20 queries: more than the burst, bucket full
    assert manager.calls == 20 and ticks.slept == []


def test_the_hub_s_verdict_on_a_query_is_kept_a_while():
    manager = ScriptedManager(http_error(400, "ArgumentInvalid", '{"Message":"ErrorCode:ArgumentInvalid;bad"}'))
    hub, ticks = ticking(manager)  # verdicts kept 60 s
    assert "bad" in hub.for_reads.refusal_of("SELECT * FROM devices WHERE ((")
    assert hub.for_reads.refusal_of("SELECT * FROM devices") is None
    for _ in range(10):
        assert hub.for_job_checks.refusal_of("SELECT * FROM devices") is None
        assert "bad" in hub.for_reads.refusal_of("SELECT * FROM devices WHERE ((")
    assert manager.calls == 2
    ticks.seconds += 60
    hub.for_reads.refusal_of("SELECT * FROM devices")
    assert manager.calls == 3


def test_a_caller_s_call_gives_up_after_few_attempts_when_the_hub_answers_503():
    manager = ScriptedManager(*[http_error(503) for _ in range(20)])
    hub, ticks = ticking(manager)
    with pytest.raises(HubFailure) as caught:
        hub.for_job_checks.query_devices("SELECT * FROM devices")
    assert caught.value.status == 503 and manager.calls == 3 and sum(ticks.slept) < 10


def test_a_caller_s_call_stops_at_its_deadline():
    manager = ScriptedManager(*[http_error(503, retry_after="4") for _ in range(20)])
    hub, ticks = ticking(manager)
    hub.interactive_retry = RetryPolicy(max_attempts=10, max_delay=30, deadline=10)
    with pytest.raises(HubFailure):
        hub.for_reads.query_devices("SELECT * FROM devices")
    assert manager.calls == 3 and ticks.seconds == 8  # a third wait would pass the deadline


def test_a_429_to_a_caller_is_answered_at_once_and_holds_the_pipeline_off():
    manager = ScriptedManager(http_error(429))
    hub, ticks = ticking(manager)
    with pytest.raises(CallerThrottled):
        hub.for_reads.query_devices("SELECT * FROM devices")
    assert manager.calls == 1 and ticks.slept == []
    hub.query_devices("SELECT * FROM devices")
    assert ticks.slept  # the hub said slow down: the pipeline's next query waits


def test_the_hub_is_reachable_when_it_answers_even_404_or_429():
    assert gateway(ScriptedManager(http_error(404, "DeviceNotFound"))).check_reachable() is None
    assert gateway(ScriptedManager(http_error(429))).check_reachable() is None
    with pytest.raises(HubFailure) as caught:
        gateway(ScriptedManager(*[http_error(500)] * 5)).check_reachable()
    assert caught.value.status == 500


def test_one_writer_per_job_queues_writes_to_one_job_and_lets_reads_through():
    inside, overlaps = [], []

    class Repository:
        def claim(self, job_id, batch, now):
            inside.append(job_id)
            overlaps.append(inside.count(job_id))
            time.sleep(0.01)
            inside.remove(job_id)

        add_pending = claim  # planning never overlaps the job's other writes either

        def get_progress(self, job_id):
            return "read"

    repository = OneWriterPerJob(Repository())
    threads = [threading.Thread(target=write, args=(job, None, None))
               for job in ["a", "b"] * 4 for write in (repository.claim, repository.add_pending)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(overlaps) == 1 and repository.get_progress("a") == "read"


@pytest.mark.parametrize("write", ["add_pending", "record_outcomes"])
def test_planning_and_records_do_not_wait_in_the_queue_of_the_jobs_senders(write):
    written = []

    class Repository:
        def add_pending(self, job_id, device_ids, now):
            written.append("planned")

        def record_outcomes(self, job_id, outcomes, now):
            written.append("recorded")

        def claim(self, job_id, batch, now):
            written.append("claimed")

        def release(self, job_id, device_ids, now):
            written.append("released")

    repository = OneWriterPerJob(Repository())
    job_id = f"queued-job-{write}"
    senders_queue, _ = OneWriterPerJob._locks_of(job_id)
    with senders_queue:  # senders are waiting for their turn
        sender = threading.Thread(target=repository.claim, args=(job_id, None, None))
        releaser = threading.Thread(target=repository.release, args=(job_id, ["d1"], None))
        ahead = threading.Thread(target=getattr(repository, write), args=(job_id, ["d1"], None))
        sender.start(), releaser.start(), ahead.start()
        ahead.join(timeout=10)
        assert not ahead.is_alive() and written == ["planned" if write == "add_pending" else "recorded"]
    sender.join(timeout=10), releaser.join(timeout=10)
    assert sorted(written[1:]) == ["claimed", "released"]


def test_a_queried_twin_reads_as_a_device_with_its_status_etag_model_and_edge_flag():
    from azure.iot.hub.models import DeviceCapabilities, Twin

    from shared.hub_gateway import _summary

    twin = Twin(device_id="gw-1", etag="AAAAAAAAAAE=", status="disabled", connection_state="Disconnected",
                capabilities=DeviceCapabilities(iot_edge=True))
    twin.additional_properties = {"modelId": "dtmi:contoso:Gateway;1"}
    summary = _summary(twin)
    assert (summary.device_id, summary.etag, summary.enabled, summary.is_edge, summary.model_id,
            summary.connection_state) == ("gw-1", "AAAAAAAAAAE=", False, True, "dtmi:contoso:Gateway;1", "Disconnected")
    assert _summary(Twin(device_id="plain", status="enabled")).enabled is True


class ExportingManager(ScriptedManager):
    def __init__(self, *errors):
        super().__init__(*errors)
        self.created = []

    def create_import_export_job(self, properties):
        self.created.append(properties)
        return self._next(SimpleNamespace(job_id="export-1"))

    def get_import_export_job(self, job_id):
        return self._next(SimpleNamespace(status="Completed", failure_reason=None))


class TestRegistryExports:
    def test_an_export_asks_for_twins_without_keys_in_the_named_blob(self):
        jobs = ExportingManager()
        gateway = HubGateway(ScriptedManager(), HubLimits(), job_manager=jobs, sleep=lambda s: None)
        assert gateway.export_devices("https://s/c?sas", "job-1/a.txt") == "export-1"
        [asked] = jobs.created
        assert (asked.type, asked.output_blob_container_uri, asked.output_blob_name, asked.exclude_keys_in_export) == (
            "export", "https://s/c?sas", "job-1/a.txt", True)
        state = gateway.export_state("export-1")
        assert state.status == "completed" and state.ended

    def test_a_hub_running_another_import_export_job_answers_busy(self):
        jobs = ExportingManager(http_error(403, code="JobQuotaExceeded", text='{"Message":"ErrorCode:JobQuotaExceeded;'
                                                                                '403001 another job running"}'))
        gateway = HubGateway(ScriptedManager(), HubLimits(), job_manager=jobs, sleep=lambda s: None)
        with pytest.raises(HubFailure) as raised:
            gateway.export_devices("https://s/c?sas", "job-1/a.txt")
        assert raised.value.code == "JobQuotaExceeded" and raised.value.status == 403

    def test_a_5xx_is_retried(self):
        jobs = ExportingManager(http_error(503))
        gateway = HubGateway(ScriptedManager(), HubLimits(), job_manager=jobs, sleep=lambda s: None)
        assert gateway.export_devices("https://s/c?sas", "b") == "export-1" and jobs.calls == 2
