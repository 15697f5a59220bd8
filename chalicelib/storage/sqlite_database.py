"""The SQLite file behind the ``file`` storage driver (``chalicelib.storage.sqlite``):
where it is, its schema, and the one connection per process that both stores share.

Layout (one database file, WAL mode, schema version in ``PRAGMA user_version``):

* ``documents`` - ``collection``, ``key``, ``doc`` (JSON text), ``expires_at``
  (epoch seconds or NULL).  Reads filter expired documents; puts sweep them now
  and then (a partial index on ``expires_at`` makes that cheap).
* ``items`` - one row per queue item, clustered on ``(queue, key)``
  (``WITHOUT ROWID``), so "the smallest visible key" is a walk of one b-tree
  range from its start.

Durability: a commit is in the write-ahead log before the call returns, so a
process killed at any point (``kill -9``) loses nothing it acknowledged, and a
half-written transaction is rolled back when the file is next opened.  With
``synchronous=NORMAL`` (the default) a *power* loss may lose the last commits,
never the file's consistency; ``?synchronous=full`` in the path trades
throughput for fsync on every commit.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar
from urllib.parse import parse_qsl

from chalicelib.errors import StorageUnavailable

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
                raise self._unavailable(operation, exc) from exc

    def single(self, operation: str, sql: str, params: Sequence, *, rows: bool = True) -> Any:
        """``run`` for one statement, without a closure to build (the queue's hot
        paths): its rows, or when not ``rows`` how many rows it changed."""
        with self.lock:
            try:
                cursor = self._connect().execute(sql, params)
                return cursor.fetchall() if rows else cursor.rowcount
            except sqlite3.OperationalError as exc:
                raise self._unavailable(operation, exc) from exc

    def _unavailable(self, operation: str, exc: sqlite3.Error) -> StorageUnavailable:
        return StorageUnavailable(f"SQLite {self.path} failed {operation}: {exc}")

    def close(self) -> None:
        with self.lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None
