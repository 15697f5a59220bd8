"""SQLite storage (``TLKS_STORAGE=file``): the whole bus in one file on one machine.

For a team that runs the bus as a plain process (or a few processes) without AWS or
Redis.  Only the standard library's ``sqlite3`` is needed.  The file itself - its
tables, connection and durability - is ``chalicelib.storage.sqlite_database``.

Operations (``n`` items; each is one transaction):

=================  ==========================================================
push               one multi-row INSERT (per 200 items)
lease              one ``UPDATE ... RETURNING`` of the first ``n`` visible keys
ack/nack/extend    one DELETE / UPDATE per lease token, conditioned on it (the
                   receipts of one lease share one token); its row count tells
                   whether every receipt matched (if not: one per receipt)
peek, size, purge  one SELECT / DELETE
=================  ==========================================================

Atomic leases: SQLite runs a lone write statement as its own transaction and
takes the database's write lock *before* the statement reads - what ``BEGIN
IMMEDIATE`` does for transactions of several statements (large batches,
receipts of several leases, the occasional sweep), which use it.  So two
leases, in one process or in several sharing the file, never read the same
candidates: leases are exclusive without any retry loop.  A writer waits up to
``busy_timeout`` for the lock, then the request fails with
``StorageUnavailable`` (503).  Statement texts are constants (one per batch
size), so ``sqlite3``'s statement cache keeps each one prepared.

Known trade-off: a lease skips items that are in flight or delayed at the head of
a queue by reading past them, so its cost grows with the number of such items
ahead of the first visible one (``bench/queue_bench.py``: with 10,000 in flight a
lease runs at about 0.07 of its idle speed).  Partial indexes that keep leased
items out of the way were tried: they halved the throughput of every push, lease
and ack, for a case consumers rarely reach.

Features:

=============  ==============================================================
ordering       smallest sort key first (FIFO / LIFO / priority via the key)
leases         the file's write lock, taken before reading; visibility timeout
durability     WAL: survives kill -9; power loss: see ``synchronous``
multi-process  yes, on one machine (not on a network file system)
=============  ==============================================================
"""
from __future__ import annotations

import functools
import json
import os
import sqlite3
import time

from chalicelib.storage.base import (
    AlreadyExists, Clock, DocumentStore, QueueStore, Ref, Sizes, StoredItem,
)
from chalicelib.storage.sqlite_database import DEFAULT_PATH, SqliteDatabase, parse_location

__all__ = ["DEFAULT_PATH", "SqliteDatabase", "SqliteDocumentStore", "SqliteQueueStore",
           "parse_location"]

_COLUMNS = "key, id, payload, priority, enqueued_at, visible_at, deliveries, lease, attributes"


class _OnDatabase:
    def __init__(self, db: SqliteDatabase | str | os.PathLike | None) -> None:
        self.db = db if isinstance(db, SqliteDatabase) else SqliteDatabase.from_url(
            None if db is None else os.fspath(db))

    def ping(self) -> None:
        self.db.run("ping", lambda c: c.execute("SELECT 1 FROM items LIMIT 1").fetchall())


# ---------------------------------------------------------------- documents

_DOC_GET = "SELECT doc, expires_at FROM documents WHERE collection = ? AND key = ?"
_DOC_PUT = ("INSERT INTO documents (collection, key, doc, expires_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (collection, key) DO UPDATE SET doc = excluded.doc, "
            "expires_at = excluded.expires_at")
# An expired document still in the file may be replaced by a create-only put.
_DOC_CREATE = _DOC_PUT + " WHERE documents.expires_at IS NOT NULL AND documents.expires_at < ?"
_DOC_DELETE = "DELETE FROM documents WHERE collection = ? AND key = ? RETURNING expires_at"
_DOC_LIST = ("SELECT doc FROM documents WHERE collection = ? "
             "AND (expires_at IS NULL OR expires_at >= ?) ORDER BY key")
_DOC_SWEEP = "DELETE FROM documents WHERE expires_at < ?"


