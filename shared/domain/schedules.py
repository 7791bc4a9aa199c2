"""Scheduled jobs: when IoT Central's `schedule` runs, and what a scheduler does about it.

IoT Central (2022-07-31) gives a scheduled job a `schedule`: `start` (an instant), `recurrence`
(`daily`, `weekly` or `monthly`; left out, the job runs once) and `end`
(`{"type": "date", "date": "YYYY-MM-DD"}` or `{"type": "occurrences", "occurrences": 1..999}`).
Ours adds `timeZone`, an IANA name (UTC when left out), in which runs keep the start's
wall-clock time:

- The first run is `start` itself. The next ones are at the start's local time of day on the
  following days (daily), on the start's weekday (weekly), or on the start's day of the month
  (monthly). A monthly start on the 29th, 30th or 31st runs on the last day of a shorter month
  and is back on its own day the month after: from 31 January, 28 (or 29) February, 31 March,
  30 April; from 29 February 2028, 29 March, and 28 February 2029.
- A local time that does not exist (the clocks spring forward over it) runs at the first instant
  after the gap: 02:30 in Berlin on the last Sunday of March runs at 03:00 CEST. A local time
  that happens twice (the clocks fall back) runs once, at the first of the two (the summer-time
  one): 02:30 in Berlin on the last Sunday of October runs at 02:30 CEST.
- An end date is the last local date with runs: a run on that date still happens.

Maintenance windows (after AWS IoT Jobs' `maintenanceWindows`; ours too) say when runs may send
to devices: a 5-field cron in the schedule's zone opens a window for a number of minutes.

Pure: the clock is always an argument, and the same arguments always give the same answer, so
two schedulers deciding from the same stored state decide the same.
"""
from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from itertools import islice
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule

from shared.domain import limits
from shared.domain.errors import InvalidField

UTC = timezone.utc
Recurrence = Literal["daily", "weekly", "monthly"]
_FREQUENCIES = {"daily": DAILY, "weekly": WEEKLY, "monthly": MONTHLY}
MAX_OCCURRENCES = 999  # IoT Central's schedule.end.occurrences
MAX_WINDOW_MINUTES = 1440  # a day (AWS IoT Jobs stops at 1430)
MAX_MAINTENANCE_WINDOWS = 10  # ours: enough for a window per weekday and a few more
MAX_CRON_LENGTH = 256  # AWS IoT Jobs' startTime
_MAX_JOB_ID_LENGTH = 255  # limits.JOB_ID_PATTERN

# ISO 8601's extended form with an offset: a calendar date, a time, then Z or ±hh:mm.
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,3}")
# Files of the zone database that are not zones: `localtime` is whatever the machine is set to.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
# Numbers, names, '*', ',', '-' and '/'; croniter's extras (L, W, #, ?) are refused.
_CRON_FIELD = re.compile(r"(?:[0-9*,/-]|[A-Za-z]{3})+")
_CRON_REFERENCE = datetime(2000, 1, 1)


@dataclass(frozen=True)
class EndByDate:
    """The last local date with runs (inclusive)."""
    date: date

    def __post_init__(self) -> None:
        if not isinstance(self.date, date) or isinstance(self.date, datetime):
            raise InvalidField("schedule.end.date", "must be a date, YYYY-MM-DD.")

    def to_api(self) -> dict[str, Any]:
        return {"type": "date", "date": self.date.isoformat()}


@dataclass(frozen=True)
class EndByOccurrences:
    """The number of runs, the first one included."""
    count: int

    def __post_init__(self) -> None:
        if not _is_integer(self.count) or not 1 <= self.count <= MAX_OCCURRENCES:
            raise InvalidField("schedule.end.occurrences", f"must be an integer from 1 to {MAX_OCCURRENCES}.")

    def to_api(self) -> dict[str, Any]:
        return {"type": "occurrences", "occurrences": self.count}


