"""Leasing with long polling, and the views of leased / settled / dead messages.

Shared by pull subscriptions and plain queues, which differ only in what a
message's JSON payload is called (``event`` or ``body``).
"""
from __future__ import annotations

import json
import time
from typing import Callable

from chalicelib.config import Settings
from chalicelib.domain.timeutil import iso
from chalicelib.domain.validation import validate
from chalicelib.errors import StorageUnavailable
from chalicelib.middleware.compression import inflate
from chalicelib.storage.base import Leased, QueueStore, Settled, StoredItem

POLL_FIRST, POLL_MAX = 0.05, 1.0


def lease_waiting(queues: QueueStore, queue: str, *, max_messages: int,
                  visibility_timeout: int, wait_seconds: int,
                  max_deliveries: int | None,
                  on_dead: Callable[[list[Leased]], None] | None = None,
                  sleep: Callable[[float], None] = time.sleep,
                  monotonic: Callable[[], float] = time.monotonic) -> list[Leased]:
    """Lease now; if nothing is visible, poll with backoff until ``wait_seconds`` pass.

    ``on_dead``: told of the items moved to the dead letters on the way (the
    store then leaves exhausted items to us, so we learn which ones they were).
    """
    deadline = monotonic() + wait_seconds
    pause = POLL_FIRST
    while True:
        if on_dead is None:
            leased = queues.lease(queue, max_messages, visibility_timeout, max_deliveries)
        else:
            leased = _lease_burying(queues, queue, max_messages, visibility_timeout,
                                    max_deliveries, on_dead)
        remaining = deadline - monotonic()
        if leased or remaining <= 0:
            return leased
        sleep(min(pause, remaining))
        pause = min(pause * 2, POLL_MAX)


def _lease_burying(queues: QueueStore, queue: str, max_messages: int, visibility_timeout: int,
                   max_deliveries: int | None, on_dead) -> list[Leased]:
    """Lease, burying the exhausted items ourselves.  As ``QueueStore.lease``: a
    storage failure part-way returns what was leased (raises when nothing was),
    and the exhausted items it could not bury are given back, not kept hidden."""
    leased: list[Leased] = []
    for _ in range(QueueStore.MAX_CLAIM_ROUNDS):
        try:
            taken = queues.lease(queue, max_messages - len(leased), visibility_timeout)
        except StorageUnavailable:
            if leased:
                return leased
            raise
        dead = [lease for lease in taken
                if max_deliveries is not None and lease.item.deliveries > max_deliveries]
        leased += [lease for lease in taken if lease not in dead]
        if dead:
            try:
                queues.bury(queue, dead)
            except StorageUnavailable:
                _give_back(queues, queue, dead)
                if leased:
                    return leased
                raise
            on_dead(dead)
        if not dead or len(leased) >= max_messages:
            return leased
    return leased


def _give_back(queues: QueueStore, queue: str, leases: list[Leased]) -> None:
    """Make leased items visible again now, if the storage lets us (else: at their timeout)."""
    try:
        queues.nack(queue, [lease.receipt for lease in leases])
    except StorageUnavailable:
        pass


def lease_request(queues: QueueStore, queue: str, body: object, settings: Settings,
                  max_deliveries: int | None, on_dead=None) -> list[Leased]:
    """Validate a ``{max_messages, visibility_timeout, wait_seconds}`` body and lease."""
    body = validate("lease", body)
    return lease_waiting(
        queues, queue,
        max_messages=body.get("max_messages", 1),
        visibility_timeout=body.get("visibility_timeout", settings.default_visibility_timeout),
        wait_seconds=min(body.get("wait_seconds", 0), settings.max_wait_seconds),
        max_deliveries=max_deliveries, on_dead=on_dead)


def settled_view(settled: Settled, verb: str) -> dict:
    """``{"acked"|"nacked"|"extended": [receipts that took effect], "stale": [lost leases]}``."""
    return {verb: settled.done, "stale": settled.stale}


def message_view(item: StoredItem, field: str) -> dict:
    return {"id": item.id, field: json.loads(inflate(item.payload)), "priority": item.priority,
            "delivery_count": item.deliveries, "enqueued_at": iso(item.enqueued_at / 1000)}