class SqliteDocumentStore(_OnDatabase, DocumentStore):
    """Documents in the ``documents`` table."""

    #: puts with an expiry between two sweeps of expired documents
    SWEEP_EVERY = 500

    def __init__(self, db: SqliteDatabase | str | None = None, clock: Clock = time.time) -> None:
        _OnDatabase.__init__(self, db)
        DocumentStore.__init__(self, clock)
        self._expiring_puts = 0

    def get(self, collection: str, key: str) -> dict | None:
        row = self.db.run("get", lambda c: c.execute(_DOC_GET, (collection, key)).fetchone())
        if row is None or (row[1] is not None and row[1] < self.clock()):
            return None
        return json.loads(row[0])

    def put(self, collection: str, key: str, doc: dict, *, create_only: bool = False,
            expires_at: int | None = None) -> None:
        text = json.dumps(doc, separators=(",", ":"))
        now = self.clock()
        sweep = False
        if expires_at is not None:
            self._expiring_puts += 1
            sweep = self._expiring_puts % self.SWEEP_EVERY == 0

        def work(c: sqlite3.Connection) -> int:
            if sweep:
                c.execute(_DOC_SWEEP, (now,))
            if create_only:
                return c.execute(_DOC_CREATE, (collection, key, text, expires_at, now)).rowcount
            return c.execute(_DOC_PUT, (collection, key, text, expires_at)).rowcount

        if self.db.run("put", work, transaction=sweep) == 0:
            raise AlreadyExists(f"{collection}/{key} already exists")

    def delete(self, collection: str, key: str) -> bool:
        rows = self.db.run("delete", lambda c: c.execute(_DOC_DELETE, (collection, key)).fetchall())
        return bool(rows) and (rows[0][0] is None or rows[0][0] >= self.clock())

    def list(self, collection: str) -> list[dict]:
        rows = self.db.run("list", lambda c: c.execute(_DOC_LIST, (collection, self.clock()))
                           .fetchall())
        return [json.loads(row[0]) for row in rows]


# ------------------------------------------------------------------ queues

# Statements over a batch take one "(?, ...)" group per row; their texts are built
# once per batch size (and stay prepared in sqlite3's statement cache).
_INSERT = "INSERT OR REPLACE INTO items (queue, " + _COLUMNS + ") VALUES {}"
_INSERT_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
#: above every key (keys are ASCII): "no upper bound" for the claim's key range
_KEY_MAX = "\U0010ffff"
# The first `limit` visible keys, leased in the same statement; RETURNING leaves out what
# it sets.  For one item, `key = (subquery)` spares the temporary list of `key IN`.
_CLAIMED = "key, id, payload, priority, enqueued_at, deliveries, attributes"
_CLAIM_SET = ("UPDATE items SET lease = ?1, visible_at = ?2, deliveries = deliveries + 1 "
              "WHERE queue = ?3 AND key {} (SELECT key FROM items WHERE queue = ?3 "
              "AND visible_at <= ?4 AND key <= ?5 ORDER BY key LIMIT ?6) RETURNING " + _CLAIMED)
_CLAIM_ONE = _CLAIM_SET.format("=")
_CLAIM = _CLAIM_SET.format("IN")
# Ack / nack: one statement per lease token (the receipts of one lease share it).
_DELETE = "DELETE FROM items WHERE queue = ? AND lease = ? AND key IN ({})"
_RELEASE = ("UPDATE items SET lease = NULL, visible_at = ? WHERE queue = ? AND lease = ? "
            "AND key IN ({})")
_EXTEND = "UPDATE items SET visible_at = ? WHERE queue = ? AND lease = ? AND key IN ({})"
_DELETE_UNLEASED = "DELETE FROM items WHERE queue = ? AND key = ?"
_SCAN_ALL = "SELECT " + _COLUMNS + " FROM items WHERE queue = ? ORDER BY key LIMIT ?"
_SCAN_VISIBLE = ("SELECT " + _COLUMNS + " FROM items WHERE queue = ? AND visible_at <= ? "
                 "ORDER BY key LIMIT ?")
_COUNT = "SELECT COUNT(*), TOTAL(visible_at <= ?) FROM items WHERE queue = ?"
_PURGE = "DELETE FROM items WHERE queue = ?"
#: rows (or receipts) per statement; larger batches take one transaction of several
CHUNK = 200


@functools.lru_cache(maxsize=256)
def _batched(template: str, group: str, count: int) -> str:
    return template.format(", ".join([group] * count))


def _chunks(seq: list, size: int = CHUNK) -> list[list]:
    return [seq[start:start + size] for start in range(0, len(seq), size)]


def _params(queue: str, items: list[StoredItem]) -> list:
    """The rows of ``items``, one after the other: a multi-row INSERT's parameters."""
    params: list = []
    for item in items:
        params += (queue, item.key, item.id, item.payload, item.priority, item.enqueued_at,
                   item.visible_at, item.deliveries, item.lease,
                   json.dumps(item.attributes, separators=(",", ":")) if item.attributes
                   else None)
    return params


def _item(row: tuple) -> StoredItem:
    key, id_, payload, priority, enqueued_at, visible_at, deliveries, lease, attributes = row
    return StoredItem(key, id_, payload, priority, enqueued_at, visible_at, deliveries, lease,
                      json.loads(attributes) if attributes else {})


