"""The grammar of cron fields: AWS EventBridge's six and classic crontab's five.

croniter does the date arithmetic, but it is more permissive than AWS (it takes
``?`` anywhere a ``*`` goes, wraps ranges that run backwards, reads ``5-5`` as
"every value") and it numbers days of the week 0-6 where AWS uses 1-7 with
1 = SUN.  So the user's text is never handed to croniter.  It is parsed here,
against the rules AWS documents for ``cron(...)`` (EventBridge Scheduler and
scheduled rules), and compiled to a ``CronPlan``: explicit value lists plus the
few special tokens croniter understands (``L``, ``nW``, ``Ln``, ``n#k``).
What croniter cannot express (years past 2099) stays in the plan for the
caller to apply.

AWS fields and wildcards (docs: "Cron expressions", EventBridge user guide)::

    minutes       0-59              , - * /
    hours         0-23              , - * /
    day-of-month  1-31              , - * ? / L W
    month         1-12 or JAN-DEC   , - * /
    day-of-week   1-7 or SUN-SAT    , - * ? L #
    year          1970-2199         , - * /

Exactly one of day-of-month / day-of-week is ``?``.  ``L``, ``LW``, ``nW``
(day-of-month) and ``L``, ``nL``, ``n#k`` (day-of-week) stand alone, as in
Quartz, which AWS follows.  Forms AWS does not document are refused rather than
guessed at: ``L-n``, wrap-around ranges (``22-2``), ``/`` in day-of-week.

Crontab is Vixie cron: five fields, day-of-week 0-7 (0 and 7 = SUN), no
``?``/``L``/``W``/``#``, steps only on ``*`` or a range.  Vixie matches a day
when day-of-month OR day-of-week matches, unless either field starts with
``*`` (then both must match): ``day_or`` carries that.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_MONTHS = {name: number for number, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

CRONTAB_ALIASES = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class CronSyntaxError(Exception):
    """One or more fields are not valid; ``errors`` holds ``(field, message)`` pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(message for _, message in errors))
        self.errors = errors


@dataclass(frozen=True)
class CronPlan:
    """What croniter is asked, plus what it cannot be asked.

    ``expression``: five croniter fields (minute hour day month weekday, 0 = SUN).
    ``day_or``: croniter's flag (Vixie: either day field may match).
    ``years``: the allowed years, ascending (AWS: 1970-2199 at most), or ``None``
    for any year (crontab).
    """

    expression: str
    day_or: bool = True
    years: tuple[int, ...] | None = None


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]
    hint: str = ""

    def out_of_range(self, value: int) -> str:
        return f"{self.name}: {value} is out of range {self.low}-{self.high}{self.hint}"


_MINUTES = _Field("minutes", 0, 59, {})
_HOURS = _Field("hours", 0, 23, {})
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, {})
_MONTH = _Field("month", 1, 12, _MONTHS, " (or JAN-DEC)")
_AWS_DAY_OF_WEEK = _Field("day-of-week", 1, 7, {d: n for n, d in enumerate(_DAYS, 1)},
                          " (1 = SUN; or SUN-SAT)")
_YEAR = _Field("year", 1970, 2199, {})
_CRONTAB_DAY_OF_WEEK = _Field("day-of-week", 0, 7, {d: n for n, d in enumerate(_DAYS)},
                              " (0 and 7 = SUN; or SUN-SAT)")

_CRONITER_DAY_OF_WEEK = _Field("day-of-week", 0, 6, {})

_NUMBER = re.compile(r"[0-9]+", re.ASCII)
_DAY_TOKEN = r"([0-9]+|[A-Z]{3})"
_NEAREST_WEEKDAY = re.compile(r"([0-9]+)W", re.ASCII)
_LAST_WEEKDAY_OF_MONTH = re.compile(_DAY_TOKEN + r"L", re.ASCII)
_NTH_WEEKDAY = re.compile(_DAY_TOKEN + r"#([0-9]+)", re.ASCII)


class _Invalid(Exception):
    pass


