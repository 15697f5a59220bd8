"""Schedule expressions read as AWS EventBridge Scheduler reads them, evaluated locally.

A schedule fires on ``cron(...)``, ``rate(...)`` or ``at(...)`` exactly as
EventBridge Scheduler accepts them (so a schedule can move to AWS unchanged),
or on a classic five-field crontab line.  ``parse`` refuses what AWS refuses,
naming the field; ``next_after`` answers "when does it fire next?" once per
fire, so it is cheap: the parsed plan and its croniter are built once.

Choices, after the EventBridge Scheduler user guide ("Schedule types",
"Daylight saving time") and the AWS knowledge-center note on DST:

* cron and crontab run on the wall clock of the schedule's IANA time zone.
  At a spring-forward gap a wall time that does not exist is **skipped**
  (AWS: "your schedule invocation gets skipped if the cron expression falls on
  a non-existent date and time"); at a fall-back repeat a wall time fires
  **once**, at its first occurrence (AWS: "runs only once and doesn't repeat
  its invocation").
* ``at()`` is a one-time schedule, so it is never skipped: a time inside a gap
  fires at the first instant after the gap (03:00 for 02:30 on a 02:00->03:00
  night); a repeated time fires at its first occurrence.
* ``rate()`` is elapsed time, whatever the zone (AWS: a day is 24 hours "after
  the schedule's last invocation").  Fires are ``anchor + k * rate`` for
  k >= 1, the anchor being the schedule's start (or creation) instant, so the
  first fire is one rate after the start.  Without an anchor, ``after`` is the
  anchor: the next fire is one rate after the last one.
"""
from __future__ import annotations

import bisect
import functools
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as _tz
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.domain.cron_syntax import (CRONTAB_ALIASES, CronPlan, CronSyntaxError,
                                           compile_aws, compile_crontab)
from chalicelib.errors import ValidationFailed

KINDS = ("cron", "rate", "at", "crontab")
UTC = _tz.utc

_WRAPPED = re.compile(r"([a-z]+)\((.*)\)", re.DOTALL)
_AT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})", re.ASCII)
_RATE_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1),
               "day": timedelta(days=1)}
_SPACE = re.compile(r"\s")
_CRON_FIELDS = "minutes hours day-of-month month day-of-week year"
# Candidates a cron search may pass over before giving up: a gap or a repeated
# hour costs one per matching minute (a whole skipped day, as in Samoa 2011, 1440).
_MAX_SKIPPED = 4000


