"""When to try a failed delivery again: exponential backoff with full jitter.

Attempt n (1-based) that failed waits ``uniform(0, min(cap, base * 2**(n-1)))``
(full jitter, as in AWS's "Exponential Backoff And Jitter"), but never less
than ``floor`` seconds.  With the defaults (base 5 s, cap 24 h) the ceilings
run 5 s, 10 s, 20 s, 40 s, 80 s, ... and reach the 24 h cap at the 16th
attempt.  A ``Retry-After`` the subscriber sent (429/503) wins over the
schedule, capped at the same maximum.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Backoff:
    base: float = 5.0
    cap: float = 24 * 3600.0
    floor: float = 1.0

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.base * 2 ** max(attempt - 1, 0))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        return max(self.floor, (rng or random).uniform(0, self.ceiling(attempt)))


def retry_after_seconds(value: str | None, now: float, cap: float) -> float | None:
    """Parse ``Retry-After`` (delta-seconds or HTTP-date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return min(max((when - datetime.fromtimestamp(now, timezone.utc)).total_seconds(), 0), cap)