def _value(field: _Field, token: str) -> int:
    if token in field.names:
        return field.names[token]
    if not _NUMBER.fullmatch(token):
        if token == "?":
            raise _Invalid(f"{field.name}: '?' is only allowed in day-of-month or day-of-week")
        raise _Invalid(f"{field.name}: {token!r} is not a value of this field "
                       f"({field.low}-{field.high}{field.hint})")
    value = int(token)
    if not field.low <= value <= field.high:
        raise _Invalid(field.out_of_range(value))
    return value


def _values(field: _Field, text: str, *, step_on_value: bool = True,
            steps: bool = True) -> set[int]:
    """The values a list of ``v``, ``a-b``, ``*``, ``*/n``, ``a-b/n`` (``a/n``) selects."""
    items = text.split(",")
    values: set[int] = set()
    for item in items:
        if not item:
            raise _Invalid(f"{field.name}: empty item in the list {text!r}")
        base, slash, step_text = item.partition("/")
        if base == "*" and len(items) > 1:
            raise _Invalid(f"{field.name}: '*' cannot be combined with other values")
        start, end = field.low, field.high
        if base != "*":
            first, dash, last = base.partition("-")
            if dash and not (first and last):
                raise _Invalid(f"{field.name}: {base!r} is not a value or a range")
            start = _value(field, first)
            end = _value(field, last) if dash else (field.high if slash else start)
            if start > end:
                raise _Invalid(f"{field.name}: the range {base} runs backwards "
                               f"(wrap-around ranges are not accepted)")
            if slash and not dash and not step_on_value:
                raise _Invalid(f"{field.name}: a step needs '*' or a range "
                               f"(write {first}-{field.high}/{step_text} or */{step_text})")
        step = 1
        if slash:
            if not steps:
                raise _Invalid(f"{field.name}: '/' is not allowed here")
            limit = field.high - field.low if field is _YEAR else field.high
            if not _NUMBER.fullmatch(step_text) or not 1 <= int(step_text) <= limit:
                raise _Invalid(f"{field.name}: the step in {item!r} must be a whole "
                               f"number from 1 to {limit}")
            step = int(step_text)
        values.update(range(start, end + 1, step))
    return values


def _listed(values: set[int], field: _Field) -> str:
    if len(values) == field.high - field.low + 1:
        return "*"
    return ",".join(str(v) for v in sorted(values))


def _aws_day_of_month(text: str) -> str | None:
    """croniter's day field, or None for ``?``."""
    if text == "?":
        return None
    if text == "L":
        return "L"
    if text == "LW":
        # croniter clamps nW to the month's last day, so 31W is the last weekday
        # of every month (Quartz/AWS ``LW``); tests/unit pin that down.
        return "31W"
    nearest = _NEAREST_WEEKDAY.fullmatch(text)
    if nearest:
        day = int(nearest.group(1))
        if not 1 <= day <= 31:
            raise _Invalid(_DAY_OF_MONTH.out_of_range(day) + f" in {text}")
        return f"{day}W"
    if any(mark in text for mark in "?LW"):
        raise _Invalid("day-of-month: '?', 'L', 'LW' and 'nW' (e.g. 15W) stand alone, "
                       f"not in lists, ranges or offsets; got {text!r}")
    return _listed(_values(_DAY_OF_MONTH, text), _DAY_OF_MONTH)


