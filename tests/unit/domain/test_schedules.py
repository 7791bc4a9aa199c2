from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from shared.domain.errors import InvalidField
from shared.domain.limits import JOB_ID_PATTERN, MAX_DISPLAY_NAME_LENGTH
from shared.domain.schedules import (Decision, EndByDate, EndByOccurrences, MaintenanceWindow, Occurrence, Schedule,
                                     current_window_end, is_open, maintenance_windows_from_api, next_due,
                                     next_opening, nth_occurrence, occurrence_index, occurrences, run_display_name,
                                     run_job_id)

UTC = timezone.utc
BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def at(zone: str, *parts: int, fold: int = 0) -> datetime:
    """The instant of a local wall time that exists (fold=1: the second of two)."""
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def local(instants: list[datetime], zone: str) -> list[str]:
    return [instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z") for instant in instants]


def schedule(start: str, recurrence: str | None = None, end: dict | None = None, zone: str | None = None,
             now: datetime = NOW) -> Schedule:
    obj = {"start": start, "recurrence": recurrence, "end": end, "timeZone": zone}
    return Schedule.from_api({key: value for key, value in obj.items() if value is not None}, now)


# --- every recurrence × every end ----------------------------------------------------------

START = "2026-01-10T09:00:00Z"
DATES = {
    None: ["2026-01-10"],
    "daily": ["2026-01-10", "2026-01-11", "2026-01-12", "2026-01-13"],
    "weekly": ["2026-01-10", "2026-01-17", "2026-01-24", "2026-01-31"],
    "monthly": ["2026-01-10", "2026-02-10", "2026-03-10", "2026-04-10"],
}


@pytest.mark.parametrize("recurrence", DATES)
@pytest.mark.parametrize("end_kind", ["none", "date", "occurrences"])
def test_each_recurrence_with_each_end(recurrence, end_kind):
    dates = DATES[recurrence]
    end = {"none": None, "occurrences": {"type": "occurrences", "occurrences": 3},
           "date": {"type": "date", "date": dates[min(2, len(dates) - 1)]}}[end_kind]
    runs = occurrences(schedule(START, recurrence, end), LONG_AGO, 4 if end is None else 10)
    expected = dates if end is None else dates[:3]
    assert [run.isoformat() for run in runs] == [f"{day}T09:00:00+00:00" for day in expected]


def test_a_run_on_the_end_date_still_happens_and_none_after():
    runs = occurrences(schedule("2026-01-10T23:30:00Z", "daily", {"type": "date", "date": "2026-01-12"}), LONG_AGO, 10)
    assert runs == [utc(2026, 1, 10, 23, 30), utc(2026, 1, 11, 23, 30), utc(2026, 1, 12, 23, 30)]


def test_the_end_date_is_a_local_date_of_the_schedule_zone():
    # 23:30 in New York is 04:30 UTC the next day: the run on the end date is in UTC the day after.
    nightly = schedule("2026-01-10T23:30:00-05:00", "daily", {"type": "date", "date": "2026-01-12"}, NEW_YORK)
    runs = occurrences(nightly, LONG_AGO, 10)
    assert local(runs, NEW_YORK) == ["2026-01-10 23:30 EST", "2026-01-11 23:30 EST", "2026-01-12 23:30 EST"]
    assert runs[-1] == utc(2026, 1, 13, 4, 30)


def test_an_end_date_on_the_start_date_runs_once():
    assert occurrences(schedule(START, "weekly", {"type": "date", "date": "2026-01-10"}), LONG_AGO, 10) == \
        [utc(2026, 1, 10, 9)]


@pytest.mark.parametrize("count", [1, 2, 999])
def test_an_occurrences_end_counts_the_start(count):
    runs = occurrences(schedule(START, "daily", {"type": "occurrences", "occurrences": count}), LONG_AGO, 1000)
    assert len(runs) == count
    assert runs[0] == utc(2026, 1, 10, 9)


def test_without_an_end_runs_go_on():
    runs = occurrences(schedule(START, "monthly"), utc(2100, 1, 1), 2)
    assert runs == [utc(2100, 1, 10, 9), utc(2100, 2, 10, 9)]


def test_occurrences_are_strictly_after_and_limited():
    daily = schedule(START, "daily")
    assert occurrences(daily, utc(2026, 1, 11, 9), 2) == [utc(2026, 1, 12, 9), utc(2026, 1, 13, 9)]
    assert occurrences(daily, utc(2026, 1, 11, 8, 59, 59), 1) == [utc(2026, 1, 11, 9)]
    assert occurrences(daily, LONG_AGO, 0) == []
    with pytest.raises(ValueError):
        occurrences(daily, LONG_AGO, -1)


def test_sub_second_starts_keep_their_fraction():
    runs = occurrences(schedule("2026-01-10T09:00:00.250Z", "daily"), LONG_AGO, 2)
    assert runs == [utc(2026, 1, 10, 9, 0, 0, 250000), utc(2026, 1, 11, 9, 0, 0, 250000)]


# --- month ends and 29 February ------------------------------------------------------------

def dates_of(runs: list[datetime]) -> list[str]:
    return [run.date().isoformat() for run in runs]


def test_monthly_from_the_31st_falls_on_shorter_months_last_day_and_comes_back():
    runs = occurrences(schedule("2026-01-31T09:00:00Z", "monthly"), LONG_AGO, 7)
    assert dates_of(runs) == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30",
                              "2026-07-31"]


