"""Leasing with long polling, shared by pull subscriptions and plain queues."""
from __future__ import annotations

import time
from typing import Callable

from chalicelib.storage.base import Leased, QueueStore

POLL_FIRST, POLL_MAX = 0.05, 1.0


def lease_waiting(queues: QueueStore, queue: str, *, max_messages: int,
                  visibility_timeout: int, wait_seconds: int,
                  max_deliveries: int | None,
                  sleep: Callable[[float], None] = time.sleep,
                  monotonic: Callable[[], float] = time.monotonic) -> list[Leased]:
    """Lease now; if nothing is visible, poll with backoff until ``wait_seconds`` pass."""
    deadline = monotonic() + wait_seconds
    pause = POLL_FIRST
    while True:
        leased = queues.lease(queue, max_messages, visibility_timeout, max_deliveries)
        remaining = deadline - monotonic()
        if leased or remaining <= 0:
            return leased
        sleep(min(pause, remaining))
        pause = min(pause * 2, POLL_MAX)
