"""In-memory storage: the driver for unit tests, ``make run`` without AWS and
the functional tests of the services.

It implements exactly the contract of ``chalicelib.storage.base`` so that the
contract suite can hold it to the same claims as the DynamoDB driver.  Every
operation takes one lock, so a store may be shared by threads.  Documents and
items are copied on the way in and out: a caller that mutates what it stored
or got back cannot change the stored state (as with a real backend).

Each queue keeps its items in a dict by key plus a sorted list of the keys
(``bisect``), so push, ack and nack cost O(log n) lookups; a lease walks the
keys from the smallest and skips items that are in flight or delayed.

Features:

=============  ==============================================================
ordering       smallest sort key first (FIFO / LIFO / priority via the key)
leases         atomic under one lock; visibility timeout; stale receipts
durability     none: state lives as long as the process
multi-process  no: each process has its own state
=============  ==============================================================
"""
from __future__ import annotations

import bisect
import copy
import json
import threading
import time

from chalicelib.storage.base import (
    AlreadyExists, Clock, DocumentStore, QueueStore, Ref, Sizes, StoredItem, evolve,
)


def _copy(item: StoredItem) -> StoredItem:
    return evolve(item, attributes=copy.deepcopy(item.attributes) if item.attributes else {})


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
    """One queue's items: a dict by key and the keys in sorted order."""

    __slots__ = ("items", "keys")

    def __init__(self) -> None:
        self.items: dict[str, StoredItem] = {}
        self.keys: list[str] = []

    def put(self, item: StoredItem) -> None:
        if item.key not in self.items:
            bisect.insort(self.keys, item.key)
        self.items[item.key] = item

    def remove(self, key: str) -> None:
        del self.items[key]
        del self.keys[bisect.bisect_left(self.keys, key)]


class MemoryQueueStore(QueueStore):
    """Queue items in sorted per-queue structures guarded by one lock."""

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._lock = threading.Lock()
        self._queues: dict[str, _Queue] = {}

    def _append(self, queue: str, items: list[StoredItem]) -> None:
        copies = [_copy(i) for i in items]
        with self._lock:
            q = self._queues.setdefault(queue, _Queue())
            for item in copies:
                q.put(item)

    def _claim(self, queue: str, limit: int, now: int, until: int,
               upto: str | None = None) -> list[StoredItem]:
        claimed = []
        with self._lock:
            q = self._queues.get(queue)
            if q is None:
                return []
            for key in q.keys:
                if len(claimed) >= limit or (upto is not None and key > upto):
                    break
                item = q.items[key]
                if item.visible_at > now:
                    continue
                item = evolve(item, lease=self.new_lease(), visible_at=until,
                               deliveries=item.deliveries + 1)
                q.items[key] = item
                claimed.append(_copy(item))
        return claimed

    def _release(self, queue: str, refs: list[Ref], visible_at: int) -> list[bool]:
        def release(q: _Queue, key: str, item: StoredItem) -> None:
            q.items[key] = evolve(item, lease=None, visible_at=visible_at)
        return self._each_owned(queue, refs, release)

    def _delete(self, queue: str, refs: list[Ref]) -> list[bool]:
        return self._each_owned(queue, refs, lambda q, key, item: q.remove(key))

    def _each_owned(self, queue: str, refs: list[Ref], apply) -> list[bool]:
        """Apply to each item its ref's lease still owns; one bool per ref."""
        results = []
        with self._lock:
            q = self._queues.get(queue)
            for ref in refs:
                item = q.items.get(ref.key) if q else None
                ok = item is not None and item.lease == ref.lease
                if ok:
                    apply(q, ref.key, item)
                results.append(ok)
        return results

    def _delete_unleased(self, queue: str, key: str) -> None:
        with self._lock:
            q = self._queues.get(queue)
            if q is not None and key in q.items:
                q.remove(key)

    def _scan(self, queue: str, limit: int, now: int | None) -> list[StoredItem]:
        found = []
        with self._lock:
            q = self._queues.get(queue)
            for key in q.keys if q else ():
                if len(found) >= limit:
                    break
                item = q.items[key]
                if now is None or item.visible_at <= now:
                    found.append(_copy(item))
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