def test_monthly_from_the_30th_keeps_the_30th_in_long_months():
    runs = occurrences(schedule("2026-01-30T09:00:00Z", "monthly"), LONG_AGO, 4)
    assert dates_of(runs) == ["2026-01-30", "2026-02-28", "2026-03-30", "2026-04-30"]


def test_monthly_from_the_31st_of_a_leap_january_runs_on_29_february():
    runs = occurrences(schedule("2028-01-31T09:00:00Z", "monthly"), LONG_AGO, 3)
    assert dates_of(runs) == ["2028-01-31", "2028-02-29", "2028-03-31"]


def test_monthly_from_29_february_runs_on_the_29th_and_on_28_february_of_common_years():
    runs = occurrences(schedule("2028-02-29T09:00:00Z", "monthly"), LONG_AGO, 49)
    assert dates_of(runs[:3]) == ["2028-02-29", "2028-03-29", "2028-04-29"]
    assert [day for day in dates_of(runs) if day[5:7] == "02"] == [
        "2028-02-29", "2029-02-28", "2030-02-28", "2031-02-28", "2032-02-29"]
    assert {day[8:] for day in dates_of(runs) if day[5:7] != "02"} == {"29"}


def test_weekly_from_the_31st_and_from_29_february_keeps_the_weekday():
    from_31st = occurrences(schedule("2026-01-31T09:00:00Z", "weekly"), LONG_AGO, 3)
    assert dates_of(from_31st) == ["2026-01-31", "2026-02-07", "2026-02-14"]
    from_leap_day = occurrences(schedule("2028-02-29T09:00:00Z", "weekly"), LONG_AGO, 3)
    assert dates_of(from_leap_day) == ["2028-02-29", "2028-03-07", "2028-03-14"]
    assert {run.weekday() for run in from_leap_day} == {date(2028, 2, 29).weekday()}


def test_daily_from_29_february_goes_on_to_1_march():
    assert dates_of(occurrences(schedule("2028-02-29T09:00:00Z", "daily"), LONG_AGO, 2)) == ["2028-02-29", "2028-03-01"]


def test_monthly_month_ends_keep_the_local_wall_time_in_the_zone():
    runs = occurrences(schedule("2026-01-31T23:30:00+01:00", "monthly", zone=BERLIN), LONG_AGO, 4)
    assert local(runs, BERLIN) == ["2026-01-31 23:30 CET", "2026-02-28 23:30 CET", "2026-03-31 23:30 CEST",
                                   "2026-04-30 23:30 CEST"]


# --- daylight saving time ------------------------------------------------------------------

def test_berlin_daily_keeps_the_wall_clock_across_spring_forward():
    runs = occurrences(schedule("2026-03-27T09:00:00+01:00", "daily", zone=BERLIN), LONG_AGO, 4)
    assert local(runs, BERLIN) == ["2026-03-27 09:00 CET", "2026-03-28 09:00 CET", "2026-03-29 09:00 CEST",
                                   "2026-03-30 09:00 CEST"]
    assert runs[1] - runs[0] == timedelta(hours=24) and runs[2] - runs[1] == timedelta(hours=23)


