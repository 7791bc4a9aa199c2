"""NCRONTAB schedules as the timer trigger reads them (pure logic).

`{second} {minute} {hour} {day} {month} {day-of-week}`, or five fields without seconds.
Like NCrontab, a day must match day-of-month AND day-of-week (vixie cron and croniter's
default use OR), hence croniter with second_at_beginning=True and day_or=False.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from croniter import croniter

# NCrontab knows numbers, names, '*', ',', '-' and '/'; croniter's extras (L, W, #, ?) are refused.
_FIELD = re.compile(r"^(?:[0-9*,\-/]|[A-Za-z]{3})+$")


class ScheduleError(ValueError):
    """The expression is not a valid NCRONTAB schedule."""


class NCrontabSchedule:
    def __init__(self, expression: str) -> None:
        self.expression = expression.strip()
        fields = self.expression.split()
        if len(fields) not in (5, 6) or not all(_FIELD.match(f) for f in fields):
            raise ScheduleError(f"'{expression}' is not an NCRONTAB expression "
                                "({second} {minute} {hour} {day} {month} {day-of-week})")
        self._has_seconds = len(fields) == 6
        try:
            self._iterator(datetime(2000, 1, 1, tzinfo=timezone.utc)).get_next(datetime)
        except (ValueError, KeyError, TypeError) as error:
            raise ScheduleError(f"'{expression}' is not a valid NCRONTAB expression: {error}") from error

    def _iterator(self, start: datetime) -> croniter:
        return croniter(self.expression, start, second_at_beginning=self._has_seconds, day_or=False)

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (UTC)."""
        return self._iterator(_utc(moment)).get_next(datetime)

    def occurrences(self, start: datetime, count: int) -> list[datetime]:
        iterator = self._iterator(_utc(start))
        return [iterator.get_next(datetime) for _ in range(count)]

    def fires_at_most_once_a_minute(self, now: datetime) -> bool:
        """The host's default for useMonitor: on when the schedule recurs a minute apart or more."""
        first, second = self.occurrences(now, 2)
        return (second - first).total_seconds() >= 60


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
