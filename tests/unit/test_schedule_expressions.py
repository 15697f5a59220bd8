"""Schedule expressions fire when EventBridge Scheduler would, and are refused when it would.

Expected fire times never come from the code under test: they are either
written out, or found by stepping minute by minute (or day by day) through the
window with a predicate that states the schedule in plain Python.
"""
from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.schedule_expressions import ScheduleExpression, parse
from chalicelib.errors import ValidationFailed

UTC = timezone.utc
MARCH_START = datetime(2026, 3, 1, tzinfo=UTC)
MARCH_END = datetime(2026, 4, 2, tzinfo=UTC)          # April 1st included


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def fires(schedule: ScheduleExpression, start: datetime, end: datetime,
          anchor: datetime | None = None) -> list[datetime]:
    """Every fire in [start, end), by iterating next_after."""
    found, moment = [], start - timedelta(microseconds=1)
    while True:
        moment = schedule.next_after(moment, anchor)
        if moment is None or moment >= end:
            return found
        found.append(moment)


def every_minute_matching(predicate, start=MARCH_START, end=MARCH_END) -> list[datetime]:
    moment, found = start, []
    while moment < end:
        if predicate(moment):
            found.append(moment)
        moment += timedelta(minutes=1)
    return found


def days_of(year: int):
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += timedelta(days=1)


def at_noon(days) -> list[datetime]:
    return [utc(d.year, d.month, d.day, 12) for d in days]


def weekday_of(day: date) -> bool:
    return day.weekday() < 5


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def invalid_fields(expression: str, timezone_name: str = "UTC") -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        parse(expression, timezone_name)
    assert caught.value.code == "invalid-schedule" and caught.value.status == 400
    return [error["field"] for error in caught.value.extra["errors"]]


# --- the examples of the AWS docs' cron and rate tables, over a whole month (UTC) ---------

AWS_CRON_EXAMPLES = {
    # Run at 10:00 am (UTC+0) every day
    "cron(0 10 * * ? *)": lambda t: (t.hour, t.minute) == (10, 0),
    # Run at 12:15 pm (UTC+0) every day
    "cron(15 12 * * ? *)": lambda t: (t.hour, t.minute) == (12, 15),
    # Run at 6:00 pm (UTC+0) every Monday through Friday
    "cron(0 18 ? * MON-FRI *)": lambda t: (t.hour, t.minute) == (18, 0) and t.weekday() < 5,
    # Run at 8:00 am (UTC+0) every 1st day of the month
    "cron(0 8 1 * ? *)": lambda t: (t.day, t.hour, t.minute) == (1, 8, 0),
    # Run every 15 minutes
    "cron(0/15 * * * ? *)": lambda t: t.minute % 15 == 0,
    # Run every 10 minutes Monday through Friday
    "cron(0/10 * ? * MON-FRI *)": lambda t: t.minute % 10 == 0 and t.weekday() < 5,
    # Run every 5 minutes Monday through Friday between 8:00 am and 5:55 pm (UTC+0)
    "cron(0/5 8-17 ? * MON-FRI *)":
        lambda t: t.minute % 5 == 0 and 8 <= t.hour <= 17 and t.weekday() < 5,
    # Run at 9:00 am (UTC+0) the first Monday of each month
    "cron(0 9 ? * 2#1 *)": lambda t: (t.hour, t.minute) == (9, 0) and t.weekday() == 0
                                      and t.day <= 7,
    # "cron(0 20 * * ? *)": the example of the PutRule API reference
    "cron(0 20 * * ? *)": lambda t: (t.hour, t.minute) == (20, 0),
}


@pytest.mark.parametrize("expression", AWS_CRON_EXAMPLES)
def test_aws_doc_cron_examples_fire_at_the_documented_instants(expression):
    expected = every_minute_matching(AWS_CRON_EXAMPLES[expression])
    assert expected, "the window must contain fires"
    assert fires(parse(expression), MARCH_START, MARCH_END) == expected


@pytest.mark.parametrize("expression, period", [
    ("rate(5 minutes)", timedelta(minutes=5)),
    ("rate(1 hour)", timedelta(hours=1)),
    ("rate(7 days)", timedelta(days=7)),
    ("rate(1 minute)", timedelta(minutes=1)),
    ("rate(12 hours)", timedelta(hours=12)),
    ("rate(1 day)", timedelta(days=1)),
])
def test_aws_doc_rate_examples_fire_every_period_from_the_anchor(expression, period):
    anchor = utc(2026, 2, 27, 10, 17, 30)
    expected = every_minute_matching(
        lambda t: (t - anchor) % period == timedelta(0),
        start=MARCH_START + timedelta(seconds=30), end=MARCH_END)
    assert fires(parse(expression), MARCH_START, MARCH_END, anchor=anchor) == expected