def test_berlin_a_time_in_the_spring_forward_gap_runs_at_the_end_of_the_gap():
    runs = occurrences(schedule("2026-03-28T02:30:00+01:00", "daily", zone=BERLIN), LONG_AGO, 3)
    assert local(runs, BERLIN) == ["2026-03-28 02:30 CET", "2026-03-29 03:00 CEST", "2026-03-30 02:30 CEST"]
    assert runs[1] == utc(2026, 3, 29, 1, 0)


def test_berlin_a_time_that_happens_twice_on_fall_back_runs_once_at_the_first():
    runs = occurrences(schedule("2026-10-24T02:30:00+02:00", "daily", zone=BERLIN), LONG_AGO, 3)
    assert runs == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    assert local(runs, BERLIN) == ["2026-10-24 02:30 CEST", "2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"]


def test_a_start_in_the_second_pass_of_a_fall_back_hour_is_kept_as_given():
    second_pass = at(BERLIN, 2026, 10, 25, 2, 30, fold=1)
    runs = occurrences(Schedule(second_pass, "daily", time_zone=BERLIN), LONG_AGO, 2)
    assert runs == [utc(2026, 10, 25, 1, 30), utc(2026, 10, 26, 1, 30)]


def test_new_york_spring_forward_gap_and_wall_clock_after_it():
    runs = occurrences(schedule("2026-03-07T02:30:00-05:00", "daily", zone=NEW_YORK), LONG_AGO, 3)
    assert local(runs, NEW_YORK) == ["2026-03-07 02:30 EST", "2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"]
    assert runs[1] == utc(2026, 3, 8, 7, 0)


def test_new_york_fall_back_overlap_runs_once_at_the_first_of_the_two():
    runs = occurrences(schedule("2026-10-31T01:30:00-04:00", "daily", zone=NEW_YORK), LONG_AGO, 3)
    assert runs == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    assert local(runs, NEW_YORK) == ["2026-10-31 01:30 EDT", "2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"]


def test_new_york_weekly_and_monthly_keep_the_wall_clock_through_both_changes():
    weekly = occurrences(schedule("2026-03-01T09:00:00-05:00", "weekly", zone=NEW_YORK), LONG_AGO, 36)
    assert {run.astimezone(ZoneInfo(NEW_YORK)).strftime("%a %H:%M") for run in weekly} == {"Sun 09:00"}
    assert {run.hour for run in weekly} == {13, 14}  # 09:00 EDT and 09:00 EST
    monthly = occurrences(schedule("2026-10-31T01:30:00-04:00", "monthly", zone=NEW_YORK), LONG_AGO, 2)
    assert local(monthly, NEW_YORK) == ["2026-10-31 01:30 EDT", "2026-11-30 01:30 EST"]


def test_a_utc_schedule_ignores_the_offset_the_start_was_written_with():
    runs = occurrences(schedule("2026-03-28T09:00:00+01:00", "daily"), LONG_AGO, 3)
    assert runs == [utc(2026, 3, 28, 8), utc(2026, 3, 29, 8), utc(2026, 3, 30, 8)]


# --- numbering runs ------------------------------------------------------------------------

def test_nth_occurrence_and_occurrence_index_number_runs_from_1():
    three = schedule("2026-03-28T02:30:00+01:00", "daily", {"type": "occurrences", "occurrences": 3}, BERLIN)
    assert [nth_occurrence(three, n) for n in (1, 2, 3, 4)] == [
        utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30), None]
    assert [occurrence_index(three, nth_occurrence(three, n)) for n in (1, 2, 3)] == [1, 2, 3]
    assert occurrence_index(three, utc(2026, 3, 29, 0, 30)) is None  # 02:30 CET did not exist that day
    assert occurrence_index(three, utc(2026, 3, 31, 0, 30)) is None  # after the end
    assert occurrence_index(three, utc(2026, 3, 1)) is None  # before the start
    with pytest.raises(ValueError):
        nth_occurrence(three, 0)


def test_a_one_time_schedule_has_one_occurrence():
    once = schedule(START)
    assert (nth_occurrence(once, 1), nth_occurrence(once, 2)) == (utc(2026, 1, 10, 9), None)
    assert occurrence_index(once, utc(2026, 1, 10, 9)) == 1


# --- next_due ------------------------------------------------------------------------------

TEN_DAILY = schedule(START, "daily", {"type": "occurrences", "occurrences": 10})
GRACE = timedelta(hours=1)


def run(index: int) -> Occurrence:
    return Occurrence(index, utc(2026, 1, 9 + index, 9))


