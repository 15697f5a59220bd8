"""In-memory storage: the driver for unit tests, ``make run`` without AWS and
the functional tests of the services.

It implements exactly the contract of ``chalicelib.storage.base`` so that the
contract suite can hold it to the same claims as the DynamoDB driver.  Every
operation takes one lock, so a store may be shared by threads.  Documents and
items are copied on the way in and out: a caller that mutates what it stored
or got back cannot change the stored state (as with a real backend).

Each queue keeps its items in a dict by key plus two heaps - the visible keys,
and the leased or delayed ones by the time they become visible - so push,
lease, ack and nack cost O(log n) however many items are in flight.

Features:

=============  ==============================================================
ordering       smallest sort key first (FIFO / LIFO / priority via the key)
leases         atomic under one lock; visibility timeout; stale receipts
durability     none: state lives as long as the process
multi-process  no: each process has its own state
=============  ==============================================================
"""
from __future__ import annotations

import json
import os
import threading
import time
from copy import deepcopy
from heapq import heapify, heappop, heappush, nsmallest
from itertools import chain
from typing import Callable, Iterable, Iterator

from chalicelib.storage.base import (
    AlreadyExists, Clock, DocumentStore, Leased, QueueStore, Ref, Settled, Sizes, StoredItem,
    dead_letter_queue, decode_receipt, encode_receipt,
)

#: how many stale heap entries a queue tolerates beyond twice its items
SLACK = 1024
#: how many issued receipts the store remembers before it starts afresh
ISSUED_LIMIT = 100_000


class MemoryDocumentStore(DocumentStore):
    """Documents in a dict; stored as JSON text, as the DynamoDB driver does."""

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._lock = threading.Lock()
        # collection -> key -> (JSON text, expires_at in epoch seconds or None)
        self._docs: dict[str, dict[str, tuple[str, int | None]]] = {}

    def _live(self, entry: tuple[str, int | None] | None, now: float) -> bool:
        return entry is not None and (entry[1] is None or entry[1] >= now)

    def get(self, collection: str, key: str) -> dict | None:
        now = self.clock()
        with self._lock:
            entry = self._docs.get(collection, {}).get(key)
        return json.loads(entry[0]) if self._live(entry, now) else None

    def put(self, collection: str, key: str, doc: dict, *, create_only: bool = False,
            expires_at: int | None = None) -> None:
        text = json.dumps(doc, separators=(",", ":"))
        now = self.clock()
        with self._lock:
            docs = self._docs.setdefault(collection, {})
            if create_only and self._live(docs.get(key), now):
                raise AlreadyExists(f"{collection}/{key} already exists")
            docs[key] = (text, expires_at)

    def delete(self, collection: str, key: str) -> bool:
        now = self.clock()
        with self._lock:
            entry = self._docs.get(collection, {}).pop(key, None)
        return self._live(entry, now)

    def list(self, collection: str) -> list[dict]:
        now = self.clock()
        with self._lock:
            entries = sorted(self._docs.get(collection, {}).items())
        return [json.loads(text) for _, (text, expires_at) in entries
                if expires_at is None or expires_at >= now]


