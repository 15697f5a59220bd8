"""In-memory storage: the driver for unit tests, ``make run`` without AWS and
the functional tests of the services.

It implements exactly the contract of ``chalicelib.storage.base`` so that the
contract suite can hold it to the same claims as the DynamoDB driver.  Every
operation takes one lock, so a store may be shared by threads.  Documents and
items are copied on the way in and out: a caller that mutates what it stored
or got back cannot change the stored state (as with a real backend).

Each queue keeps its items in a dict by key plus the keys in sorted blocks, so
push, ack and nack cost O(log n); a lease walks the keys from the smallest and
skips items that are in flight or delayed.

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
from bisect import bisect_left, insort
from copy import deepcopy
from itertools import chain
from typing import Callable, Iterator

from chalicelib.storage.base import (
    AlreadyExists, Clock, DocumentStore, QueueStore, Ref, Sizes, StoredItem,
)


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
    """One queue: its items by key, and the keys in sorted blocks.

    The blocks (at most ``2 * BLOCK`` keys each, split when full, as in
    ``sortedcontainers``) keep an insert or a delete to a bisection and a short
    move, where one sorted list moves half its keys on average: a FIFO queue
    acks at its front, a LIFO queue pushes there.  ``maxes[i]`` is the largest
    key of ``blocks[i]``.
    """

    __slots__ = ("items", "blocks", "maxes")
    BLOCK = 512

    def __init__(self) -> None:
        self.items: dict[str, StoredItem] = {}
        self.blocks: list[list[str]] = []
        self.maxes: list[str] = []

    def put(self, item: StoredItem) -> None:
        key = item.key
        if key not in self.items:
            blocks, maxes = self.blocks, self.maxes
            at = bisect_left(maxes, key)
            if at == len(maxes):                  # past the largest key (FIFO): append
                if not blocks:
                    blocks.append([])
                    maxes.append(key)
                at -= 1
                blocks[at].append(key)
                maxes[at] = key
            else:
                insort(blocks[at], key)
            if len(blocks[at]) > 2 * self.BLOCK:
                block = blocks[at]
                blocks[at:at + 1] = [block[:self.BLOCK], block[self.BLOCK:]]
                maxes.insert(at, block[self.BLOCK - 1])
        self.items[key] = item

    def remove(self, key: str) -> None:
        del self.items[key]
        at = bisect_left(self.maxes, key)
        block = self.blocks[at]
        del block[bisect_left(block, key)]
        if not block:
            del self.blocks[at], self.maxes[at]
        elif self.maxes[at] == key:
            self.maxes[at] = block[-1]

    def keys(self) -> Iterator[str]:
        """Every key, in order."""
        return chain.from_iterable(self.blocks)


def _tokens() -> Iterator[str]:
    """Lease tokens, 16 hex digits each, from OS randomness drawn 4 KiB at a time
    (a ``urandom`` system call per lease was a third of the cost of a small lease)."""
    while True:
        pool = os.urandom(4096).hex()
        yield from (pool[at:at + 16] for at in range(0, len(pool), 16))


def _copy(item: StoredItem) -> StoredItem:
    """A caller's copy of a stored item (which keeps ``attributes=None`` when empty)."""
    attributes = item.attributes
    return StoredItem(item.key, item.id, item.payload, item.priority, item.enqueued_at,
                      item.visible_at, item.deliveries, item.lease,
                      deepcopy(attributes) if attributes else {})


class MemoryQueueStore(QueueStore):
    """Queue items in sorted per-queue structures guarded by one lock.

    The stored items are private (copied on the way in and out), so a lease or
    a nack changes them in place.
    """

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._lock = threading.Lock()
        self._queues: dict[str, _Queue] = {}
        self._tokens = _tokens()          # drawn under the lock

    def _append(self, queue: str, items: list[StoredItem]) -> None:
        for item in items:     # the template's copies: only the attributes are shared
            item.attributes = deepcopy(item.attributes) if item.attributes else None
        with self._lock:
            q = self._queues.get(queue)
            if q is None:
                q = self._queues[queue] = _Queue()
            for item in items:
                q.put(item)

    def _claim(self, queue: str, limit: int, now: int, until: int,
               upto: str | None = None) -> list[StoredItem]:
        claimed: list[StoredItem] = []
        with self._lock:
            q = self._queues.get(queue)
            if q is None:
                return claimed
            items = q.items
            lease = next(self._tokens)   # one token per claim: a receipt is (key, token)
            for key in q.keys():
                if upto is not None and key > upto:
                    break
                item = items[key]
                if item.visible_at > now:
                    continue
                item.lease, item.visible_at, item.deliveries = lease, until, item.deliveries + 1
                claimed.append(_copy(item))
                if len(claimed) == limit:
                    break
        return claimed

    def _release(self, queue: str, refs: list[Ref], visible_at: int) -> list[bool]:
        def release(q: _Queue, item: StoredItem) -> None:
            item.lease, item.visible_at = None, visible_at
        return self._each_owned(queue, refs, release)

    def _delete(self, queue: str, refs: list[Ref]) -> list[bool]:
        return self._each_owned(queue, refs, lambda q, item: q.remove(item.key))

    def _each_owned(self, queue: str, refs: list[Ref],
                    apply: Callable[[_Queue, StoredItem], None]) -> list[bool]:
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
            if q is not None and key in q.items:
                q.remove(key)

    def _scan(self, queue: str, limit: int, now: int | None) -> list[StoredItem]:
        found: list[StoredItem] = []
        with self._lock:
            q = self._queues.get(queue)
            if q is None or limit <= 0:
                return found
            for key in q.keys():
                item = q.items[key]
                if now is None or item.visible_at <= now:
                    found.append(_copy(item))
                    if len(found) == limit:
                        break
        return found

    def _count(self, queue: str, now: int) -> Sizes:
        with self._lock:
            q = self._queues.get(queue)
            visible = sum(1 for i in q.items.values() if i.visible_at <= now) if q else 0
            total = len(q.items) if q else 0
        return Sizes(visible, total - visible)

    def _purge(self, queue: str) -> None:
        with self._lock:
            self._queues.pop(queue, None)