def test_before_the_start_nothing_is_due():
    assert next_due(TEN_DAILY, 0, utc(2026, 1, 10, 8), GRACE) == Decision(
        missed=(), start=None, next=run(1), completed=False, last_index=0)


@pytest.mark.parametrize("late", [timedelta(0), timedelta(minutes=59), GRACE])
def test_a_due_occurrence_within_the_grace_period_starts(late):
    decision = next_due(TEN_DAILY, 0, utc(2026, 1, 10, 9) + late, GRACE)
    assert (decision.missed, decision.start, decision.next, decision.last_index) == ((), run(1), run(2), 1)
    assert not decision.completed


def test_a_due_occurrence_past_the_grace_period_is_missed():
    decision = next_due(TEN_DAILY, 0, utc(2026, 1, 10, 10, 0, 1), GRACE)
    assert (decision.missed, decision.start, decision.next, decision.last_index) == ((run(1),), None, run(2), 1)


def test_a_restart_that_skipped_several_misses_them_and_starts_the_latest_within_grace():
    decision = next_due(TEN_DAILY, 2, utc(2026, 1, 15, 9, 30), GRACE)
    assert decision == Decision(missed=(run(3), run(4), run(5)), start=run(6), next=run(7), completed=False,
                                last_index=6)


def test_a_restart_whose_latest_due_occurrence_is_past_grace_misses_them_all():
    decision = next_due(TEN_DAILY, 2, utc(2026, 1, 15, 11), GRACE)
    assert decision == Decision(missed=(run(3), run(4), run(5), run(6)), start=None, next=run(7), completed=False,
                                last_index=6)


def test_starting_the_last_occurrence_completes_the_schedule():
    decision = next_due(TEN_DAILY, 9, utc(2026, 1, 19, 9, 10), GRACE)
    assert (decision.start, decision.next, decision.completed) == (run(10), None, True)


def test_a_completed_schedule_has_nothing_to_do():
    assert next_due(TEN_DAILY, 10, utc(2026, 2, 1), GRACE) == Decision(
        missed=(), start=None, next=None, completed=True, last_index=10)


def test_a_one_time_job_missed_is_completed():
    decision = next_due(schedule(START), 0, utc(2026, 1, 11), GRACE)
    assert (decision.missed, decision.start, decision.completed) == ((run(1),), None, True)


def test_a_disabled_schedule_starts_nothing_and_misses_what_is_due():
    decision = next_due(TEN_DAILY, 2, utc(2026, 1, 15, 9, 30), GRACE, enabled=False)
    assert decision == Decision(missed=(run(3), run(4), run(5), run(6)), start=None, next=run(7), completed=False,
                                last_index=6)
    assert next_due(TEN_DAILY, 2, utc(2026, 1, 12, 8), GRACE, enabled=False).missed == ()


def test_deciding_is_deterministic_and_carrying_a_decision_out_leaves_nothing_to_do():
    now = utc(2026, 1, 15, 9, 30)
    first, second = next_due(TEN_DAILY, 2, now, GRACE), next_due(TEN_DAILY, 2, now, GRACE)
    assert first == second
    assert next_due(TEN_DAILY, first.last_index, now, GRACE) == Decision(
        missed=(), start=None, next=run(7), completed=False, last_index=6)
    assert next_due(TEN_DAILY, first.last_index, utc(2026, 1, 16, 9, 5), GRACE).start == run(7)


def test_next_due_follows_the_wall_clock_across_dst():
    daily = schedule("2026-03-28T02:30:00+01:00", "daily", zone=BERLIN)
    decision = next_due(daily, 1, utc(2026, 3, 29, 1, 20), timedelta(minutes=30))
    assert decision.start == Occurrence(2, utc(2026, 3, 29, 1))  # 03:00 CEST, the end of the gap
    assert decision.next == Occurrence(3, utc(2026, 3, 30, 0, 30))  # 02:30 CEST


@pytest.mark.parametrize(("last", "grace"), [(-1, GRACE), (0, timedelta(seconds=-1))])
def test_next_due_refuses_negative_arguments(last, grace):
    with pytest.raises(ValueError):
        next_due(TEN_DAILY, last, NOW, grace)


# --- parsing and validation ----------------------------------------------------------------