def test_a_rate_first_fires_one_period_after_its_anchor():
    created = utc(2026, 3, 10, 8, 0, 12)
    schedule = parse("rate(7 days)")
    assert schedule.next_after(created, anchor=created) == utc(2026, 3, 17, 8, 0, 12)
    assert schedule.next_after(utc(2026, 1, 1), anchor=created) == utc(2026, 3, 17, 8, 0, 12)


def test_a_rate_stays_on_its_anchor_grid_when_asked_between_fires():
    anchor = utc(2026, 3, 1, 0, 0, 0)
    schedule = parse("rate(15 minutes)")
    assert schedule.next_after(utc(2026, 3, 1, 0, 29, 59), anchor) == utc(2026, 3, 1, 0, 30)
    assert schedule.next_after(utc(2026, 3, 1, 0, 30), anchor) == utc(2026, 3, 1, 0, 45)


def test_a_rate_without_an_anchor_fires_one_period_after_the_last_fire():
    assert parse("rate(2 hours)").next_after(utc(2026, 3, 1, 9, 41)) == utc(2026, 3, 1, 11, 41)


def test_a_rate_of_days_is_elapsed_time_across_a_dst_change():
    schedule = parse("rate(1 day)", "America/New_York")
    anchor = utc(2026, 3, 7, 14, 0)                       # 09:00 EST
    assert schedule.upcoming(anchor, 2, anchor=anchor) == [
        datetime(2026, 3, 8, 10, 0, tzinfo=ZoneInfo("America/New_York")),   # 10:00 EDT
        datetime(2026, 3, 9, 10, 0, tzinfo=ZoneInfo("America/New_York")),
    ]


# --- L, W, #, year, names, ranges and steps ------------------------------------------------

def last_of(days, keep) -> list[date]:
    """The last day of each month among ``days`` for which ``keep`` holds."""
    chosen: dict[tuple[int, int], date] = {}
    for day in days:
        if keep(day):
            chosen[(day.year, day.month)] = day
    return sorted(chosen.values())


def nearest_weekday(year: int, month: int, day: int) -> date:
    """Quartz's nW: the weekday nearest the day, never leaving the month."""
    target = date(year, month, day)
    if target.weekday() == 5:
        return target - timedelta(days=1) if day > 1 else target + timedelta(days=2)
    if target.weekday() == 6:
        last = days_in_month(target)
        return target + timedelta(days=1) if day < last else target - timedelta(days=2)
    return target


SPECIAL_DAYS_2026 = {
    "cron(0 12 L * ? *)": last_of(days_of(2026), lambda d: True),
    "cron(0 12 LW * ? *)": last_of(days_of(2026), weekday_of),
    "cron(0 12 ? * 6L *)": last_of(days_of(2026), lambda d: d.weekday() == 4),
    "cron(0 12 ? * FRIL *)": last_of(days_of(2026), lambda d: d.weekday() == 4),
    "cron(0 12 ? * L *)": [d for d in days_of(2026) if d.weekday() == 5],
    "cron(0 12 15W * ? *)": [nearest_weekday(2026, m, 15) for m in range(1, 13)],
    "cron(0 12 1W * ? *)": [nearest_weekday(2026, m, 1) for m in range(1, 13)],
    "cron(0 12 ? * 6#5 *)": [d for d in days_of(2026) if d.weekday() == 4 and d.day > 28],
    "cron(0 12 ? * TUE#2 *)": [d for d in days_of(2026) if d.weekday() == 1
                               and 8 <= d.day <= 14],
    "cron(0 12 L FEB ? *)": [date(2026, 2, 28)],
    "cron(0 12 1/10 * ? *)": [d for d in days_of(2026) if d.day in (1, 11, 21, 31)],
    "cron(0 12 ? JAN-MAR,DEC MON,WED,FRI *)":
        [d for d in days_of(2026) if d.month in (1, 2, 3, 12) and d.weekday() in (0, 2, 4)],
    "cron(0 12 ? jan sun *)": [d for d in days_of(2026) if d.month == 1 and d.weekday() == 6],
    "cron(0 12 ? * 1,7 *)": [d for d in days_of(2026) if d.weekday() in (5, 6)],
}


