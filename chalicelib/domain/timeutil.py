"""Timestamps as the API shows them: RFC 3339, UTC, millisecond precision."""
from __future__ import annotations

from datetime import datetime, timezone


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def iso_now() -> str:
    return iso(datetime.now(timezone.utc).timestamp())