def test_from_api_reads_every_field_and_to_api_gives_the_same_shape_back():
    obj = {"start": "2026-03-28T02:30:00+01:00", "recurrence": "monthly",
           "end": {"type": "date", "date": "2026-12-31"}, "timeZone": BERLIN}
    parsed = Schedule.from_api(obj, NOW)
    assert parsed == Schedule(utc(2026, 3, 28, 1, 30), "monthly", EndByDate(date(2026, 12, 31)), BERLIN)
    assert parsed.to_api() == {**obj, "start": "2026-03-28T01:30:00Z"}
    assert Schedule.from_api(parsed.to_api(), NOW) == parsed


def test_a_minimal_schedule_runs_once_in_utc():
    parsed = Schedule.from_api({"start": "2026-01-10T09:00:00Z"}, NOW)
    assert (parsed.recurrence, parsed.end, parsed.time_zone) == (None, None, "UTC")
    assert parsed.to_api() == {"start": "2026-01-10T09:00:00Z", "timeZone": "UTC"}
    five = {"type": "occurrences", "occurrences": 5}
    counted = Schedule.from_api({"start": START, "recurrence": "daily", "end": five}, NOW)
    assert counted.end == EndByOccurrences(5)
    assert counted.to_api()["end"] == {"type": "occurrences", "occurrences": 5}


@pytest.mark.parametrize("start", ["2026-01-10T09:00:00Z", "2026-01-10T10:00:00+01:00", "2026-01-10 09:00:00Z",
                                   "2026-01-10t09:00z", "2026-01-10T09:00:00.123456789Z"])
def test_iso_8601_instants_with_an_offset_are_read(start):
    assert Schedule.from_api({"start": start}, NOW).start.replace(microsecond=0) == utc(2026, 1, 10, 9)


def field_refused(obj: object, now: datetime = NOW, **options) -> str:
    with pytest.raises(InvalidField) as refused:
        Schedule.from_api(obj, now, **options)
    return refused.value.field


@pytest.mark.parametrize("start", [None, "2026-01-10T09:00:00", "2026-01-10", "2026-01-10T09:00+0100", 1768035600,
                                   "2026-02-30T09:00:00Z", "2026-01-10T24:00:00Z", "tomorrow", "20260110T090000Z",
                                   "2026-W02-6T09:00Z", "2026-01-10T09:00:00+24:00"])
def test_a_start_that_is_not_an_instant_is_refused(start):
    assert field_refused({"start": start, "recurrence": "daily"}) == "schedule.start"


@pytest.mark.parametrize(("start", "zone"), [("0001-01-01T00:30:00+01:00", None),
                                             ("9999-12-31T23:00:00Z", "Asia/Tokyo")])
def test_a_start_at_the_edge_of_the_calendar_is_refused(start, zone):
    obj = {"start": start, "recurrence": "daily", **({"timeZone": zone} if zone else {})}
    assert field_refused(obj) == "schedule.start"


def test_a_schedule_near_the_end_of_the_calendar_stops_there():
    assert len(occurrences(schedule("9999-12-30T09:00:00Z", "daily", zone=NEW_YORK), LONG_AGO, 5)) == 2


def test_a_one_time_start_in_the_past_is_refused_unless_told_otherwise():
    assert field_refused({"start": "2025-12-31T23:59:59Z"}) == "schedule.start"
    assert Schedule.from_api({"start": "2025-12-31T23:59:59Z"}, NOW, one_time_start_must_be_future=False).start == \
        utc(2025, 12, 31, 23, 59, 59)
    assert Schedule.from_api({"start": "2025-12-31T23:59:59Z", "recurrence": "daily"}, NOW).recurrence == "daily"


@pytest.mark.parametrize("recurrence", ["yearly", "Daily", "hourly", "", 1, ["daily"], {"daily": True}])
def test_an_unknown_recurrence_is_refused(recurrence):
    assert field_refused({"start": START, "recurrence": recurrence}) == "schedule.recurrence"