class _Queue:
    """One queue: its items by key, plus two heaps that find the next one.

    ``ready`` holds the keys of items that are visible (smallest key first);
    ``waiting`` holds ``(visible_at, key)`` for items that are leased or
    delayed.  A lease first moves every waiting entry that has come due to
    ``ready``, then pops keys from it.  Both heaps are lazy: an entry is only
    acted on while it still describes its item (a ready item must be visible, a
    waiting entry's time must be the item's ``visible_at``), so ack, nack and
    replace never search a heap.  Stale entries are compacted away once they
    outnumber the items.  Push, lease, ack and nack cost O(log n) whatever the
    number of items in flight.
    """

    __slots__ = ("items", "ready", "waiting")

    def __init__(self) -> None:
        self.items: dict[str, StoredItem] = {}
        self.ready: list[str] = []
        self.waiting: list[tuple[int, str]] = []

    def put(self, items: list[StoredItem], now: int) -> None:
        """Store items (replacing any under the same key) and file them."""
        by_key, ready = self.items, self.ready
        for item in items:
            by_key[item.key] = item
            if item.visible_at <= now:
                heappush(ready, item.key)
            else:
                heappush(self.waiting, (item.visible_at, item.key))
        self.compact(now)

    def drop(self, item: StoredItem) -> None:
        del self.items[item.key]

    def compact(self, now: int) -> None:
        """Rebuild a heap whose stale entries outnumber the items."""
        limit = 2 * len(self.items) + SLACK
        if len(self.ready) > limit:
            self.ready = [k for k, i in self.items.items() if i.visible_at <= now]
            heapify(self.ready)
        if len(self.waiting) > limit:
            self.waiting = [(i.visible_at, k) for k, i in self.items.items() if i.visible_at > now]
            heapify(self.waiting)

    def come_due(self, now: int) -> None:
        """Move the waiting items visible at ``now`` to ``ready``."""
        waiting, items = self.waiting, self.items
        while waiting and waiting[0][0] <= now:
            at, key = heappop(waiting)
            item = items.get(key)
            if item is not None and item.visible_at == at:
                heappush(self.ready, key)

    def take(self, limit: int, now: int, until: int, lease: str, upto: str | None,
             max_deliveries: int | None, exhausted: list[StoredItem]) -> list[StoredItem]:
        """Lease up to ``limit`` visible items in key order (``<= upto``) to ``lease``.

        Items leased more than ``max_deliveries`` times leave the queue into
        ``exhausted`` instead.  Returns the stored items themselves."""
        waiting, ready, items = self.waiting, self.ready, self.items
        if waiting and waiting[0][0] <= now:
            self.come_due(now)
        taken: list[StoredItem] = []
        while ready and len(taken) < limit:
            key = ready[0]
            if upto is not None and key > upto:
                break
            heappop(ready)
            item = items.get(key)
            if item is None or item.visible_at > now:
                continue                         # a stale entry
            item.deliveries += 1
            if max_deliveries is not None and item.deliveries > max_deliveries:
                del items[key]
                exhausted.append(item)
                continue
            item.lease, item.visible_at = lease, until
            heappush(waiting, (until, key))
            taken.append(item)
        if len(waiting) > 2 * len(items) + SLACK:
            self.compact(now)
        return taken

    def first_key(self, now: int) -> str | None:
        """The smallest key, visible or not, reading only the heaps' live tops
        and the waiting entries (few, where order matters: one in flight)."""
        ready, items = self.ready, self.items
        while ready and (ready[0] not in items or items[ready[0]].visible_at > now):
            heappop(ready)          # gone, or now leased / delayed: it is waiting
        unready = (key for at, key in self.waiting
                   if key in items and items[key].visible_at == at)
        return min(chain(ready[:1], unready), default=None)


def _tokens() -> Iterator[str]:
    """Lease tokens, 16 hex digits each, from OS randomness drawn 4 KiB at a time
    (a ``urandom`` system call per lease was a third of the cost of a small lease)."""
    while True:
        pool = os.urandom(4096).hex()
        yield from (pool[at:at + 16] for at in range(0, len(pool), 16))


def _stored(item: StoredItem, now: int) -> StoredItem:
    """The store's own copy of a pushed item (``base.enqueued``, attributes copied)."""
    at = item.enqueued_at or now
    attributes = item.attributes
    return StoredItem(item.key, item.id, item.payload, item.priority, at, item.visible_at or at,
                      0, None, deepcopy(attributes) if attributes else None)


def _copy(item: StoredItem) -> StoredItem:
    """A caller's copy of a stored item (which keeps ``attributes=None`` when empty)."""
    attributes = item.attributes
    return StoredItem(item.key, item.id, item.payload, item.priority, item.enqueued_at,
                      item.visible_at, item.deliveries, item.lease,
                      deepcopy(attributes) if attributes else {})