@dataclass(frozen=True)
class Schedule:
    """When a scheduled job runs: see the module's docstring for the rules."""
    start: datetime  # an instant; kept in UTC
    recurrence: Recurrence | None = None  # None: once
    end: EndByDate | EndByOccurrences | None = None
    time_zone: str = "UTC"  # an IANA name: the zone whose wall clock the runs keep

    def __post_init__(self) -> None:
        if not isinstance(self.start, datetime) or self.start.utcoffset() is None:
            raise InvalidField("schedule.start", "must be an instant: a date and a time with Z or a UTC offset.")
        try:
            object.__setattr__(self, "start", self.start.astimezone(UTC))  # one spelling of the instant
            self.start.astimezone(_zone(self.time_zone))
        except OverflowError:
            raise InvalidField("schedule.start", "must be within the years 1 to 9999 in UTC and in the "
                                                 "schedule's zone.") from None
        if self.recurrence is not None and (not isinstance(self.recurrence, str)
                                            or self.recurrence not in _FREQUENCIES):
            raise InvalidField("schedule.recurrence", "must be daily, weekly or monthly, or be left out to run once.")
        self._check_end()

    def _check_end(self) -> None:
        if self.end is not None and not isinstance(self.end, (EndByDate, EndByOccurrences)):
            raise InvalidField("schedule.end", 'must be {"type": "date", ...} or {"type": "occurrences", ...}.')
        first_date = self.local_start.date()
        if isinstance(self.end, EndByDate) and self.end.date < first_date:
            raise InvalidField("schedule.end.date", f"must not be before the start's date in {self.time_zone}, "
                                                    f"{first_date.isoformat()}.")

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.time_zone)

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(self.zone)

    @classmethod
    def from_api(cls, obj: dict, now: datetime, *, one_time_start_must_be_future: bool = True) -> "Schedule":
        """IoT Central's `schedule` object plus our `timeZone`. A job that runs once must start
        after `now`, unless told otherwise (a stored schedule read back)."""
        if not isinstance(obj, dict):
            raise InvalidField("schedule", "must be an object with start, and optionally recurrence and end.")
        schedule = cls(start=_parse_instant(obj.get("start")), recurrence=_parse_recurrence(obj.get("recurrence")),
                       end=_parse_end(obj.get("end")), time_zone=_parse_zone_name(obj.get("timeZone")))
        if one_time_start_must_be_future and schedule.recurrence is None and schedule.start < now:
            raise InvalidField("schedule.start", "must not be in the past for a job that runs once.")
        return schedule

    def to_api(self) -> dict[str, Any]:
        api: dict[str, Any] = {"start": self.start.isoformat().replace("+00:00", "Z")}
        if self.recurrence is not None:
            api["recurrence"] = self.recurrence
        if self.end is not None:
            api["end"] = self.end.to_api()
        api["timeZone"] = self.time_zone
        return api


def _parse_instant(value: Any) -> datetime:
    if value is None:
        raise InvalidField("schedule.start", "is required.")
    if not isinstance(value, str) or not _INSTANT.fullmatch(value):
        raise InvalidField("schedule.start", "must be an ISO 8601 date and time with Z or a UTC offset, "
                                             "such as 2026-03-29T09:00:00Z.")
    try:
        return datetime.fromisoformat(value.upper())  # Python 3.11 reads only T and Z in capitals
    except ValueError:
        raise InvalidField("schedule.start", "is not a date and time that exists.") from None


def _parse_recurrence(value: Any) -> Recurrence | None:
    if value is not None and (not isinstance(value, str) or value not in _FREQUENCIES):
        raise InvalidField("schedule.recurrence", "must be daily, weekly or monthly, or be left out to run once.")
    return value


def _parse_end(value: Any) -> EndByDate | EndByOccurrences | None:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "date":
        return EndByDate(_parse_date(value.get("date")))
    if kind == "occurrences":
        return EndByOccurrences(value.get("occurrences"))
    raise InvalidField("schedule.end", 'must be {"type": "date", "date": "YYYY-MM-DD"} or '
                                       '{"type": "occurrences", "occurrences": 1..999}.')