@pytest.mark.parametrize(("end", "field"), [
    ({"type": "count", "count": 3}, "schedule.end"),
    ({}, "schedule.end"),
    ("2026-02-01", "schedule.end"),
    ([{"type": "date", "date": "2026-02-01"}], "schedule.end"),
    ({"type": "date"}, "schedule.end.date"),
    ({"type": "date", "date": "2026/02/01"}, "schedule.end.date"),
    ({"type": "date", "date": "2026-02-30"}, "schedule.end.date"),
    ({"type": "date", "date": "2026-02-01T00:00:00Z"}, "schedule.end.date"),
    ({"type": "date", "date": "2026-01-09"}, "schedule.end.date"),  # before the start's date
    ({"type": "occurrences", "occurrences": 0}, "schedule.end.occurrences"),
    ({"type": "occurrences", "occurrences": 1000}, "schedule.end.occurrences"),
    ({"type": "occurrences", "occurrences": 2.5}, "schedule.end.occurrences"),
    ({"type": "occurrences", "occurrences": 3.0}, "schedule.end.occurrences"),
    ({"type": "occurrences", "occurrences": "3"}, "schedule.end.occurrences"),
    ({"type": "occurrences", "occurrences": True}, "schedule.end.occurrences"),
    ({"type": "occurrences"}, "schedule.end.occurrences"),
])
def test_a_bad_end_is_refused_naming_the_field(end, field):
    assert field_refused({"start": START, "recurrence": "daily", "end": end}) == field


def test_the_end_date_is_compared_with_the_start_date_in_the_schedule_zone():
    start = "2026-01-10T02:00:00Z"  # 9 January, 21:00 in New York
    end = {"type": "date", "date": "2026-01-09"}
    assert Schedule.from_api({"start": start, "recurrence": "daily", "end": end, "timeZone": NEW_YORK}, NOW).end == \
        EndByDate(date(2026, 1, 9))
    assert field_refused({"start": start, "recurrence": "daily", "end": end}) == "schedule.end.date"
    earlier = {"type": "date", "date": "2026-01-08"}
    assert field_refused({"start": start, "recurrence": "daily", "end": earlier, "timeZone": NEW_YORK}) == \
        "schedule.end.date"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "utc", "europe/berlin", "Europe/Berlin ", "localtime",
                                  "posixrules", "", "Europe", "../../etc/passwd", "/etc/localtime", "zone.tab", 5,
                                  "UTC\x00"])
def test_an_unknown_zone_is_refused(zone):
    assert field_refused({"start": START, "recurrence": "daily", "timeZone": zone}) == "schedule.timeZone"


@pytest.mark.parametrize("obj", [None, "2026-01-10T09:00:00Z", ["start"]])
def test_a_schedule_that_is_not_an_object_is_refused(obj):
    assert field_refused(obj) == "schedule"


def test_a_schedule_made_in_code_is_checked_too():
    with pytest.raises(InvalidField) as naive:
        Schedule(datetime(2026, 1, 10, 9))
    with pytest.raises(InvalidField) as count:
        Schedule(utc(2026, 1, 10, 9), "daily", EndByOccurrences(0))
    with pytest.raises(InvalidField) as end:
        Schedule(utc(2026, 1, 10, 9), "daily", {"type": "date", "date": "2026-02-01"})
    assert (naive.value.field, count.value.field, end.value.field) == (
        "schedule.start", "schedule.end.occurrences", "schedule.end")


def test_the_start_is_kept_as_an_instant_in_utc():
    written_in_berlin = Schedule(at(BERLIN, 2026, 1, 10, 10), "daily", time_zone=BERLIN)
    assert written_in_berlin.start.tzinfo is UTC
    assert written_in_berlin == Schedule(utc(2026, 1, 10, 9), "daily", time_zone=BERLIN)


# --- maintenance windows -------------------------------------------------------------------

NIGHTLY = MaintenanceWindow("0 22 * * *", 180)


def test_a_window_is_open_from_its_opening_across_midnight_until_its_end():
    assert is_open([NIGHTLY], at(BERLIN, 2026, 6, 10, 22, 0), BERLIN)
    assert is_open([NIGHTLY], at(BERLIN, 2026, 6, 10, 23, 30), BERLIN)
    assert is_open([NIGHTLY], at(BERLIN, 2026, 6, 11, 0, 30), BERLIN)
    assert current_window_end([NIGHTLY], at(BERLIN, 2026, 6, 11, 0, 30), BERLIN) == at(BERLIN, 2026, 6, 11, 1, 0)
    assert not is_open([NIGHTLY], at(BERLIN, 2026, 6, 11, 1, 0), BERLIN)
    assert not is_open([NIGHTLY], at(BERLIN, 2026, 6, 10, 21, 59), BERLIN)
    assert current_window_end([NIGHTLY], at(BERLIN, 2026, 6, 11, 1, 0), BERLIN) is None


