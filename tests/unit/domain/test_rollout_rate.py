"""A job's rollout rate as arithmetic: the rate at a count, the size of its batches, and one
planner step's schedule."""
import pytest

from shared.domain.limits import MAX_BATCH_SIZE, MAX_ROLLOUT_RATE_PER_MINUTE
from shared.domain.rollout_rate import STEP_SECONDS, PacedStep, RolloutRate, batch_size


def ramp(base, factor, notified=None, succeeded=None, maximum=None):
    criteria = {"numberOfNotifiedDevices": notified} if notified else {"numberOfSucceededDevices": succeeded}
    given = {"exponentialRate": {"baseRatePerMinute": base, "incrementFactor": factor, "rateIncreaseCriteria": criteria}}
    return RolloutRate.of({**given, "maximumPerMinute": maximum} if maximum else given)


def test_no_rollout_rate_is_no_pacing():
    assert RolloutRate.of(None) is None and RolloutRate.of({}) is None


def test_a_maximum_alone_is_a_steady_rate():
    rate = RolloutRate.of({"maximumPerMinute": 600})
    assert [rate.per_minute(notified) for notified in (0, 599, 10_000)] == [600, 600, 600]


def test_a_ramp_grows_by_its_factor_each_time_another_step_of_devices_was_notified():
    rate = ramp(50, 2, notified=100, maximum=500)
    assert [rate.per_minute(n) for n in (0, 99, 100, 199, 200, 300, 400, 10_000)] == [
        50, 50, 100, 100, 200, 400, 500, 500]  # up to maximumPerMinute


def test_a_ramp_on_successes_counts_succeeded_devices_only():
    rate = ramp(10, 1.5, succeeded=20)
    assert rate.per_minute(notified=1000, succeeded=0) == 10
    assert rate.per_minute(notified=0, succeeded=20) == 15
    assert rate.per_minute(notified=0, succeeded=45) == pytest.approx(22.5)


def test_a_ramp_without_a_maximum_stops_growing_at_the_largest_rate_accepted_without_overflowing():
    rate = ramp(1, 5, notified=1)
    assert rate.per_minute(3) == 125
    assert rate.per_minute(10**9) == MAX_ROLLOUT_RATE_PER_MINUTE


def test_batches_hold_about_a_seconds_worth_of_devices():
    assert [batch_size(rate) for rate in (1, 59, 60, 61, 240, 600, 60_000)] == [1, 1, 1, 2, 4, 10, MAX_BATCH_SIZE]


def test_a_step_spaces_its_batches_at_the_rate_and_is_full_after_its_seconds():
    step = PacedStep(RolloutRate(maximum_per_minute=600), notified=0, succeeded=0)
    dues = []
    while (due := step.take(step.batch_size)) is not None:
        dues.append(due)
    assert dues == pytest.approx([float(second) for second in range(int(STEP_SECONDS))])  # 10 devices a second
    assert step.taken == 300 and step.next_step_seconds == pytest.approx(STEP_SECONDS)


def test_a_step_slower_than_a_batch_a_step_sends_one_batch_and_waits_its_spacing():
    step = PacedStep(RolloutRate(maximum_per_minute=1), notified=0, succeeded=0)
    assert step.take(1) == 0 and step.take(1) is None
    assert step.next_step_seconds == 60


def test_a_step_follows_the_ramp_as_its_own_devices_count_as_notified():
    step = PacedStep(ramp(60, 2, notified=10), notified=0, succeeded=0, seconds=60)
    dues = [step.take(5) for _ in range(4)]
    assert dues == pytest.approx([0, 5, 10, 12.5])  # 60/min for the first 10, then 120/min


def test_a_step_cut_short_by_a_closing_window_sends_its_first_batch_only():
    step = PacedStep(RolloutRate(maximum_per_minute=600), notified=0, succeeded=0, seconds=0.2)
    assert step.take(10) == 0 and step.take(10) is None


def test_a_step_that_follows_earlier_sends_waits_one_spacing_before_its_first_batch():
    step = PacedStep(RolloutRate(maximum_per_minute=240), notified=100, succeeded=0, follows_others=True)
    assert step.take(4) == pytest.approx(1.0) and step.take(4) == pytest.approx(2.0)
