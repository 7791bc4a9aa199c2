import pytest

from shared.hub_gateway import RetryPolicy
from shared.pacing import MIN_PACE, RECOVERY_SECONDS, RateLimiter, SenderCount, Unlimited
from tests.fakes import FakeClock


def test_a_burst_up_to_the_rate_passes_then_callers_wait_their_turn():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock.monotonic, sleep=clock.sleep)
    waits = [limiter.acquire() for _ in range(12)]
    assert waits[:10] == [0.0] * 10
    assert waits[10:] == [0.1, 0.1]  # one token every 1/10 s


def test_tokens_refill_with_time_but_never_beyond_the_burst():
    clock = FakeClock()
    limiter = RateLimiter(5, clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(5):
        limiter.acquire()
    clock.seconds += 60
    assert [limiter.acquire() for _ in range(5)] == [0.0] * 5
    assert limiter.acquire() > 0


def test_hold_off_makes_the_next_caller_wait_and_lowers_the_pace_for_a_while():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock.monotonic, sleep=clock.sleep)
    limiter.hold_off(2.0)
    assert limiter.rate == 5  # halved
    limiter.hold_off(0.1)  # the 429s of calls already in flight: the same overshoot
    assert limiter.rate == 5
    assert limiter.acquire() == pytest.approx(2.2)  # the hold-off, then one token at 5/s


def test_the_pace_climbs_back_while_the_hub_stays_quiet():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock.monotonic, sleep=clock.sleep)
    limiter.hold_off(1.0)
    clock.seconds += 1 + RECOVERY_SECONDS / 2
    limiter.acquire()
    assert limiter.rate == pytest.approx(10)


def test_repeated_throttling_lowers_the_pace_to_a_floor():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(10):
        limiter.hold_off(1.0)
        clock.seconds += 1.0
    assert limiter.rate == pytest.approx(10 * MIN_PACE)


def test_try_acquire_takes_tokens_only_when_they_come_in_time():
    clock = FakeClock()
    limiter = RateLimiter(1, burst=2, clock=clock.monotonic, sleep=clock.sleep)
    assert limiter.try_acquire() == 0.0 and limiter.try_acquire() == 0.0
    assert limiter.try_acquire() == pytest.approx(1.0)  # refused: the caller may come back in 1 s
    assert limiter.try_acquire(max_wait=2) == 0.0  # admitted after waiting for the token
    assert clock.seconds == pytest.approx(1.0, abs=0.01)


def test_a_cost_above_the_burst_goes_when_the_bucket_is_full_and_leaves_debt():
    clock = FakeClock()
    limiter = RateLimiter(1, burst=5, clock=clock.monotonic, sleep=clock.sleep)
    assert limiter.try_acquire(8) == 0.0
    assert limiter.acquire() == pytest.approx(4.0)  # 3 tokens of debt, then its own


def test_a_charge_is_waited_for_by_the_next_callers():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock.monotonic, sleep=clock.sleep)
    limiter.charge(12)
    assert limiter.acquire() == pytest.approx(0.3)


def test_unlimited_still_holds_every_caller_off_after_a_429():
    clock = FakeClock()
    unlimited = Unlimited(clock=clock.monotonic, sleep=clock.sleep)
    assert unlimited.acquire() == 0.0
    unlimited.hold_off(2.0)
    assert unlimited.try_acquire() == pytest.approx(2.0)
    assert unlimited.acquire() == pytest.approx(2.0)
    assert unlimited.acquire() == 0.0


def test_a_large_call_costs_several_tokens():
    clock = FakeClock()
    limiter = RateLimiter(4, clock=clock.monotonic, sleep=clock.sleep)
    assert limiter.acquire(4) == 0.0
    assert limiter.acquire(2) == 0.5


def test_retry_delay_honours_retry_after_and_grows_with_jitter_otherwise():
    policy = RetryPolicy(base_delay=0.5, max_delay=30)
    assert policy.delay(0, retry_after=3.0) == 3.0
    assert policy.delay(0, retry_after=120.0) == 30
    assert all(0 <= policy.delay(3, None) <= 4.0 for _ in range(100))
    assert max(policy.delay(10, None) for _ in range(200)) <= 30


def test_a_new_rate_applies_to_the_next_callers_and_keeps_the_debt():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(10):
        limiter.acquire()
    limiter.set_rate(2)
    assert limiter.acquire() == 0.5  # one token at 2/s
    clock.seconds += 60
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.5]  # burst of 2 at the new rate


class FakeRegistry:
    """Announcements timed by a clock of its own, as the table's service timestamps are."""

    def __init__(self, clock):
        self.clock, self.seen, self.down = clock, {}, False

    def announce_and_count(self, sender_id, window):
        if self.down:
            raise ConnectionError("storage unreachable")
        self.seen[sender_id] = self.clock.seconds
        return sum(1 for at in self.seen.values() if at >= self.clock.seconds - window.total_seconds())

    def withdraw(self, sender_id):
        self.seen.pop(sender_id, None)


def test_processes_count_each_other_through_the_registry_and_drop_out_when_they_stop():
    ticks = FakeClock()
    registry = FakeRegistry(ticks)
    first = SenderCount(registry, refresh=10, expiry=30, monotonic=ticks.monotonic)
    second = SenderCount(registry, refresh=10, expiry=30, monotonic=ticks.monotonic)
    assert first() == 1 and second() == 2  # the second sees the first at once
    assert first() == 1  # the first counts again only after its refresh interval
    ticks.seconds += 10
    assert first() == 2
    ticks.seconds += 31  # the second stopped sending 41 s ago
    assert first() == 1
    second()
    second.withdraw()  # at exit
    ticks.seconds += 10
    assert first() == 1


def test_a_registry_out_of_reach_keeps_the_last_count():
    ticks = FakeClock()
    registry = FakeRegistry(ticks)
    registry.seen["other"] = ticks.seconds
    count = SenderCount(registry, refresh=10, expiry=30, monotonic=ticks.monotonic)
    assert count() == 2
    registry.down, ticks.seconds = True, 20
    assert count() == 2