@pytest.mark.parametrize("expression", SPECIAL_DAYS_2026)
def test_special_day_forms_pick_the_days_quartz_and_aws_describe(expression):
    expected = at_noon(SPECIAL_DAYS_2026[expression])
    assert fires(parse(expression), utc(2026, 1, 1), utc(2027, 1, 1)) == expected


def test_1w_on_a_saturday_the_first_moves_forward_to_monday_not_into_last_month():
    assert parse("cron(0 12 1W * ? *)").next_after(utc(2026, 7, 31)) == utc(2026, 8, 3, 12)


def test_lw_on_a_month_ending_on_sunday_is_the_friday_before():
    assert parse("cron(0 12 LW * ? *)").next_after(utc(2026, 5, 1)) == utc(2026, 5, 29, 12)


def test_the_year_field_restricts_the_years_that_match():
    schedule = parse("cron(0 12 1 1 ? 2027,2029)")
    assert fires(schedule, utc(2026, 1, 1), utc(2199, 1, 1)) == [utc(2027, 1, 1, 12),
                                                                 utc(2029, 1, 1, 12)]


def test_a_year_range_with_a_step_counts_from_its_start():
    schedule = parse("cron(0 0 1 1 ? 2026-2034/4)")
    assert fires(schedule, utc(2025, 1, 1), utc(2199, 1, 1)) == [
        utc(2026, 1, 1), utc(2030, 1, 1), utc(2034, 1, 1)]


def test_a_last_friday_schedule_limited_to_one_year_stops_after_it():
    schedule = parse("cron(15 10 ? * 6L 2026)")
    assert schedule.next_after(utc(2026, 12, 1)) == utc(2026, 12, 25, 10, 15)
    assert schedule.next_after(utc(2026, 12, 25, 10, 15)) is None


def test_years_up_to_2199_are_reachable_and_the_range_ends_there():
    assert parse("cron(0 0 1 1 ? 2199)").next_after(utc(2026, 1, 1)) == utc(2199, 1, 1)
    assert parse("cron(0 0 1 1 ? *)").next_after(utc(2199, 1, 1)) is None


def test_a_past_year_range_never_fires_again():
    assert parse("cron(0 12 * * ? 1970-1971)").next_after(utc(2026, 1, 1)) is None


def test_a_date_that_never_occurs_never_fires():
    assert parse("cron(0 0 30 2 ? *)").next_after(utc(2026, 1, 1)) is None


@pytest.mark.parametrize("expression, minutes", [
    ("cron(5/20 10 * * ? *)", [5, 25, 45]),
    ("cron(1-5/2 10 * * ? *)", [1, 3, 5]),
    ("cron(*/20 10 * * ? *)", [0, 20, 40]),
    ("cron(0,7,59 10 * * ? *)", [0, 7, 59]),
    ("cron(10-12,30 10 * * ? *)", [10, 11, 12, 30]),
])
def test_minute_lists_ranges_and_steps_select_those_minutes(expression, minutes):
    expected = [utc(2026, 3, 2, 10, m) for m in minutes]
    assert fires(parse(expression), utc(2026, 3, 2), utc(2026, 3, 3)) == expected


def test_day_of_week_numbers_are_one_based_from_sunday():
    schedule = parse("cron(0 12 ? * 1 *)")                 # 1 = SUN
    assert schedule.next_after(utc(2026, 3, 2)) == utc(2026, 3, 8, 12)
    assert parse("cron(0 12 ? * 2-6 *)").upcoming(utc(2026, 3, 7), 6) == [
        utc(2026, 3, d, 12) for d in (9, 10, 11, 12, 13, 16)]


def test_a_crontab_line_splits_on_any_blanks_and_keeps_single_spaces_in_the_text():
    schedule = parse("0  10 *\t* *")
    assert (schedule.kind, schedule.text, schedule.timezone) == ("crontab", "0 10 * * *", "UTC")


def test_an_aws_expression_is_kept_as_given():
    schedule = parse("cron(0 10 * * ? *)")
    assert (schedule.kind, schedule.text, schedule.timezone) == ("cron", "cron(0 10 * * ? *)",
                                                                 "UTC")