class MemoryQueueStore(QueueStore):
    """Queue items in per-queue heaps guarded by one lock.

    The stored items are private (copied on the way in and out), so a lease or
    a nack changes them in place.  ``push``, ``lease`` and ``ack`` - the path
    every message takes - are done here in one locked step each rather than
    through the template's primitives (which the rarer operations still use):
    for a store this fast the template's general bookkeeping was most of the
    cost.  They keep the template's contract and receipt format.
    """

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._lock = threading.Lock()
        self._queues: dict[str, _Queue] = {}
        self._tokens = _tokens()          # drawn under the lock
        # receipt -> (key, lease) for the receipts this store issued lately: an
        # ack finds its ref here instead of decoding it (what ``decode_receipt``
        # would return, so a miss just decodes)
        self._issued: dict[str, tuple[str, str]] = {}

    # ---- the hot path

    def push(self, queue: str, items: Iterable[StoredItem]) -> None:
        now = int(self.clock() * 1000)
        own = [_stored(item, now) for item in items]
        if own:
            with self._lock:
                (self._queues.get(queue) or self._queue(queue)).put(own, now)

    def lease(self, queue: str, max_items: int, visibility_timeout: float,
              max_deliveries: int | None = None, upto: str | None = None) -> list[Leased]:
        now = int(self.clock() * 1000)
        until = now + int(visibility_timeout * 1000)
        leased: list[Leased] = []
        with self._lock:
            q = self._queues.get(queue)
            if q is None:
                return leased
            exhausted: list[StoredItem] = []
            taken = q.take(max_items, now, until, next(self._tokens), upto, max_deliveries,
                           exhausted)
            if exhausted:
                self._to_dead_letters(queue, exhausted, now)
            issued = self._issued
            if len(issued) > ISSUED_LIMIT:
                issued.clear()
            for item in taken:
                ref = (item.key, item.lease)
                receipt = encode_receipt(ref)
                issued[receipt] = ref
                leased.append(Leased(receipt, _copy(item)))
        return leased

    def ack(self, queue: str, receipts: Iterable[str]) -> Settled:
        receipts = list(receipts)
        issued = self._issued
        refs = [(issued.pop(receipt, None) if receipt.__class__ is str else None)
                or decode_receipt(receipt) for receipt in receipts]
        return self._settle(receipts, self._delete(queue, refs))

    def _queue(self, name: str) -> _Queue:
        return self._queues.setdefault(name, _Queue())

    def _to_dead_letters(self, queue: str, items: list[StoredItem], now: int) -> None:
        """File exhausted items (already out of their queue) as dead letters (locked)."""
        name = dead_letter_queue(queue)
        for item in items:
            item.lease, item.visible_at = None, 0
        (self._queues.get(name) or self._queue(name)).put(items, now)

    # ---- the template's primitives, for the rest

    def _append(self, queue: str, items: list[StoredItem]) -> None:
        for item in items:     # the template's copies: only the attributes are shared
            item.attributes = deepcopy(item.attributes) if item.attributes else None
        now = self.now_ms()
        with self._lock:
            (self._queues.get(queue) or self._queue(queue)).put(items, now)

    def _claim(self, queue: str, limit: int, now: int, until: int,
               upto: str | None = None) -> list[StoredItem]:
        with self._lock:
            q = self._queues.get(queue)
            return [] if q is None else \
                [_copy(item) for item in q.take(limit, now, until, next(self._tokens), upto,
                                                None, [])]

    def _reschedule(self, queue: str, refs: list[Ref], visible_at: int,
                    keep_lease: bool) -> list[bool]:
        now = self.now_ms()

        def reschedule(q: _Queue, item: StoredItem) -> None:
            item.visible_at = visible_at
            if not keep_lease:
                item.lease = None
            q.put([item], now)           # filed again by its new visible_at
        return self._each_owned(queue, refs, reschedule)

    def _delete(self, queue: str, refs: list[Ref]) -> list[bool]:
        return self._each_owned(queue, refs, _Queue.drop)   # heap entries go stale

    def _each_owned(self, queue: str, refs: list[Ref],
                    apply: Callable[[_Queue, StoredItem], object]) -> list[bool]:
        """Apply to each item its ref's lease still owns; one bool per ref."""
        results = []
        with self._lock:
            q = self._queues.get(queue)
            items = q.items if q is not None else {}
            for key, lease in refs:
                item = items.get(key)
                ok = item is not None and item.lease == lease
                if ok:
                    apply(q, item)
                results.append(ok)
        return results

    def _delete_unleased(self, queue: str, key: str) -> None:
        with self._lock:
            q = self._queues.get(queue)
            if q is not None:
                q.items.pop(key, None)

    def _scan(self, queue: str, limit: int, now: int | None) -> list[StoredItem]:
        with self._lock:
            q = self._queues.get(queue)
            if q is None or limit <= 0:
                return []
            if limit == 1 and now is None:            # the head (ordered delivery)
                key = q.first_key(self.now_ms())
                return [] if key is None else [_copy(q.items[key])]
            items = q.items
            keys = nsmallest(limit, items if now is None else
                             (k for k, i in items.items() if i.visible_at <= now))
            return [_copy(items[key]) for key in keys]

    def _count(self, queue: str, now: int) -> Sizes:
        with self._lock:
            q = self._queues.get(queue)
            visible = sum(1 for i in q.items.values() if i.visible_at <= now) if q else 0
            total = len(q.items) if q else 0
        return Sizes(visible, total - visible)

    def _purge(self, queue: str) -> None:
        with self._lock:
            self._queues.pop(queue, None)