def test_the_next_opening_is_strictly_after_now():
    assert next_opening([NIGHTLY], at(BERLIN, 2026, 6, 11, 1, 30), BERLIN) == at(BERLIN, 2026, 6, 11, 22, 0)
    assert next_opening([NIGHTLY], at(BERLIN, 2026, 6, 10, 22, 0), BERLIN) == at(BERLIN, 2026, 6, 11, 22, 0)
    assert next_opening([NIGHTLY], at(BERLIN, 2026, 6, 10, 21, 59, 59), BERLIN) == at(BERLIN, 2026, 6, 10, 22, 0)


def test_a_weekly_window_runs_over_into_the_next_day():
    friday_night = MaintenanceWindow("0 23 * * FRI", 120)  # 12 June 2026 is a Friday
    assert is_open([friday_night], at(BERLIN, 2026, 6, 13, 0, 30), BERLIN)
    assert not is_open([friday_night], at(BERLIN, 2026, 6, 13, 1, 0), BERLIN)
    assert not is_open([friday_night], at(BERLIN, 2026, 6, 11, 23, 30), BERLIN)
    assert next_opening([friday_night], at(BERLIN, 2026, 6, 13, 1, 0), BERLIN) == at(BERLIN, 2026, 6, 19, 23, 0)


def test_a_window_in_the_spring_forward_gap_opens_at_the_end_of_the_gap():
    window = MaintenanceWindow("30 2 * * *", 60)
    assert next_opening([window], utc(2026, 3, 28, 2), BERLIN) == utc(2026, 3, 29, 1)  # 03:00 CEST
    assert is_open([window], utc(2026, 3, 29, 1, 30), BERLIN)
    assert current_window_end([window], utc(2026, 3, 29, 1, 30), BERLIN) == utc(2026, 3, 29, 2)
    assert not is_open([window], utc(2026, 3, 29, 0, 59), BERLIN)


def test_a_window_lasts_its_minutes_of_elapsed_time_across_a_change():
    window = MaintenanceWindow("0 1 * * *", 180)  # opens 01:00 CET on 29 March, closes 05:00 CEST
    assert current_window_end([window], utc(2026, 3, 29, 2, 30), BERLIN) == utc(2026, 3, 29, 3)
    assert local([utc(2026, 3, 29, 3)], BERLIN) == ["2026-03-29 05:00 CEST"]


def test_a_window_at_a_time_that_happens_twice_opens_once():
    window = MaintenanceWindow("30 2 * * *", 30)
    assert is_open([window], utc(2026, 10, 25, 0, 40), BERLIN)  # 02:40 CEST
    assert not is_open([window], utc(2026, 10, 25, 1, 40), BERLIN)  # 02:40 CET, the second pass
    assert next_opening([window], utc(2026, 10, 25, 0, 10), BERLIN) == utc(2026, 10, 25, 0, 30)
    assert next_opening([window], utc(2026, 10, 25, 0, 45), BERLIN) == utc(2026, 10, 26, 1, 30)


def test_in_the_second_pass_of_a_fall_back_hour_a_window_opened_in_its_first_pass_is_still_open():
    window = MaintenanceWindow("45 1 * * *", 60)  # opens 01:45 EDT on 1 November, closes 01:45 EST
    now = at(NEW_YORK, 2026, 11, 1, 1, 30, fold=1)  # 01:30 EST
    assert now == utc(2026, 11, 1, 6, 30)
    assert is_open([window], now, NEW_YORK)
    assert current_window_end([window], now, NEW_YORK) == utc(2026, 11, 1, 6, 45)
    assert next_opening([window], now, NEW_YORK) == at(NEW_YORK, 2026, 11, 2, 1, 45)


def test_several_windows_open_together_close_at_the_latest_and_open_at_the_earliest():
    short, long = MaintenanceWindow("0 2 * * *", 30), MaintenanceWindow("0 1 * * *", 120)
    now = at(BERLIN, 2026, 6, 10, 2, 10)
    assert current_window_end([short, long], now, BERLIN) == at(BERLIN, 2026, 6, 10, 3, 0)
    assert next_opening([short, long], now, BERLIN) == at(BERLIN, 2026, 6, 11, 1, 0)
    assert not is_open([short, long], at(BERLIN, 2026, 6, 10, 3, 0), BERLIN)


