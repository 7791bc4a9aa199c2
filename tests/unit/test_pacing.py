from shared.hub_gateway import RetryPolicy
from shared.pacing import RateLimiter


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_burst_up_to_the_rate_passes_then_callers_wait_their_turn():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire() for _ in range(12)]
    assert waits[:10] == [0.0] * 10
    assert waits[10:] == [0.1, 0.1]  # one token every 1/10 s


def test_tokens_refill_with_time_but_never_beyond_the_burst():
    clock = FakeClock()
    limiter = RateLimiter(5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        limiter.acquire()
    clock.now += 60
    assert [limiter.acquire() for _ in range(5)] == [0.0] * 5
    assert limiter.acquire() > 0


def test_hold_off_makes_the_next_caller_wait():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    limiter.hold_off(2.0)
    assert limiter.acquire() == 2.1


def test_a_large_call_costs_several_tokens():
    clock = FakeClock()
    limiter = RateLimiter(4, clock=clock, sleep=clock.sleep)
    assert limiter.acquire(4) == 0.0
    assert limiter.acquire(2) == 0.5


def test_retry_delay_honours_retry_after_and_grows_with_jitter_otherwise():
    policy = RetryPolicy(base_delay=0.5, max_delay=30)
    assert policy.delay(0, retry_after=3.0) == 3.0
    assert policy.delay(0, retry_after=120.0) == 30
    assert all(0 <= policy.delay(3, None) <= 4.0 for _ in range(100))
    assert max(policy.delay(10, None) for _ in range(200)) <= 30