# AWS refuses whitespace around the expression, inside the parentheses' ends, and
# anything but one space between the parts (its own linter, cfn-lint E3027, splits
# on exactly one space too).
WHITESPACE_REFUSED = [
    (" rate(5 minutes)", "expression"),
    ("rate(5 minutes) ", "expression"),
    ("cron(0 9 * * ? *) ", "expression"),
    ("\tcron(0 9 * * ? *)", "expression"),
    ("at(2026-12-24T10:00:00)\n", "expression"),
    ("\u00a0at(2026-12-24T10:00:00)", "expression"),
    (" 0 10 * * *", "expression"),                           # a crontab line too
    ("cron( 0 9 * * ? *)", "expression"),
    ("cron(0 9 * * ? * )", "expression"),
    ("cron(0  9 * * ? *)", "expression"),
    ("cron(0 9 *\t* ? *)", "expression"),
    ("cron(0 9 * * ?\n*)", "expression"),
    ("rate( 5 minutes)", "expression.rate"),
    ("rate(5 minutes )", "expression.rate"),
    ("rate(5  minutes)", "expression.rate"),
    ("rate(5\tminutes)", "expression.rate"),
    ("at( 2026-12-24T10:00:00)", "expression.at"),
    ("at(2026-12-24T10:00:00 )", "expression.at"),
]


@pytest.mark.parametrize("expression, field", WHITESPACE_REFUSED)
def test_whitespace_aws_refuses_is_refused_naming_the_field(expression, field):
    assert invalid_fields(expression) == [field]


def test_leading_whitespace_is_named_in_the_message():
    with pytest.raises(ValidationFailed) as caught:
        parse(" rate(5 minutes)")
    assert caught.value.code == "invalid-schedule"
    assert "leading or trailing whitespace" in caught.value.extra["errors"][0]["message"]


# --- what AWS refuses --------------------------------------------------------------------

