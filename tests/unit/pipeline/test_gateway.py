"""The gateway's classification, retries and pacing, with a stand-in for the SDK."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from msrest.exceptions import ClientRequestError, HttpOperationError

from shared.domain.devices import DeviceErrorCode
from shared.hub_gateway import HubFailure, HubGateway, HubLimits, RetryPolicy
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


def test_a_minute_s_worth_of_queries_goes_at_once_then_they_are_paced():
    sleeps = []
    hub = gateway(ScriptedManager(), HubLimits(0, 0, 0, queries_per_second=20 / 60), sleeps)
    for _ in range(21):
        hub.query_devices("SELECT * FROM devices")
    assert len(sleeps) == 1 and sleeps[0] == pytest.approx(3, abs=0.1)


def test_each_process_paces_at_its_share_of_the_hub_s_limits():
    sleeps, senders = [], [2]
    hub = HubGateway(ScriptedManager(), HubLimits(0, twin_updates_per_second=10, method_units_per_second=0,
                                                  queries_per_second=0),
                     RetryPolicy(max_attempts=1), sleep=sleeps.append, senders=lambda: senders[0])
    for _ in range(6):  # two processes share 10/s: a burst of 5, then one every 0.2 s
        hub.patch_desired("d", {"x": 1})
    assert len(sleeps) == 1 and sleeps[0] == pytest.approx(0.2, abs=0.02)
    senders[0] = 1  # the other one stopped sending: back to the whole budget
    sleeps.clear()
    for _ in range(3):
        hub.patch_desired("d", {"x": 1})
    # no time passes here, so the debt grows: by 1/10 s a call again, not 1/5 s
    assert sleeps == pytest.approx([0.2, 0.3, 0.4], abs=0.03)


def test_one_writer_per_job_queues_writes_to_one_job_and_lets_reads_through():
    inside, overlaps = [], []

    class Repository:
        def claim(self, job_id, batch, now):
            inside.append(job_id)
            overlaps.append(inside.count(job_id))
            time.sleep(0.01)
            inside.remove(job_id)

        def get_progress(self, job_id):
            return "read"

    repository = OneWriterPerJob(Repository())
    threads = [threading.Thread(target=repository.claim, args=(job, None, None)) for job in ["a", "b"] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(overlaps) == 1 and repository.get_progress("a") == "read"
