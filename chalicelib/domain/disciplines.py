"""Queue disciplines expressed once, as sort keys.

Every storage driver hands out the visible item with the *smallest* key first
(a DynamoDB ``Query`` in ascending order, a sorted list, a Redis sorted set).
So the discipline is entirely in the key:

* FIFO:     ``<seq>``            oldest first
* LIFO:     ``<MAX - seq>``      newest first
* priority: ``<9 - priority><seq>``  highest priority first, FIFO within one

``seq`` is a 20-digit, zero-padded count of microseconds since the epoch with
a per-process counter folded into the last three digits, so keys are
monotonic within a process and time-ordered across processes.  A suffix made
of the message id keeps keys unique when two processes meet in the same
microsecond, and makes a re-enqueue of the same message land on the same key.
"""
from __future__ import annotations

import hashlib
import itertools
import threading
import time

DISCIPLINES = ("fifo", "lifo", "priority")
MIN_PRIORITY, MAX_PRIORITY = 0, 9
_SEQ_DIGITS = 20
_SEQ_MAX = 10 ** _SEQ_DIGITS - 1

_lock = threading.Lock()
_counter = itertools.count()
_last = 0


def next_seq(now: float | None = None) -> int:
    """A strictly increasing (per process) sequence number based on time."""
    global _last
    base = int((time.time() if now is None else now) * 1_000_000) * 1000
    with _lock:
        seq = max(base + next(_counter) % 1000, _last + 1)
        _last = seq
    return seq


def sort_key(discipline: str, seq: int, message_id: str, priority: int = 0,
             tracked: bool = False) -> str:
    """The storage sort key of a message under ``discipline``.

    ``tracked``: the key ends with ``.<message id>``, so whoever settles the
    item by receipt (a receipt carries the key) learns which event it was
    without reading anything (sync requests and result callbacks need that).
    The order is unchanged: the sequence and the suffix come first.
    """
    suffix = hashlib.blake2s(message_id.encode(), digest_size=6).hexdigest()
    if tracked:
        suffix = f"{suffix}.{message_id}"
    if discipline == "fifo":
        return f"{seq:0{_SEQ_DIGITS}d}.{suffix}"
    if discipline == "lifo":
        return f"{_SEQ_MAX - seq:0{_SEQ_DIGITS}d}.{suffix}"
    if discipline == "priority":
        return f"{MAX_PRIORITY - priority}{seq:0{_SEQ_DIGITS}d}.{suffix}"
    raise ValueError(f"unknown discipline {discipline!r}")


def tracked_id(key: str) -> str | None:
    """The message id a ``tracked`` key carries, else None."""
    parts = key.split(".", 2)
    return parts[2] if len(parts) == 3 else None


def time_key(at_ms: int, name: str) -> str:
    """A key ordered by ``at_ms`` (epoch milliseconds) then ``name``: for
    time-keyed queues read with ``lease(upto=time_key(now, "~"))``."""
    return f"{at_ms:015d}.{name}"
