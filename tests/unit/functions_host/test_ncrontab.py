"""NCRONTAB next occurrences, including NCrontab's day-of-month AND day-of-week rule."""
from datetime import datetime, timezone

import pytest

from local.functions_host.ncrontab import NCrontabSchedule, ScheduleError

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(*parts):
    return datetime(*parts, tzinfo=timezone.utc)


def test_six_fields_start_with_seconds():
    assert NCrontabSchedule("*/15 * * * * *").occurrences(START, 3) == [
        at(2026, 1, 1, 0, 0, 15), at(2026, 1, 1, 0, 0, 30), at(2026, 1, 1, 0, 0, 45)]


def test_five_fields_have_no_seconds():
    assert NCrontabSchedule("*/5 * * * *").occurrences(START, 2) == [at(2026, 1, 1, 0, 5), at(2026, 1, 1, 0, 10)]


def test_day_of_month_and_day_of_week_must_both_match():
    # the 13th that is a Friday; cron's OR rule would give Friday 2 January
    assert NCrontabSchedule("0 0 0 13 * Fri").next_after(START) == at(2026, 2, 13)


def test_weekdays_only():
    assert NCrontabSchedule("0 30 9 * * 1-5").occurrences(at(2026, 1, 2, 10), 2) == [
        at(2026, 1, 5, 9, 30), at(2026, 1, 6, 9, 30)]  # Friday after 09:30 -> Monday, Tuesday


def test_next_is_strictly_after():
    assert NCrontabSchedule("0 0 * * * *").next_after(at(2026, 1, 1, 5)) == at(2026, 1, 1, 6)


def test_naive_times_are_utc():
    assert NCrontabSchedule("0 0 0 * * *").next_after(datetime(2026, 1, 1, 12)) == at(2026, 1, 2)


@pytest.mark.parametrize("expression", ["* * * *", "0 0 0 L * *", "0 0 0 ? * *", "0 0 0 * * 5#2",
                                        "61 * * * * *", "00:05:00", "0 0 0 * * * *"])
def test_invalid_expressions(expression):
    with pytest.raises(ScheduleError):
        NCrontabSchedule(expression)


@pytest.mark.parametrize("expression, expected", [
    ("0 */5 * * * *", True), ("0 * * * * *", True), ("*/30 * * * * *", False)])
def test_use_monitor_default_follows_the_interval(expression, expected):
    assert NCrontabSchedule(expression).fires_at_most_once_a_minute(START) is expected
