"""SQLite storage (``TLKS_STORAGE=file``): the whole bus in one file on one machine.

For a team that runs the bus as a plain process (or a few processes) without AWS or
Redis.  Only the standard library's ``sqlite3`` is needed.

Layout (one database file, WAL mode, schema version in ``PRAGMA user_version``):

* ``documents`` - ``collection``, ``key``, ``doc`` (JSON text), ``expires_at``
  (epoch seconds or NULL).  Reads filter expired documents; puts sweep them now
  and then (a partial index on ``expires_at`` makes that cheap).
* ``items`` - one row per queue item, clustered on ``(queue, key)``
  (``WITHOUT ROWID``), so "the smallest visible key" is a walk of one b-tree
  range from its start.

Operations (``n`` items; each is one transaction):

=================  ==========================================================
push               one multi-row INSERT (per 200 items)
lease              one ``UPDATE ... RETURNING`` of the first ``n`` visible keys
ack / nack         one DELETE / UPDATE per lease token, conditioned on it (the
                   receipts of one lease share one token)
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

Durability: a commit is in the write-ahead log before the call returns, so a
process killed at any point (``kill -9``) loses nothing it acknowledged, and a
half-written transaction is rolled back when the file is next opened.  With
``synchronous=NORMAL`` (the default) a *power* loss may lose the last commits,
never the file's consistency; ``?synchronous=full`` in the path trades
throughput for fsync on every commit.

Known trade-off: as in the in-memory driver, a lease skips items that are in
flight or delayed at the head of a queue by reading past them, so its cost grows
with the number of such items ahead of the first visible one.

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
import threading
import time
from pathlib import Path
from typing import Callable, TypeVar
from urllib.parse import parse_qsl

from chalicelib.errors import StorageUnavailable
from chalicelib.storage.base import (
    AlreadyExists, Clock, DocumentStore, QueueStore, Ref, Sizes, StoredItem,
)

DEFAULT_PATH = ".tlks/bus.sqlite3"
SCHEMA_VERSION = 1
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    key        TEXT NOT NULL,
    doc        TEXT NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (collection, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS documents_expiry ON documents (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS items (
    queue       TEXT NOT NULL,
    key         TEXT NOT NULL,
    id          TEXT NOT NULL,
    payload     TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    enqueued_at INTEGER NOT NULL,
    visible_at  INTEGER NOT NULL,
    deliveries  INTEGER NOT NULL,
    lease       TEXT,
    attributes  TEXT,
    PRIMARY KEY (queue, key)
) WITHOUT ROWID;
"""

_COLUMNS = "key, id, payload, priority, enqueued_at, visible_at, deliveries, lease, attributes"


def parse_location(url: str | None) -> tuple[str, str]:
    """``(path, synchronous)`` from ``TLKS_STORAGE_URL``.

    Accepts a plain path, ``sqlite:///abs/path`` or ``sqlite://rel/path``, with an
    optional ``?synchronous=normal|full``.  Empty: ``.tlks/bus.sqlite3``.
    """
    location = url or DEFAULT_PATH
    path, _, query = location.partition("?")
    if path.startswith("sqlite://"):
        path = path[len("sqlite://"):]
    options = dict(parse_qsl(query))
    synchronous = options.pop("synchronous", "normal").upper()
    if synchronous not in ("NORMAL", "FULL", "EXTRA") or options:
        raise ValueError(f"unsupported SQLite option in {url!r}: "
                         f"only synchronous=normal|full|extra is understood")
    return path or DEFAULT_PATH, synchronous


class SqliteDatabase:
    """One database file, shared by the document and queue stores of a process.

    One connection per process (reopened after a fork) behind one lock: SQLite
    writes one transaction at a time anyway, and a lock is cheaper than the
    file lock's busy waits between threads of one process.  Processes sharing
    the file wait for each other through ``busy_timeout``.

    Args:
        path: the database file; its folder is created if missing.
        synchronous: ``NORMAL`` (survives process crashes) or ``FULL`` (also
            power loss, at an fsync per commit).
        busy_timeout: seconds to wait for another process's write lock.
    """

    def __init__(self, path: str | os.PathLike, *, synchronous: str = "NORMAL",
                 busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0

    @classmethod
    def from_url(cls, url: str | None) -> "SqliteDatabase":
        path, synchronous = parse_location(url)
        return cls(path, synchronous=synchronous)

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        # A connection inherited through fork() must not be used: open our own.
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise sqlite3.OperationalError(f"unable to create {self.path.parent}: {exc}") from exc
        connection = sqlite3.connect(self.path, timeout=self.busy_timeout,
                                     isolation_level=None, check_same_thread=False,
                                     cached_statements=64)
        connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        if connection.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            connection.close()
            raise StorageUnavailable(f"SQLite file {self.path} cannot use WAL mode")
        connection.execute(f"PRAGMA synchronous = {self.synchronous}")
        if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            try:   # several processes may open a new file at once: one creates the schema
                connection.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} "
                                         f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
            except sqlite3.Error:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                connection.close()
                raise
        self._connection, self._pid = connection, os.getpid()
        return connection

    def run(self, operation: str, work: Callable[[sqlite3.Connection], T], *,
            transaction: bool = False) -> T:
        """Run ``work`` on the connection; in one ``BEGIN IMMEDIATE`` transaction
        when ``transaction`` (otherwise each statement commits by itself).

        Raises:
            StorageUnavailable: the file is locked past ``busy_timeout``, cannot
                be opened, or the disk failed.
        """
        with self.lock:
            try:
                connection = self._connect()
                if not transaction:
                    return work(connection)
                connection.execute("BEGIN IMMEDIATE")
                try:
                    result = work(connection)
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
                return result
            except sqlite3.OperationalError as exc:
                raise StorageUnavailable(
                    f"SQLite {self.path} failed {operation}: {exc}") from exc

    def close(self) -> None:
        with self.lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None


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
# The first `limit` visible keys, leased in the same statement.
_CLAIM = ("UPDATE items SET lease = ?, visible_at = ?, deliveries = deliveries + 1 "
          "WHERE queue = ? AND key IN (SELECT key FROM items WHERE queue = ? "
          "AND visible_at <= ? AND key <= ? ORDER BY key LIMIT ?) RETURNING " + _COLUMNS)