INVALID = [
    ("cron(0 10 * * ?)", "expression"),                      # 5 fields inside cron()
    ("cron(0 0 10 * * ? *)", "expression"),                  # 7 fields
    ("cron()", "expression"),
    ("cron(60 10 * * ? *)", "expression.minutes"),
    ("cron(-1 10 * * ? *)", "expression.minutes"),
    ("cron(? 10 * * ? *)", "expression.minutes"),
    ("cron(1.5 10 * * ? *)", "expression.minutes"),
    ("cron(0/0 10 * * ? *)", "expression.minutes"),
    ("cron(0/61 10 * * ? *)", "expression.minutes"),
    ("cron(*,5 10 * * ? *)", "expression.minutes"),
    ("cron(0 24 * * ? *)", "expression.hours"),
    ("cron(0 22-2 * * ? *)", "expression.hours"),            # wrap-around range
    ("cron(0 L * * ? *)", "expression.hours"),
    ("cron(0 10 32 * ? *)", "expression.day-of-month"),
    ("cron(0 10 0 * ? *)", "expression.day-of-month"),
    ("cron(0 10 5-1 * ? *)", "expression.day-of-month"),
    ("cron(0 10 1,,2 * ? *)", "expression.day-of-month"),
    ("cron(0 10 L-2 * ? *)", "expression.day-of-month"),
    ("cron(0 10 32W * ? *)", "expression.day-of-month"),
    ("cron(0 10 1W,15W * ? *)", "expression.day-of-month"),
    ("cron(0 10 W * ? *)", "expression.day-of-month"),
    ("cron(0 10 * 13 ? *)", "expression.month"),
    ("cron(0 10 * 0 ? *)", "expression.month"),
    ("cron(0 10 * JANUARY ? *)", "expression.month"),
    ("cron(0 10 * ? ? *)", "expression.month"),
    ("cron(0 10 ? * 8 *)", "expression.day-of-week"),
    ("cron(0 10 ? * 0 *)", "expression.day-of-week"),
    ("cron(0 10 ? * FUNDAY *)", "expression.day-of-week"),
    ("cron(0 10 ? * 1/2 *)", "expression.day-of-week"),      # AWS allows no '/' here
    ("cron(0 10 ? * 6#6 *)", "expression.day-of-week"),
    ("cron(0 10 ? * 6#0 *)", "expression.day-of-week"),
    ("cron(0 10 ? * 8L *)", "expression.day-of-week"),
    ("cron(0 10 ? * 2#1,3#1 *)", "expression.day-of-week"),
    ("cron(0 10 ? * MON,6L *)", "expression.day-of-week"),
    ("cron(0 10 ? * # *)", "expression.day-of-week"),
    ("cron(0 10 1 * MON *)", "expression.day-of-week"),      # both days given
    ("cron(0 10 ? * ? *)", "expression.day-of-week"),        # neither day given
    ("cron(0 10 * * * *)", "expression.day-of-week"),        # '*' in both, no '?'
    ("cron(0 10 * * MON *)", "expression.day-of-month"),     # the '*' must be '?'
    ("cron(0 10 * * ? 1969)", "expression.year"),
    ("cron(0 10 * * ? 2200)", "expression.year"),
    ("cron(0 10 * * ? L)", "expression.year"),
    ("cron(0 10 * * ? */0)", "expression.year"),
    ("cron(0 10 * * ? 2030-2026)", "expression.year"),
    ("rate(0 minutes)", "expression.rate"),
    ("rate(1 minutes)", "expression.rate"),
    ("rate(5 minute)", "expression.rate"),
    ("rate(1 hours)", "expression.rate"),
    ("rate(2 day)", "expression.rate"),
    ("rate(-1 hours)", "expression.rate"),
    ("rate(+5 minutes)", "expression.rate"),
    ("rate(1.5 hours)", "expression.rate"),
    ("rate(five minutes)", "expression.rate"),
    ("rate(5 weeks)", "expression.rate"),
    ("rate(5 seconds)", "expression.rate"),
    ("rate(5)", "expression.rate"),
    ("rate(5 minutes please)", "expression.rate"),
    ("at(2026-02-30T10:00:00)", "expression.at"),
    ("at(2026-13-01T10:00:00)", "expression.at"),
    ("at(2026-01-01T24:00:00)", "expression.at"),
    ("at(2026-01-01 10:00:00)", "expression.at"),
    ("at(2026-01-01T10:00)", "expression.at"),
    ("at(2026-1-01T10:00:00)", "expression.at"),
    ("at(2026-01-01T10:00:00Z)", "expression.at"),
    ("every(5 minutes)", "expression"),
    ("CRON(0 10 * * ? *)", "expression"),
    ("cron(0 10 * * ? *", "expression"),
    ("", "expression"),
    ("   ", "expression"),
    ("0 10 * * ? *", "expression"),                          # AWS fields without cron()
    ("* * * *", "expression"),
    ("@reboot", "expression"),
    ("60 * * * *", "expression.minutes"),
    ("? * * * *", "expression.minutes"),
    ("5/15 * * * *", "expression.minutes"),                  # Vixie steps need * or a range
    ("* 24 * * *", "expression.hours"),
    ("0 0 L * *", "expression.day-of-month"),
    ("0 0 * 13 *", "expression.month"),
    ("* * * * 8", "expression.day-of-week"),
    ("0 0 * * 1#2", "expression.day-of-week"),
]


@pytest.mark.parametrize("expression, field", INVALID)
def test_an_invalid_expression_is_refused_naming_the_field(expression, field):
    assert invalid_fields(expression) == [field]


def test_every_wrong_field_is_named_at_once():
    assert invalid_fields("cron(60 24 * * ? 1900)") == [
        "expression.minutes", "expression.hours", "expression.year"]


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "America/NewYork", "", "../etc/passwd",
                                  "EST5EDT/x"])
def test_an_unknown_time_zone_is_refused_naming_timezone(name):
    assert invalid_fields("rate(5 minutes)", name) == ["timezone"]


def test_a_bad_zone_and_a_bad_expression_are_both_reported():
    assert invalid_fields("rate(0 minutes)", "Nowhere/Land") == ["timezone", "expression.rate"]


def test_a_non_string_expression_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        parse(None)                                      # type: ignore[arg-type]
    assert caught.value.extra["errors"][0]["field"] == "expression"


@pytest.mark.parametrize("expression, words", [
    ("cron(0 10 ? * 8 *)", "day-of-week: 8 is out of range 1-7 (1 = SUN"),
    ("cron(60 10 * * ? *)", "minutes: 60 is out of range 0-59"),
    ("rate(1 minutes)", "rate(1 minute)"),
    ("rate(5 minute)", "rate(5 minutes)"),
    ("cron(0 10 * * MON *)", "put '?' in one"),
    ("cron(0 10 * * ?)", "cron() takes 6 fields"),
    ("0 10 * * ? *", "cron(...) wrapper"),
])
def test_messages_tell_a_human_what_is_wrong(expression, words):
    with pytest.raises(ValidationFailed) as caught:
        parse(expression)
    assert words in caught.value.extra["errors"][0]["message"]
    assert words in caught.value.detail
    assert caught.value.to_problem()["code"] == "invalid-schedule"