class _Invalid(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class ScheduleExpression:
    """A parsed schedule expression; build it with ``parse``."""

    kind: str          # "cron" | "rate" | "at" | "crontab"
    text: str          # as given (a crontab line: fields joined by single spaces)
    timezone: str      # IANA name; cron, crontab and at() read the wall clock there
    _rule: _Rule = field(repr=False, compare=False)

    def next_after(self, after: datetime, anchor: datetime | None = None) -> datetime | None:
        """The first fire strictly after ``after``, as an aware UTC datetime.

        Args:
            after: an aware datetime (any zone).
            anchor: for ``rate()``, the schedule's start instant (see the module
                docstring); ignored by the other kinds.
        Returns:
            ``None`` when the schedule never fires again (``at()`` passed, the
            year field exhausted, a date that never occurs).
        """
        return self._rule.next_after(_aware("after", after),
                                     None if anchor is None else _aware("anchor", anchor))

    def upcoming(self, after: datetime, count: int = 5,
                 anchor: datetime | None = None) -> list[datetime]:
        """The next ``count`` fires after ``after``, in the schedule's time zone."""
        zone = ZoneInfo(self.timezone)
        fires: list[datetime] = []
        while len(fires) < count:
            after = self.next_after(after, anchor)
            if after is None:
                break
            fires.append(after.astimezone(zone))
        return fires


def parse(expression: str, timezone: str = "UTC") -> ScheduleExpression:
    """Parse ``expression`` for a schedule in the IANA zone ``timezone``.

    Raises:
        ValidationFailed: 400 ``invalid-schedule``; ``errors`` lists every bad
            part, ``field`` being ``timezone``, ``expression`` (wrong shape) or
            ``expression.<part>`` (``minutes`` ... ``year``, ``rate``, ``at``).
    """
    if not isinstance(expression, str) or not isinstance(timezone, str):
        errors = [] if isinstance(expression, str) else [
            ("expression", "the expression must be a string")]
        if not isinstance(timezone, str):
            errors.append(("timezone", "the time zone must be a string (an IANA name)"))
        raise _failure(errors)
    return _parse(expression, timezone)


@functools.lru_cache(maxsize=1024)
def _parse(text: str, timezone: str) -> ScheduleExpression:
    errors: list[tuple[str, str]] = []
    zone = None
    try:
        zone = _zone(timezone)
    except _Invalid as exc:
        errors.append((exc.field, exc.message))
    try:
        kind, text, build = _shape(text)
        rule = build(zone) if zone is not None else None
    except _Invalid as exc:
        errors.append((exc.field, exc.message))
    except CronSyntaxError as exc:
        errors.extend((f"expression.{name}", message) for name, message in exc.errors)
    if errors:
        raise _failure(errors)
    return ScheduleExpression(kind, text, timezone, rule)


def _failure(errors: list[tuple[str, str]]) -> ValidationFailed:
    detail = "invalid schedule: " + "; ".join(message for _, message in errors)
    return ValidationFailed(detail, code="invalid-schedule",
                            extra={"errors": [{"field": f, "message": m} for f, m in errors]})


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _Invalid("timezone", f"timezone: {name!r} is not an IANA time zone "
                                   "(e.g. UTC, Europe/Berlin, America/New_York)") from exc


def _shape(text: str):
    """``(kind, normalised text, build(zone) -> rule)`` for the expression's form."""
    if not text.strip():
        raise _Invalid("expression", "the expression is empty")
    if text != text.strip():
        # AWS refuses " rate(5 minutes)" and "cron(0 9 * * ? *)\n": so do we, rather
        # than accept a schedule that would not deploy.
        raise _Invalid("expression", f"{text!r} has leading or trailing whitespace, "
                                     "which AWS refuses: remove it")
    wrapped = _WRAPPED.fullmatch(text)
    if wrapped:
        kind, body = wrapped.group(1), wrapped.group(2)
        if kind == "cron":
            fields = body.split(" ")
            if body and (not all(fields) or _SPACE.search(body.replace(" ", ""))):
                raise _Invalid("expression", "cron(): separate the fields by single spaces, "
                                             "with none after '(' or before ')'; "
                                             f"got {text}")
            if len(fields) != 6:
                raise _Invalid("expression", f"cron() takes 6 fields ({_CRON_FIELDS}), "
                                             f"got {len(body.split())}")
            plan = compile_aws(fields)
            return kind, text, lambda zone: _CronRule(plan, zone)
        if kind == "rate":
            period = _rate(body)
            return kind, text, lambda zone: _RateRule(period)
        if kind == "at":
            wall = _at(body)
            return kind, text, lambda zone: _AtRule(_first_instant_from(wall, zone))
        raise _Invalid("expression", f"{kind}(...) is not a schedule type: "
                                     "use cron(...), rate(...) or at(...)")
    if "(" in text or ")" in text:
        raise _Invalid("expression", f"{text!r} is not cron(...), rate(...) or at(...) "
                                     "(lower case, balanced parentheses)")
    # A crontab line is ours, not AWS's: fields split on any run of blanks, as
    # Vixie cron splits them, and the text keeps them joined by single spaces.
    fields = CRONTAB_ALIASES.get(text, text).split()
    if text not in CRONTAB_ALIASES:
        text = " ".join(fields)
    if text.startswith("@") and text not in CRONTAB_ALIASES:
        raise _Invalid("expression", f"{text} is not supported: use one of "
                                     + ", ".join(CRONTAB_ALIASES))
    if len(fields) != 5:
        hint = " (an AWS cron expression needs the cron(...) wrapper)" if len(fields) == 6 else ""
        raise _Invalid("expression", f"a crontab line takes 5 fields (minute hour "
                                     f"day-of-month month day-of-week), got {len(fields)}{hint}")
    plan = compile_crontab(fields)
    return "crontab", text, lambda zone: _CronRule(plan, zone)


def _rate(body: str) -> timedelta:
    parts = body.split(" ")
    if len(parts) != 2 or not all(parts) or _SPACE.search(body.replace(" ", "")):
        raise _Invalid("expression.rate", "rate() takes a value and a unit separated by "
                                          f"one space, e.g. rate(5 minutes); got rate({body})")
    value, unit = parts
    if not value.isascii() or not value.isdigit() or int(value) == 0:
        raise _Invalid("expression.rate", f"rate: the value must be a positive whole number, "
                                          f"got {value!r}")
    count, singular = int(value), unit[:-1] if unit.endswith("s") else unit
    if singular not in _RATE_UNITS:
        raise _Invalid("expression.rate", f"rate: the unit must be minute(s), hour(s) or "
                                          f"day(s), got {unit!r}")
    if count == 1 and unit != singular:
        raise _Invalid("expression.rate", f"rate: use the singular for 1, rate(1 {singular})")
    if count > 1 and unit == singular:
        raise _Invalid("expression.rate", f"rate: use the plural for more than 1, "
                                          f"rate({count} {singular}s)")
    try:
        return count * _RATE_UNITS[singular]
    except OverflowError as exc:
        raise _Invalid("expression.rate", f"rate: {count} {unit} is too long") from exc


def _at(body: str) -> datetime:
    parts = _AT.fullmatch(body)
    if not parts:
        raise _Invalid("expression.at", f"at() takes yyyy-mm-ddThh:mm:ss, got at({body})")
    try:
        return datetime(*(int(p) for p in parts.groups()))
    except ValueError as exc:
        raise _Invalid("expression.at", f"at: {body} is not a real date and time ({exc})") \
            from exc


def _aware(name: str, moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {moment!r}")
    return moment


def _instant(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The instant a wall-clock time names: the first of two, None inside a gap."""
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


def _first_instant_from(wall: datetime, zone: ZoneInfo) -> datetime:
    """``wall``'s instant, or for a wall time inside a gap the instant the gap ends."""
    instant = _instant(wall, zone)
    probe = wall.replace(second=0, microsecond=0)
    while instant is None:       # gaps end on a whole minute (tzdata transitions do)
        probe += timedelta(minutes=1)
        instant = _instant(probe, zone)
    return instant


class _Rule:
    def next_after(self, after: datetime, anchor: datetime | None) -> datetime | None:
        raise NotImplementedError


class _RateRule(_Rule):
    def __init__(self, period: timedelta) -> None:
        self.period = period

    def next_after(self, after, anchor):
        anchor = after if anchor is None else anchor
        periods = max(1, (after - anchor) // self.period + 1)
        try:
            return (anchor + periods * self.period).astimezone(UTC)
        except OverflowError:
            return None


class _AtRule(_Rule):
    def __init__(self, instant: datetime) -> None:
        self.instant = instant

    def next_after(self, after, anchor):
        return self.instant if self.instant > after else None


class _CronRule(_Rule):
    """Wall-clock matches come from croniter (naive local time); zones are applied here."""

    def __init__(self, plan: CronPlan, zone: ZoneInfo) -> None:
        self.plan, self.zone = plan, zone
        self._years = frozenset(plan.years or ())
        self._croniter = None
        self._lock = threading.Lock()   # a croniter keeps its position between calls

    def next_after(self, after, anchor):
        try:
            return self._search(after)
        except OverflowError:       # past datetime.max: nothing is left
            return None

    def _search(self, after: datetime) -> datetime | None:
        wall = after.astimezone(self.zone).replace(tzinfo=None)
        for _ in range(_MAX_SKIPPED):
            wall = self._next_wall(wall)
            if wall is None:
                return None
            instant = _instant(wall, self.zone)
            # Skipped: a wall time in a gap, and a repeated time's first occurrence
            # when ``after`` is already in the second one (it fired then).
            if instant is not None and instant > after:
                return instant
        return None

    def _next_wall(self, wall: datetime) -> datetime | None:
        from croniter import CroniterBadDateError
        while True:
            if self.plan.years:
                index = bisect.bisect_left(self.plan.years, wall.year)
                if index == len(self.plan.years):
                    return None
                if self.plan.years[index] > wall.year:
                    wall = datetime(self.plan.years[index], 1, 1) - timedelta(minutes=1)
            with self._lock:
                try:
                    match = self._iterator().get_next(datetime, start_time=wall)
                except CroniterBadDateError:
                    return None
            if not self.plan.years or match.year in self._years:
                return match
            wall = match

    def _iterator(self):
        if self._croniter is None:
            from croniter import croniter
            self._croniter = croniter(self.plan.expression, datetime(2000, 1, 1),
                                      day_or=self.plan.day_or)
        return self._croniter