# Ack / nack: one statement per lease token (the receipts of one lease share it).
#: above every key (keys are ASCII): "no upper bound" for the claim's key range
_KEY_MAX = "\U0010ffff"
_DELETE = "DELETE FROM items WHERE queue = ? AND lease = ? AND key IN ({}) RETURNING key"
_RELEASE = ("UPDATE items SET lease = NULL, visible_at = ? WHERE queue = ? AND lease = ? "
            "AND key IN ({}) RETURNING key")
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


def _row(queue: str, item: StoredItem) -> tuple:
    return (queue, item.key, item.id, item.payload, item.priority, item.enqueued_at,
            item.visible_at, item.deliveries, item.lease,
            json.dumps(item.attributes, separators=(",", ":")) if item.attributes else None)


def _item(row: tuple) -> StoredItem:
    key, id_, payload, priority, enqueued_at, visible_at, deliveries, lease, attributes = row
    return StoredItem(key, id_, payload, priority, enqueued_at, visible_at, deliveries, lease,
                      json.loads(attributes) if attributes else {})


class SqliteQueueStore(_OnDatabase, QueueStore):
    """Queue items in the ``items`` table."""

    def __init__(self, db: SqliteDatabase | str | None = None, clock: Clock = time.time) -> None:
        _OnDatabase.__init__(self, db)
        QueueStore.__init__(self, clock)

    def _append(self, queue: str, items: list[StoredItem]) -> None:
        statements = [(_batched(_INSERT, _INSERT_ROW, len(chunk)),
                       [v for item in chunk for v in _row(queue, item)])
                      for chunk in _chunks(items)]

        def work(c: sqlite3.Connection) -> None:
            for sql, params in statements:
                c.execute(sql, params)
        self.db.run("push", work, transaction=len(statements) > 1)

    def _claim(self, queue: str, limit: int, now: int, until: int,
               upto: str | None = None) -> list[StoredItem]:
        # One lease token per claim: a receipt is (key, token), so it still names one item.
        # One statement: SQLite takes the write lock before it reads the candidates.
        params = (self.new_lease(), until, queue, queue, now, _KEY_MAX if upto is None else upto,
                  limit)
        rows = self.db.run("lease", lambda c: c.execute(_CLAIM, params).fetchall())
        rows.sort()   # RETURNING gives no order
        return [_item(row) for row in rows]

    def _delete(self, queue: str, refs: list[Ref]) -> list[bool]:
        return self._settle_refs("ack", _DELETE, (queue,), refs)

    def _release(self, queue: str, refs: list[Ref], visible_at: int) -> list[bool]:
        return self._settle_refs("nack", _RELEASE, (visible_at, queue), refs)

    def _settle_refs(self, operation: str, template: str, head: tuple,
                     refs: list[Ref]) -> list[bool]:
        """Run ``template`` for the refs, one statement per lease token (and chunk),
        in one transaction when there are several; report which refs matched.  A
        receipt repeated in one call is done once."""
        keys_by_lease: dict[str, dict[str, None]] = {}
        for ref in refs:
            keys_by_lease.setdefault(ref.lease, {})[ref.key] = None
        statements = [(_batched(template, "?", len(chunk)), (*head, lease, *chunk), lease)
                      for lease, keys in keys_by_lease.items() for chunk in _chunks(list(keys))]

        def work(c: sqlite3.Connection) -> set[tuple]:
            return {(key, lease) for sql, params, lease in statements
                    for (key,) in c.execute(sql, params).fetchall()}
        matched = self.db.run(operation, work, transaction=len(statements) > 1)
        results = []
        for ref in refs:
            pair = (ref.key, ref.lease)
            results.append(pair in matched)
            matched.discard(pair)
        return results

    def _delete_unleased(self, queue: str, key: str) -> None:
        self.db.run("delete", lambda c: c.execute(_DELETE_UNLEASED, (queue, key)))

    def _scan(self, queue: str, limit: int, now: int | None) -> list[StoredItem]:
        if limit <= 0:
            return []
        if now is None:
            sql, params = _SCAN_ALL, (queue, limit)
        else:
            sql, params = _SCAN_VISIBLE, (queue, now, limit)
        rows = self.db.run("scan", lambda c: c.execute(sql, params).fetchall())
        return [_item(row) for row in rows]

    def _count(self, queue: str, now: int) -> Sizes:
        total, visible = self.db.run("size", lambda c: c.execute(_COUNT, (now, queue)).fetchone())
        return Sizes(int(visible), total - int(visible))

    def _purge(self, queue: str) -> None:
        self.db.run("purge", lambda c: c.execute(_PURGE, (queue,)))