# --- time zones and daylight saving time --------------------------------------------------

def local_wall_clock(zone_name, hour, minute):
    zone = ZoneInfo(zone_name)
    return lambda t: (t.astimezone(zone).hour, t.astimezone(zone).minute) == (hour, minute)


def test_nine_am_new_york_is_14_utc_before_the_march_change_and_13_after():
    schedule = parse("cron(0 9 * * ? *)", "America/New_York")
    found = fires(schedule, MARCH_START, MARCH_END)
    assert found == every_minute_matching(local_wall_clock("America/New_York", 9, 0))
    assert utc(2026, 3, 7, 14, 0) in found and utc(2026, 3, 9, 13, 0) in found
    assert utc(2026, 3, 8, 13, 0) in found                 # the change is at 02:00 on the 8th


def test_nine_am_berlin_is_8_utc_before_the_last_sunday_of_march_and_7_after():
    schedule = parse("cron(0 9 * * ? *)", "Europe/Berlin")
    found = fires(schedule, MARCH_START, MARCH_END)
    assert found == every_minute_matching(local_wall_clock("Europe/Berlin", 9, 0))
    assert utc(2026, 3, 28, 8, 0) in found and utc(2026, 3, 29, 7, 0) in found


def test_a_zone_without_dst_keeps_its_half_hour_offset():
    assert parse("cron(0 9 * * ? *)", "Asia/Kolkata").next_after(MARCH_START) == \
        utc(2026, 3, 1, 3, 30)


def test_a_cron_time_inside_the_spring_forward_gap_is_skipped():
    schedule = parse("cron(30 2 * * ? *)", "America/New_York")
    assert fires(schedule, utc(2026, 3, 7), utc(2026, 3, 10)) == [
        utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 6, 30)]


def test_half_hourly_cron_skips_the_missing_hour_and_goes_on_after_it():
    schedule = parse("cron(0/30 * * * ? *)", "America/New_York")
    assert fires(schedule, utc(2026, 3, 8, 5, 30), utc(2026, 3, 8, 8, 1)) == [
        utc(2026, 3, 8, 5, 30), utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 6, 30),  # 00:30-01:30 EST
        utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 8, 0)]   # 03:00 EDT on


def test_a_cron_time_in_the_repeated_fall_back_hour_fires_once_at_its_first_occurrence():
    schedule = parse("cron(30 1 * * ? *)", "America/New_York")
    assert fires(schedule, utc(2026, 10, 31), utc(2026, 11, 3)) == [
        utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]


def test_half_hourly_cron_is_silent_during_the_second_pass_of_the_repeated_hour():
    schedule = parse("cron(0/30 * * * ? *)", "America/New_York")
    assert fires(schedule, utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 7, 31)) == [
        utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 5, 30),  # EDT
        utc(2026, 11, 1, 7, 0), utc(2026, 11, 1, 7, 30)]                           # 02:00 EST
    assert schedule.next_after(utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 1, 7, 0)


def test_berlin_fall_back_repeats_2_30_but_it_fires_once():
    schedule = parse("cron(30 2 * * ? *)", "Europe/Berlin")
    assert fires(schedule, utc(2026, 10, 25), utc(2026, 10, 26)) == [utc(2026, 10, 25, 0, 30)]


def test_upcoming_lists_the_next_five_in_the_schedule_zone():
    zone = ZoneInfo("America/New_York")
    found = parse("cron(0 9 ? * MON-FRI *)", "America/New_York").upcoming(utc(2026, 3, 5))
    assert found == [datetime(2026, 3, d, 9, 0, tzinfo=zone) for d in (5, 6, 9, 10, 11)]
    assert all(moment.tzinfo == zone for moment in found)
    assert [m.utcoffset() for m in found[:2]] == [timedelta(hours=-5)] * 2