class _LeaseLost(Exception):
    """A settle statement matched fewer items than it named (its transaction rolls back)."""


class SqliteQueueStore(_OnDatabase, QueueStore):
    """Queue items in the ``items`` table."""

    def __init__(self, db: SqliteDatabase | str | None = None, clock: Clock = time.time) -> None:
        _OnDatabase.__init__(self, db)
        QueueStore.__init__(self, clock)

    def _append(self, queue: str, items: list[StoredItem]) -> None:
        statements = [(_batched(_INSERT, _INSERT_ROW, len(chunk)), _params(queue, chunk))
                      for chunk in _chunks(items)]
        if len(statements) == 1:
            self.db.single("push", *statements[0], rows=False)
            return

        def work(c: sqlite3.Connection) -> None:
            for sql, params in statements:
                c.execute(sql, params)
        self.db.run("push", work, transaction=True)

    def _claim(self, queue: str, limit: int, now: int, until: int,
               upto: str | None = None) -> list[StoredItem]:
        # One lease token per claim: a receipt is (key, token), so it still names one item.
        # One statement: SQLite takes the write lock before it reads the candidates.
        lease = self.new_lease()
        sql = _CLAIM_ONE if limit == 1 else _CLAIM
        params = (lease, until, queue, now, _KEY_MAX if upto is None else upto, limit)
        rows = self.db.single("lease", sql, params)
        rows.sort()   # RETURNING gives no order
        return [StoredItem(key, id_, payload, priority, enqueued_at, until, deliveries, lease,
                           json.loads(attributes) if attributes else {})
                for key, id_, payload, priority, enqueued_at, deliveries, attributes in rows]

    def _delete(self, queue: str, refs: list[Ref]) -> list[bool]:
        return self._settle_refs("ack", _DELETE, (queue,), refs)

    def _reschedule(self, queue: str, refs: list[Ref], visible_at: int,
                    keep_lease: bool) -> list[bool]:
        if keep_lease:
            return self._settle_refs("extend", _EXTEND, (visible_at, queue), refs)
        return self._settle_refs("nack", _RELEASE, (visible_at, queue), refs)

    def _settle_refs(self, operation: str, template: str, head: tuple,
                     refs: list[Ref]) -> list[bool]:
        """Run ``template`` for the refs, one statement per lease token (and chunk),
        in one transaction; report which refs matched.  A receipt repeated in one
        call is done once.  Usually every lease is still held, as the row counts
        show; if not, the transaction is rolled back and run again one receipt at
        a time (RETURNING would name the matches, at 1.5x the usual cost)."""
        one = _batched(template, "?", 1)
        if len(refs) == 1:
            key, lease = refs[0]
            return [self.db.single(operation, one, (*head, lease, key), rows=False) == 1]
        keys_by_lease: dict[str, dict[str, None]] = {}
        for key, lease in refs:
            keys_by_lease.setdefault(lease, {})[key] = None
        groups = [(lease, chunk) for lease, keys in keys_by_lease.items()
                  for chunk in _chunks(list(keys))]

        def every_lease_held(c: sqlite3.Connection) -> None:
            for lease, chunk in groups:
                if c.execute(_batched(template, "?", len(chunk)),
                             (*head, lease, *chunk)).rowcount < len(chunk):
                    raise _LeaseLost

        def each_alone(c: sqlite3.Connection) -> set[tuple]:
            return {(key, lease) for lease, chunk in groups for key in chunk
                    if c.execute(one, (*head, lease, key)).rowcount}
        try:
            self.db.run(operation, every_lease_held, transaction=True)
            if sum(len(chunk) for _, chunk in groups) == len(refs):   # no receipt repeated
                return [True] * len(refs)
            matched = set(refs)
        except _LeaseLost:            # rolled back
            matched = self.db.run(operation, each_alone, transaction=True)
        results = []
        for ref in refs:
            results.append(ref in matched)
            matched.discard(ref)
        return results

    def _delete_unleased(self, queue: str, key: str) -> None:
        self.db.single("delete", _DELETE_UNLEASED, (queue, key), rows=False)

    def _scan(self, queue: str, limit: int, now: int | None) -> list[StoredItem]:
        if limit <= 0:
            return []
        if now is None:
            sql, params = _SCAN_ALL, (queue, limit)
        else:
            sql, params = _SCAN_VISIBLE, (queue, now, limit)
        return [_item(row) for row in self.db.single("scan", sql, params)]

    def _count(self, queue: str, now: int) -> Sizes:
        [(total, visible)] = self.db.single("size", _COUNT, (now, queue))
        return Sizes(int(visible), total - int(visible))

    def _purge(self, queue: str) -> None:
        self.db.single("purge", _PURGE, (queue,), rows=False)

