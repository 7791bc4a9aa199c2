"""Timer retry policies (@app.retry), which the host applies to timer triggers only."""
import asyncio
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from local.functions_host.invoker import InvocationResult
from local.functions_host.timer_scheduler import invoke_with_retry, retry_delay


class FailingInvoker:
    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, []

    async def invoke(self, function, value, label, retry_count, max_retry_count):
        self.calls.append((retry_count, max_retry_count))
        return InvocationResult(len(self.calls) > self.failures)


def run(policy, failures):
    invoker = FailingInvoker(failures)
    # A loop of its own in its own thread: the browser tests' Playwright keeps one running in this one.
    with ThreadPoolExecutor(1) as thread:
        result = thread.submit(asyncio.run, invoke_with_retry(invoker, SimpleNamespace(retry=policy), None)).result()
    return result.succeeded, invoker.calls


def test_no_policy_means_one_attempt():
    assert run(None, failures=1) == (False, [(0, 0)])


def test_fixed_delay_retries_up_to_the_count():
    policy = {"strategy": "fixed_delay", "max_retry_count": "2", "delay_interval": "00:00:00"}
    assert run(policy, failures=5) == (False, [(0, 2), (1, 2), (2, 2)])
    assert run(policy, failures=1) == (True, [(0, 2), (1, 2)])


def test_delays():
    assert retry_delay({"strategy": "fixed_delay", "delay_interval": "00:00:07"}, 3) == 7
    backoff = {"strategy": "exponential_backoff", "minimum_interval": "00:00:01", "maximum_interval": "00:00:05"}
    assert [retry_delay(backoff, attempt) for attempt in range(5)] == [1, 2, 4, 5, 5]
