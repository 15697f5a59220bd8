"""JSON numbers as EventBridge compares them.

EventBridge (aws/event-ruler) compares numbers as decimals, not as text and
not as binary floats: ``300``, ``300.0`` and ``3.0e2`` are the same number,
``0.1 + 0.2`` questions never arise.  Range comparisons (``numeric``) and
numeric ``anything-but`` only apply to *comparable* numbers: between -5e9 and
+5e9 inclusive with at most six digits after the decimal point.  A pattern
that names a number outside that space is invalid; an event value outside it
simply never satisfies a range.

JSON ``true``/``false`` are never numbers here, although Python's ``bool`` is
an ``int``.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

LIMIT = Decimal(5_000_000_000)
MAX_DECIMALS = 6


def is_number(value: Any) -> bool:
    """True for JSON numbers (ints and floats, never booleans)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def to_decimal(value: int | float) -> Decimal | None:
    """The exact decimal a JSON number denotes (None for NaN/infinity).

    Floats go through ``repr`` (the shortest text that round-trips), so the
    float parsed from ``0.1`` is the decimal 0.1, as it was written.
    """
    if isinstance(value, int):
        return Decimal(value)
    try:
        number = Decimal(repr(value))
    except InvalidOperation:  # pragma: no cover - repr of a float always parses
        return None
    return number if number.is_finite() else None


def comparable(value: Any) -> Decimal | None:
    """The decimal for ``value`` if numeric ranges may compare it, else None."""
    if not is_number(value):
        return None
    number = to_decimal(value)
    if number is None or abs(number) > LIMIT:
        return None
    if number != 0 and number.normalize().as_tuple().exponent < -MAX_DECIMALS:
        return None
    return number


def comparable_problem(value: Any) -> str | None:
    """Why a pattern number cannot be compared (None when it can)."""
    if not is_number(value):
        return "must be a number"
    number = to_decimal(value)
    if number is None or abs(number) > LIMIT:
        return "must be between -5e9 and 5e9 inclusive"
    if number != 0 and number.normalize().as_tuple().exponent < -MAX_DECIMALS:
        return "must have at most 6 digits after the decimal point"
    return None


def value_key(value: Any) -> Any:
    """A hashable key under which equal JSON scalars meet, and only those.

    Strings stay strings; numbers become ``("n", Decimal)`` (so 300 and 300.0
    meet); booleans ``("b", flag)`` so ``true`` never meets ``1``; null is
    None.  Used by exact-match sets and by the router's hash index.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return ("b", value)
    if value is None:
        return None
    if isinstance(value, (int, float)):
        number = to_decimal(value)
        return ("n", number) if number is not None else ("x", repr(value))
    return ("?", id(value))  # objects/arrays: never equal to a pattern scalar
