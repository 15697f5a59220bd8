"""What the SQLite file driver promises beyond the contract: crashes lose nothing
acknowledged, processes share the file safely, and a locked or broken file is a 503."""
from __future__ import annotations

import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chalicelib.config import Settings
from chalicelib.errors import StorageUnavailable
from chalicelib.storage import open_storage
from chalicelib.storage.base import StoredItem
from chalicelib.storage.sqlite import (
    DEFAULT_PATH, SqliteDatabase, SqliteDocumentStore, SqliteQueueStore, parse_location,
)
from tests.contract.sqlite_worker import QUEUE

ROOT = Path(__file__).resolve().parents[2]
PUSHES = 1000


def worker(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.contract.sqlite_worker", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_every_acknowledged_push_survives_kill_9_mid_burst(tmp_path):
    path = tmp_path / "bus.sqlite3"
    proc = worker("push", str(path), str(PUSHES))
    acknowledged = []
    try:
        for line in proc.stdout:
            acknowledged.append(line.strip())
            if len(acknowledged) == PUSHES // 3:
                proc.send_signal(signal.SIGKILL)      # in the middle of the burst
                break
        acknowledged += [line.strip() for line in proc.stdout]   # printed before it died
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert PUSHES // 3 <= len(acknowledged) < PUSHES, "the burst ended before the kill"

    queues = SqliteQueueStore(SqliteDatabase(path))          # "restart": a new process's view
    stored = [item.id for item in queues.peek(QUEUE, PUSHES)]
    assert stored[:len(acknowledged)] == acknowledged        # all there, in push order
    assert len(stored) - len(acknowledged) <= 1              # at most the push cut short
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()


def test_processes_sharing_the_file_lease_each_item_exactly_once(tmp_path):
    path = tmp_path / "bus.sqlite3"
    queues = SqliteQueueStore(SqliteDatabase(path))
    queues.push(QUEUE, [StoredItem(key=f"{n:06d}", id=f"m{n}", payload="{}") for n in range(300)])
    consumers = [worker("consume", str(path)) for _ in range(3)]
    seen: collections.Counter[str] = collections.Counter()
    for proc in consumers:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        seen.update(out.split())
    assert sorted(seen) == sorted(f"m{n}" for n in range(300))
    assert set(seen.values()) == {1}
    assert queues.size(QUEUE).total == 0


def test_a_reopened_file_has_the_documents_and_items(tmp_path):
    url = str(tmp_path / "bus.sqlite3")
    first = open_storage(Settings(storage="file", storage_url=url))
    first.docs.put("topic", "orders", {"name": "orders"})
    first.queues.push("q.jobs", [StoredItem(key="k1", id="m1", payload='"job"')])
    first.queues.db.close()
    again = open_storage(Settings(storage="file", storage_url=url))
    assert again.docs.get("topic", "orders") == {"name": "orders"}
    assert [i.payload for i in again.queues.peek("q.jobs", 5)] == ['"job"']


def test_a_file_locked_by_another_writer_is_a_503(tmp_path):
    path = tmp_path / "bus.sqlite3"
    queues = SqliteQueueStore(SqliteDatabase(path, busy_timeout=0.05))
    queues.size("q.any")                                     # creates the schema
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageUnavailable) as raised:
            queues.push("q.any", [StoredItem(key="k", id="m", payload="{}")])
        assert raised.value.status == 503 and "locked" in raised.value.detail
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    queues.push("q.any", [StoredItem(key="k", id="m", payload="{}")])   # free again
    assert queues.size("q.any").total == 1


def test_an_unopenable_path_is_a_503(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    docs = SqliteDocumentStore(SqliteDatabase(blocker / "bus.sqlite3"))
    with pytest.raises(StorageUnavailable):
        docs.ping()


def test_expired_documents_are_swept_from_the_file(tmp_path, clock):
    docs = SqliteDocumentStore(SqliteDatabase(tmp_path / "bus.sqlite3"), clock)
    docs.SWEEP_EVERY = 3
    docs.put("idem", "a", {"v": 1}, expires_at=int(clock.now) + 5)
    docs.put("idem", "b", {"v": 2}, expires_at=int(clock.now) + 5)
    clock.advance(6)
    docs.put("idem", "c", {"v": 3}, expires_at=int(clock.now) + 5)    # third: sweeps
    rows = docs.db.run("count", lambda c: c.execute(
        "SELECT key FROM documents WHERE collection = 'idem'").fetchall())
    assert rows == [("c",)]


def test_batches_larger_than_one_statement_are_pushed_and_acked(tmp_path):
    queues = SqliteQueueStore(SqliteDatabase(tmp_path / "bus.sqlite3"))
    queues.push("q.big", [StoredItem(key=f"{n:06d}", id=f"m{n}", payload=json.dumps(n))
                          for n in range(450)])
    leased = queues.lease("q.big", 450, 30)
    assert [x.item.id for x in leased] == [f"m{n}" for n in range(450)]
    settled = queues.ack("q.big", [x.receipt for x in leased])
    assert len(settled.done) == 450 and queues.size("q.big").total == 0


@pytest.mark.parametrize("url, expected", [
    (None, (DEFAULT_PATH, "NORMAL")),
    ("", (DEFAULT_PATH, "NORMAL")),
    ("/var/lib/tlks/bus.db", ("/var/lib/tlks/bus.db", "NORMAL")),
    ("sqlite:///var/lib/tlks/bus.db?synchronous=full", ("/var/lib/tlks/bus.db", "FULL")),
    ("sqlite://data/bus.db", ("data/bus.db", "NORMAL")),
])
def test_storage_url_names_the_file_and_its_synchronous_mode(url, expected):
    assert parse_location(url) == expected


def test_unknown_storage_url_options_are_refused():
    with pytest.raises(ValueError, match="synchronous"):
        parse_location("bus.db?journal=off")


def test_the_file_is_in_wal_mode(tmp_path):
    path = tmp_path / "bus.sqlite3"
    SqliteDocumentStore(SqliteDatabase(path)).ping()
    assert os.path.exists(f"{path}-wal")
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.close()


def test_a_lease_waits_for_another_writer_then_takes_the_item(tmp_path):
    path = tmp_path / "bus.sqlite3"
    queues = SqliteQueueStore(SqliteDatabase(path))
    queues.push(QUEUE, [StoredItem(key="k1", id="m1", payload="{}")])
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")                  # another writer holds the file
    release = threading.Timer(0.2, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        started = time.monotonic()
        assert [x.item.id for x in queues.lease(QUEUE, 1, 30)] == ["m1"]
        assert time.monotonic() - started >= 0.15       # it waited for the lock
    finally:
        release.join()
        holder.close()