def _parse_date(value: Any) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InvalidField("schedule.end.date", "must be a date, YYYY-MM-DD.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidField("schedule.end.date", "is not a date that exists.") from None


def _parse_zone_name(value: Any) -> str:
    if value is None:
        return "UTC"
    _zone(value)
    return value


def _zone(name: Any, field: str = "schedule.timeZone") -> ZoneInfo:
    if isinstance(name, str) and len(name) <= 64 and _ZONE_NAME.fullmatch(name) and name not in _NOT_ZONES:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise InvalidField(field, "must be an IANA time zone name, such as Europe/Berlin or UTC.")


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- Occurrences ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Occurrence:
    index: int  # 1 for the start, 2 for the run after it, ...
    at: datetime  # UTC


def occurrences(schedule: Schedule, after: datetime, limit: int) -> list[datetime]:
    """The next `limit` occurrences (UTC) strictly after `after`, fewer when the schedule ends."""
    if limit < 0:
        raise ValueError("limit must not be negative")
    return list(islice((o.at for o in _timeline(schedule) if o.at > after), limit))


def nth_occurrence(schedule: Schedule, n: int) -> datetime | None:
    """The `n`th occurrence (1: the start), or None when the schedule ends before it."""
    if n < 1:
        raise ValueError("occurrences are numbered from 1")
    return next((o.at for o in islice(_timeline(schedule), n - 1, n)), None)


def occurrence_index(schedule: Schedule, instant: datetime) -> int | None:
    """The number of the occurrence at `instant`, or None when none is at that instant."""
    for occurrence in _timeline(schedule):
        if occurrence.at >= instant:
            return occurrence.index if occurrence.at == instant else None
    return None


def _timeline(schedule: Schedule) -> Iterator[Occurrence]:
    yield Occurrence(1, schedule.start)  # as given: on a fall-back day it may be the second 01:30
    if schedule.recurrence is None:
        return
    zone, first = schedule.zone, schedule.local_start.replace(tzinfo=None, fold=0)
    walls = iter(_rule(schedule, first))
    next(walls)  # the start, yielded above
    for index, wall in enumerate(walls, start=2):
        try:
            yield Occurrence(index, _instant(wall.replace(microsecond=first.microsecond), zone))
        except OverflowError:
            return  # the calendar ends in year 9999


def _rule(schedule: Schedule, first: datetime) -> rrule:
    """The local wall times of the runs (rrule drops the start's microseconds; _timeline puts them back)."""
    end = schedule.end
    count = end.count if isinstance(end, EndByOccurrences) else None
    until = datetime.combine(end.date, time(23, 59, 59)) if isinstance(end, EndByDate) else None
    # Each month's days that are the start's day or the month's last day; the first of them is
    # the start's day, or the last day in a month too short for it.
    monthly = {"bymonthday": (first.day, -1), "bysetpos": 1} if schedule.recurrence == "monthly" else {}
    return rrule(_FREQUENCIES[schedule.recurrence], dtstart=first, count=count, until=until, **monthly)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant (UTC) a local wall time runs at: fold=0 is the first of two on a fall-back
    day; a time in a spring-forward gap does not survive the round trip and runs at the gap's end."""
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    return _end_of_gap(wall, zone)


def _end_of_gap(wall: datetime, zone: ZoneInfo) -> datetime:
    # In a gap, fold=1 reads the wall time with the offset after the change (an instant before
    # it) and fold=0 with the offset before it (an instant after it). The change itself, on a
    # whole second in the zone database, is found between the two by bisection.
    before = math.floor(wall.replace(tzinfo=zone, fold=1).timestamp())
    after = math.ceil(wall.replace(tzinfo=zone, fold=0).timestamp())
    offset_after = _offset(after, zone)
    while after - before > 1:
        middle = (before + after) // 2
        before, after = (before, middle) if _offset(middle, zone) == offset_after else (middle, after)
    return datetime.fromtimestamp(after, UTC)


def _offset(timestamp: int, zone: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(timestamp, zone).utcoffset()


# --- What a scheduler does -----------------------------------------------------------------

@dataclass(frozen=True)
class Decision:
    """What a scheduler ticking at some instant does, from the last occurrence it started."""
    missed: tuple[Occurrence, ...]  # to record as missed, never to run
    start: Occurrence | None  # to start now (late by now - start.at, within the grace period)
    next: Occurrence | None  # the first occurrence after now
    completed: bool  # nothing is left after the ones started or missed
    last_index: int  # the last occurrence started or missed once this decision is carried out


def next_due(schedule: Schedule, last_started_index: int, now: datetime, grace: timedelta, *,
             enabled: bool = True) -> Decision:
    """Occurrences after `last_started_index` (0: none yet) that are due by `now`: the latest of
    them starts when it is at most `grace` late, every other one is missed. A disabled job starts
    nothing: its due occurrences are missed, so enabling it again never runs them late."""
    if last_started_index < 0 or grace < timedelta(0):
        raise ValueError("last_started_index and grace must not be negative")
    due: list[Occurrence] = []
    upcoming = None
    for occurrence in islice(_timeline(schedule), last_started_index, None):
        if occurrence.at > now:
            upcoming = occurrence
            break
        due.append(occurrence)
    start = due.pop() if due and enabled and now - due[-1].at <= grace else None
    last_index = start.index if start else due[-1].index if due else last_started_index
    return Decision(missed=tuple(due), start=start, next=upcoming, completed=upcoming is None,
                    last_index=last_index)


# --- Maintenance windows -------------------------------------------------------------------

@dataclass(frozen=True)
class MaintenanceWindow:
    """Opens at each time a 5-field cron (minute hour day-of-month month day-of-week, read in the
    schedule's zone) names, for `duration_minutes` of elapsed time. Cron times in a
    spring-forward gap open at the gap's end, and a time that happens twice opens once, at the
    first, as for runs. A day matches when its day of the month or its weekday does (cron's rule
    when both are restricted)."""
    cron: str
    duration_minutes: int

    @classmethod
    def from_api(cls, obj: Any, field: str) -> "MaintenanceWindow":
        if not isinstance(obj, dict):
            raise InvalidField(field, "must be an object with cron and durationMinutes.")
        return cls(cron=obj.get("cron"), duration_minutes=obj.get("durationMinutes")).validated(field)

    def validated(self, field: str = "maintenanceWindow") -> "MaintenanceWindow":
        _check_cron(self.cron, f"{field}.cron")
        if not _is_integer(self.duration_minutes) or not 1 <= self.duration_minutes <= MAX_WINDOW_MINUTES:
            raise InvalidField(f"{field}.durationMinutes", f"must be an integer from 1 to {MAX_WINDOW_MINUTES}.")
        return self

    def to_api(self) -> dict[str, Any]:
        return {"cron": self.cron, "durationMinutes": self.duration_minutes}

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    def last_opening(self, now: datetime, zone: ZoneInfo) -> datetime:
        """The latest opening at or before `now` (UTC)."""
        wall = now.astimezone(zone)
        # In the second pass of a fall-back hour, the rest of that hour's wall times already
        # happened (their first pass), so they count as before now.
        ahead = max(wall.replace(fold=0).utcoffset() - wall.replace(fold=1).utcoffset(), timedelta(0))
        latest = (wall.replace(tzinfo=None) + ahead).replace(second=0, microsecond=0)
        walls = croniter(self.cron, latest + timedelta(minutes=1))
        while (opening := _instant(walls.get_prev(datetime), zone)) > now:
            pass
        return opening

    def next_opening(self, now: datetime, zone: ZoneInfo) -> datetime:
        """The first opening strictly after `now` (UTC)."""
        walls = croniter(self.cron, now.astimezone(zone).replace(tzinfo=None))
        while (opening := _instant(walls.get_next(datetime), zone)) <= now:
            pass
        return opening


def maintenance_windows_from_api(value: Any, field: str = "maintenanceWindows") -> tuple[MaintenanceWindow, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidField(field, "must be a list of maintenance windows.")
    if len(value) > MAX_MAINTENANCE_WINDOWS:
        raise InvalidField(field, f"may hold at most {MAX_MAINTENANCE_WINDOWS} maintenance windows.")
    return tuple(MaintenanceWindow.from_api(item, f"{field}[{index}]") for index, item in enumerate(value))


def maintenance_time_zone_from_api(value: Any, field: str = "maintenanceTimeZone") -> str:
    """The IANA zone the windows' cron times are read in; UTC when left out."""
    if value is None:
        return "UTC"
    _zone(value, field)
    return value


def _check_cron(value: Any, field: str) -> None:
    parts = value.split() if isinstance(value, str) and len(value) <= MAX_CRON_LENGTH else []
    if len(parts) != 5 or not all(_CRON_FIELD.fullmatch(part) for part in parts):
        raise InvalidField(field, "must be a cron expression of 5 fields: minute hour day-of-month month "
                                  "day-of-week, such as '0 2 * * SUN'.")
    try:
        croniter(value, _CRON_REFERENCE).get_next(datetime)
    except (CroniterError, ValueError, KeyError, TypeError):
        raise InvalidField(field, "is not a valid cron expression, or names a time that never comes.") from None


def is_open(windows: Sequence[MaintenanceWindow], now: datetime, zone: str) -> bool:
    """Whether runs may send to devices at `now`. No windows: always."""
    return not windows or current_window_end(windows, now, zone) is not None


def current_window_end(windows: Sequence[MaintenanceWindow], now: datetime, zone: str) -> datetime | None:
    """When the windows open at `now` close (the latest end among them), or None when none is
    open. A window opening later that overlaps is not chained on: ask again at this end."""
    tz = _zone(zone)
    ends = [opening + window.duration for window in windows
            if now < (opening := window.last_opening(now, tz)) + window.duration]
    return max(ends, default=None)


def next_opening(windows: Sequence[MaintenanceWindow], now: datetime, zone: str) -> datetime | None:
    """The first opening of any window strictly after `now`, or None without windows."""
    tz = _zone(zone)
    return min((window.next_opening(now, tz) for window in windows), default=None)


# --- The jobs a scheduled job runs ---------------------------------------------------------

def run_job_id(scheduled_job_id: str, occurrence_index: int) -> str:
    """`<id>-run-<n>`: the job that runs occurrence n, the same on every scheduler."""
    limits.validate_job_id(scheduled_job_id)
    if occurrence_index < 1:
        raise ValueError("occurrences are numbered from 1")
    suffix = f"-run-{occurrence_index}"
    room = _MAX_JOB_ID_LENGTH - len(suffix)
    if len(scheduled_job_id) > room:
        # Too long for the suffix: the base keeps its head and ends with 12 hex digits of the
        # SHA-256 of the whole id, so two long ids that share a head still give different runs.
        digest = hashlib.sha256(scheduled_job_id.encode()).hexdigest()[:12]
        scheduled_job_id = f"{scheduled_job_id[:room - len(digest) - 1]}-{digest}"
    return scheduled_job_id + suffix


def run_display_name(display_name: str | None, instant: datetime, zone: str) -> str:
    """The scheduled job's name and the run's local date and time, within the display name limit."""
    when = f"{instant.astimezone(_zone(zone)):%Y-%m-%d %H:%M} {zone}"
    if not display_name:
        return when
    suffix = f" ({when})"
    return display_name[: limits.MAX_DISPLAY_NAME_LENGTH - len(suffix)] + suffix