def test_without_windows_runs_are_never_held_back():
    assert is_open([], NOW, BERLIN)
    assert (next_opening([], NOW, BERLIN), current_window_end([], NOW, BERLIN)) == (None, None)


def test_windows_are_read_from_the_api_and_given_back():
    obj = [{"cron": "0 22 * * *", "durationMinutes": 180}, {"cron": "30 1 * * SAT,SUN", "durationMinutes": 1440}]
    windows = maintenance_windows_from_api(obj)
    assert windows == (NIGHTLY, MaintenanceWindow("30 1 * * SAT,SUN", 1440))
    assert [window.to_api() for window in windows] == obj
    assert maintenance_windows_from_api(None) == ()


@pytest.mark.parametrize("cron", ["* * * *", "0 2 * * * *", "61 * * * *", "0 25 * * *", "0 0 31 2 *", "@daily",
                                  "0 2 L * *", "0 2 * * 5#3", "0 2 ? * *", "", "0 2 * * FRIDAY", 5, None,
                                  "0 " * 200 + "*"])
def test_a_bad_cron_is_refused_naming_the_window(cron):
    with pytest.raises(InvalidField) as refused:
        maintenance_windows_from_api([{"cron": "0 1 * * *", "durationMinutes": 60},
                                      {"cron": cron, "durationMinutes": 60}])
    assert refused.value.field == "maintenanceWindows[1].cron"


@pytest.mark.parametrize("duration", [0, 1441, -5, 1.5, 60.0, "60", True, None])
def test_a_bad_duration_is_refused_naming_the_window(duration):
    with pytest.raises(InvalidField) as refused:
        maintenance_windows_from_api([{"cron": "0 1 * * *", "durationMinutes": duration}])
    assert refused.value.field == "maintenanceWindows[0].durationMinutes"


@pytest.mark.parametrize(("value", "field"), [({"cron": "0 1 * * *"}, "maintenanceWindows"),
                                              (["0 1 * * *"], "maintenanceWindows[0]"),
                                              ([{"cron": "0 1 * * *", "durationMinutes": 5}] * 11,
                                               "maintenanceWindows")])
def test_a_bad_window_list_is_refused(value, field):
    with pytest.raises(InvalidField) as refused:
        maintenance_windows_from_api(value)
    assert refused.value.field == field


def test_window_bounds_are_accepted():
    assert maintenance_windows_from_api([{"cron": "*/15 0-6 1,15 JAN-MAR MON-FRI", "durationMinutes": 1},
                                         {"cron": "0 0 29 2 *", "durationMinutes": 1440}])


# --- the jobs a scheduled job runs ---------------------------------------------------------

def test_run_job_ids_number_the_occurrences():
    assert run_job_id("nightly-reboot", 1) == "nightly-reboot-run-1"
    assert run_job_id("nightly-reboot", 999) == "nightly-reboot-run-999"


def test_a_long_scheduled_job_id_is_cut_to_keep_run_ids_valid_and_distinct():
    first, second = "a" * 250 + "x" * 5, "a" * 250 + "y" * 5
    ids = {run_job_id(first, 12), run_job_id(second, 12), run_job_id(first, 13)}
    assert len(ids) == 3
    assert all(len(run_id) == 255 and JOB_ID_PATTERN.fullmatch(run_id) for run_id in ids)
    assert run_job_id(first, 12).startswith("a" * 200) and run_job_id(first, 12).endswith("-run-12")
    fits = "b" * 249
    assert run_job_id(fits, 1) == fits + "-run-1"


def test_run_job_id_refuses_a_bad_id_or_index():
    with pytest.raises(InvalidField):
        run_job_id("no spaces", 1)
    with pytest.raises(ValueError):
        run_job_id("nightly", 0)


def test_run_display_names_say_the_local_time_of_the_run():
    named = run_display_name("Fan speed 3", utc(2026, 3, 29, 1), BERLIN)
    assert named == "Fan speed 3 (2026-03-29 03:00 Europe/Berlin)"
    assert run_display_name(None, utc(2026, 3, 29, 1), "UTC") == "2026-03-29 01:00 UTC"
    long = run_display_name("n" * MAX_DISPLAY_NAME_LENGTH, utc(2026, 3, 29, 1), NEW_YORK)
    assert len(long) == MAX_DISPLAY_NAME_LENGTH and long.endswith(" (2026-03-28 21:00 America/New_York)")