def _aws_day_of_week(text: str) -> str | None:
    """croniter's weekday field (0 = SUN), or None for ``?``."""
    if text == "?":
        return None
    if text == "L":            # the last day of the week: Saturday
        return "6"
    last = _LAST_WEEKDAY_OF_MONTH.fullmatch(text)
    if last:
        return f"L{_value(_AWS_DAY_OF_WEEK, last.group(1)) - 1}"
    nth = _NTH_WEEKDAY.fullmatch(text)
    if nth:
        day = _value(_AWS_DAY_OF_WEEK, nth.group(1))
        if not 1 <= int(nth.group(2)) <= 5:
            raise _Invalid(f"day-of-week: in {text}, the number after '#' must be 1-5 "
                           "(the n-th such day of the month)")
        return f"{day - 1}#{int(nth.group(2))}"
    if any(mark in text for mark in "?L#"):
        raise _Invalid("day-of-week: '?', 'L', 'nL' (e.g. 6L) and 'n#k' (e.g. 2#1) "
                       f"stand alone, not in lists or ranges; got {text!r}")
    if "/" in text:
        raise _Invalid("day-of-week: '/' is not allowed here (AWS allows , - * ? L #)")
    values = _values(_AWS_DAY_OF_WEEK, text)
    return _listed({v - 1 for v in values}, _CRONITER_DAY_OF_WEEK)


def compile_aws(fields: list[str]) -> CronPlan:
    """The plan for the six fields of an AWS ``cron(...)`` expression.

    Raises:
        CronSyntaxError: naming every field that is wrong.
    """
    minutes, hours, day, month, weekday, year = (f.upper() for f in fields)
    errors: list[tuple[str, str]] = []
    parsed: dict[str, object] = {}
    steps = (
        ("minutes", lambda: _listed(_values(_MINUTES, minutes), _MINUTES)),
        ("hours", lambda: _listed(_values(_HOURS, hours), _HOURS)),
        ("day-of-month", lambda: _aws_day_of_month(day)),
        ("month", lambda: _listed(_values(_MONTH, month), _MONTH)),
        ("day-of-week", lambda: _aws_day_of_week(weekday)),
        ("year", lambda: _values(_YEAR, year)),
    )
    for name, step in steps:
        try:
            parsed[name] = step()
        except _Invalid as exc:
            errors.append((name, str(exc)))
    if "day-of-month" in parsed and "day-of-week" in parsed:
        question_marks = (day == "?") + (weekday == "?")
        if question_marks != 1:
            blame = "day-of-month" if day == "*" and weekday != "*" else "day-of-week"
            message = ("day-of-month and day-of-week cannot both be '?': give a value in one"
                       if question_marks == 2 else
                       "day-of-month and day-of-week cannot both be given: put '?' in one "
                       "(e.g. cron(0 9 ? * MON-FRI *) or cron(0 9 1 * ? *))")
            errors.append((blame, f"{blame}: {message}"))
    if errors:
        raise CronSyntaxError(errors)
    years = parsed["year"]
    return CronPlan(
        expression=" ".join((parsed["minutes"], parsed["hours"], parsed["day-of-month"] or "*",
                             parsed["month"], parsed["day-of-week"] or "*")),
        years=tuple(sorted(years)),     # even for '*': AWS years end with 2199
    )


def compile_crontab(fields: list[str]) -> CronPlan:
    """The plan for a classic five-field crontab line (Vixie cron semantics).

    Raises:
        CronSyntaxError: naming every field that is wrong.
    """
    specs = (_MINUTES, _HOURS, _DAY_OF_MONTH, _MONTH, _CRONTAB_DAY_OF_WEEK)
    errors: list[tuple[str, str]] = []
    compiled: list[str] = []
    for spec, text in zip(specs, (f.upper() for f in fields)):
        try:
            values = _values(spec, text, step_on_value=False)
        except _Invalid as exc:
            errors.append((spec.name, str(exc)))
            continue
        if spec is _CRONTAB_DAY_OF_WEEK:
            values = {v % 7 for v in values}
            compiled.append("*" if text == "*" else ",".join(str(v) for v in sorted(values)))
        elif spec is _DAY_OF_MONTH:
            # Only a literal '*' may become croniter's '*': "1-31" is a restriction
            # to Vixie (it ORs with the day of week), not a wildcard.
            compiled.append("*" if text == "*" else ",".join(str(v) for v in sorted(values)))
        else:
            compiled.append(_listed(values, spec))
    if errors:
        raise CronSyntaxError(errors)
    day_or = not (fields[2].startswith("*") or fields[4].startswith("*"))
    return CronPlan(expression=" ".join(compiled), day_or=day_or)