def test_next_after_answers_in_utc_whatever_zone_it_is_asked_in():
    asked = datetime(2026, 3, 1, 4, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    answer = parse("cron(0 10 * * ? *)").next_after(asked)
    assert answer == utc(2026, 3, 1, 10) and answer.tzinfo == UTC


def test_a_naive_datetime_is_a_programming_error():
    with pytest.raises(ValueError):
        parse("cron(0 10 * * ? *)").next_after(datetime(2026, 3, 1))


# --- one-time schedules ------------------------------------------------------------------

def test_at_fires_once_at_its_wall_time_in_the_schedule_zone():
    schedule = parse("at(2026-06-01T09:30:00)", "Europe/Berlin")
    assert schedule.next_after(utc(2026, 5, 1)) == utc(2026, 6, 1, 7, 30)
    assert schedule.upcoming(utc(2026, 5, 1)) == [
        datetime(2026, 6, 1, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))]


def test_at_in_the_past_never_fires():
    schedule = parse("at(2026-06-01T09:30:00)")
    assert schedule.next_after(utc(2026, 6, 1, 9, 30)) is None
    assert schedule.next_after(utc(2027, 1, 1)) is None


def test_at_keeps_its_seconds():
    assert parse("at(2026-06-01T09:30:45)").next_after(utc(2026, 6, 1)) == \
        utc(2026, 6, 1, 9, 30, 45)


def test_at_inside_the_spring_forward_gap_fires_when_the_gap_ends():
    schedule = parse("at(2026-03-08T02:30:00)", "America/New_York")
    assert schedule.next_after(utc(2026, 3, 1)) == utc(2026, 3, 8, 7, 0)   # 03:00 EDT


def test_at_in_the_repeated_hour_fires_at_the_first_occurrence():
    schedule = parse("at(2026-11-01T01:30:00)", "America/New_York")
    assert schedule.next_after(utc(2026, 10, 1)) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT


# --- classic crontab ---------------------------------------------------------------------

CRONTAB_MARCH = {
    "*/5 * * * *": lambda t: t.minute % 5 == 0,
    "0 9 * * MON-FRI": lambda t: (t.hour, t.minute) == (9, 0) and t.weekday() < 5,
    "0 9 * * 1-5": lambda t: (t.hour, t.minute) == (9, 0) and t.weekday() < 5,
    "0 0 * * 0": lambda t: (t.hour, t.minute) == (0, 0) and t.weekday() == 6,
    "0 0 * * 7": lambda t: (t.hour, t.minute) == (0, 0) and t.weekday() == 6,
    "0 0 * * 5-7": lambda t: (t.hour, t.minute) == (0, 0) and t.weekday() in (4, 5, 6),
    "30 2 1,15 * *": lambda t: (t.day, t.hour, t.minute) in ((1, 2, 30), (15, 2, 30)),
    "0 12 * mar,apr *": lambda t: (t.hour, t.minute) == (12, 0),
    "0 8-18/2 * * *": lambda t: t.minute == 0 and t.hour in (8, 10, 12, 14, 16, 18),
    # Vixie: both day fields restricted, so either may match
    "0 0 1,15 * 5": lambda t: (t.hour, t.minute) == (0, 0) and (t.day in (1, 15)
                                                                or t.weekday() == 4),
    "0 0 1-31 * 1": lambda t: (t.hour, t.minute) == (0, 0),
    # Vixie: a day field starting with '*' makes both fields required
    "0 0 */2 * 5": lambda t: (t.hour, t.minute) == (0, 0) and t.day % 2 == 1
                             and t.weekday() == 4,
    "@hourly": lambda t: t.minute == 0,
    "@daily": lambda t: (t.hour, t.minute) == (0, 0),
    "@midnight": lambda t: (t.hour, t.minute) == (0, 0),
    "@weekly": lambda t: (t.hour, t.minute) == (0, 0) and t.weekday() == 6,
    "@monthly": lambda t: (t.day, t.hour, t.minute) == (1, 0, 0),
}


@pytest.mark.parametrize("expression", CRONTAB_MARCH)
def test_crontab_lines_fire_as_vixie_cron_would(expression):
    schedule = parse(expression)
    assert schedule.kind == "crontab"
    assert fires(schedule, MARCH_START, MARCH_END) == every_minute_matching(
        CRONTAB_MARCH[expression])


def test_crontab_yearly_fires_on_new_year():
    assert parse("@yearly").upcoming(utc(2026, 3, 1), 2) == [utc(2027, 1, 1), utc(2028, 1, 1)]


def test_crontab_runs_on_the_zone_wall_clock_too():
    assert parse("0 9 * * *", "America/New_York").next_after(utc(2026, 3, 9)) == \
        utc(2026, 3, 9, 13, 0)
