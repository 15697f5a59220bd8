"""Queue throughput (push + lease + ack) per storage driver, against a raw floor.

Every figure is printed next to a baseline measured in the same run on the
same machine, so the ratios mean something on any machine (target: every
driver at >= 50% of its floor).  Driver and floor runs alternate for
``--rounds`` rounds and the best of each counts, so a busy machine hurts both
alike.

* memory   vs a ``collections.deque`` (FIFO) / ``heapq`` (priority) doing the
  bookkeeping any queue needs - an id and a payload string per message, a
  lease token per delivery kept in an in-flight dict and checked on ack.  A
  bare deque append/popleft would make the ratio meaningless (it does none of
  the work); this floor is still far cheaper than the driver, which also keeps
  the key order, visibility, delivery counts, receipts and copies.  A second
  row puts that same floor behind the three calls every driver offers (push,
  lease, ack), each taking a lock and the time: the most any driver can reach,
  since the calls alone cost about as much as the floor's work at batch 1.
* file     vs raw ``sqlite3`` statements on the same file settings (WAL,
  ``synchronous``): per message an INSERT, a SELECT of the head and a DELETE,
  each committing by itself; batches of 10 in one transaction per step.  A
  second floor takes the head with an ``UPDATE ... RETURNING`` that records a
  lease (a write and a commit more, as any queue with leases needs).
* redis    vs raw commands on the same server: HSET + ZADD (push), ZPOPMIN +
  HGET (take), HDEL (ack) - one round trip per command ("unpipelined"), or
  per step ("pipelined": the push pair together, a batch's commands together).
* dynamodb vs raw PutItem / Query(Limit=1) / DeleteItem calls on the same moto
  endpoint (moto's cost grows with partition size, see PLATFORM_NOTES, so only
  the ratio is meaningful, never the absolute figure), and vs the same with the
  lease written (a conditional UpdateItem claims the head, the DeleteItem is
  conditioned on its lease: the four calls the driver makes); batches of 10 also vs
  the raw calls the batched path makes (BatchWriteItem, Query,
  TransactWriteItems of updates, TransactWriteItems of deletes), because moto
  makes transactions far slower than DynamoDB does.  moto gets the same
  one-copy-per-transaction fix as the embedded endpoint of ``make run``.
  It also prints DynamoDB requests per message (targets: <= 4 unbatched,
  <= 0.5 in batches of 10).

Then, for the drivers on this machine, the cost of a lease with 0, 1,000 and
10,000 items in flight ahead of the item it takes (the head of a FIFO queue
whose consumers are busy), as a ratio to none in flight.

First of all, the footprint of ``--footprint`` queued messages per driver: Python heap
(``tracemalloc``: peak while pushing, and what stays) for the in-memory driver,
the database file for SQLite, ``INFO memory`` for Redis, and for DynamoDB the
items' size by DynamoDB's sizing rules (what the table stores and bills; moto's
heap would say nothing about DynamoDB).

Redis: ``--redis-url``, or a throwaway ``redis-server`` started for the run
(skipped with a hint when none is installed).  Run: ``make bench`` or
``.venv/bin/python bench/queue_bench.py [--messages N] [--drivers memory,file,...]``.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import heapq
import json
import os
import secrets
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.domain import disciplines  # noqa: E402
from chalicelib.storage.base import StoredItem  # noqa: E402

DRIVERS = ("memory", "file", "redis", "dynamodb")
TARGET_RATIO = 0.5


def row(driver, discipline, batch, rate, floor_name, floor, per_message=None) -> tuple:
    """driver, discipline, batch, ops/s, floor name, floor ops/s, DynamoDB requests/msg."""
    return (driver, discipline, batch, rate, floor_name, floor, per_message)


def make_items(count: int, discipline: str) -> list[StoredItem]:
    items = []
    for n in range(count):
        message_id = uuid.uuid4().hex
        priority = n % 10
        key = disciplines.sort_key(discipline, disciplines.next_seq(), message_id, priority)
        items.append(StoredItem(key=key, id=message_id, payload=json.dumps({"n": n}),
                                priority=priority))
    return items


def driver_rate(queues, count: int, batch: int, discipline: str = "fifo") -> float:
    """push+lease+ack round trips per second, ``batch`` messages at a time."""
    items = make_items(count, discipline)
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    for start in range(0, count, batch):
        queues.push(queue, items[start:start + batch])
        leased = queues.lease(queue, batch, 30)
        assert len(leased) == len(items[start:start + batch]), "lease lost messages"
        queues.ack(queue, [lease.receipt for lease in leased])
    return count / (time.perf_counter() - started)


def best_of(rounds: int, *runs: Callable[[], float]) -> list[float]:
    """Each run's best rate over ``rounds`` rounds, the runs alternating."""
    best = [0.0] * len(runs)
    for _ in range(rounds):
        for n, run in enumerate(runs):
            gc.collect()
            best[n] = max(best[n], run())
    return best


# ------------------------------------------------------------------ memory

def _floor_structure(discipline: str) -> tuple[Callable, Callable]:
    """(put, take) over a deque (FIFO) or a heap (priority) of floor messages."""
    if discipline == "fifo":
        ready: collections.deque = collections.deque()

        def take():
            return ready.popleft()[1:3]
        return ready.append, take
    heap: list = []

    def put(entry):
        heapq.heappush(heap, (entry[3], entry[0], entry[1], entry[2]))

    def take():
        return heapq.heappop(heap)[2:4]
    return put, take


def _floor_messages(count: int) -> list[tuple]:
    return [(n, uuid.uuid4().hex, json.dumps({"n": n}), 9 - n % 10) for n in range(count)]


def bookkept_floor_rate(count: int, batch: int, discipline: str) -> float:
    """deque / heapq with an id, a payload, and lease tokens in an in-flight dict."""
    messages = _floor_messages(count)
    put, take = _floor_structure(discipline)
    in_flight: dict[str, tuple[str, str]] = {}
    started = time.perf_counter()
    for start in range(0, count, batch):
        chunk = messages[start:start + batch]
        for entry in chunk:
            put(entry)
        leased = []
        for _ in chunk:
            message_id, payload = take()
            token = secrets.token_hex(8)
            in_flight[message_id] = (payload, token)
            leased.append((message_id, token))
        for message_id, token in leased:
            held = in_flight.get(message_id)
            if held is not None and held[1] == token:
                del in_flight[message_id]
    return count / (time.perf_counter() - started)


class FloorBehindApi:
    """The bookkept floor's work, no more, behind the three calls every driver
    offers - ``push``, ``lease``, ``ack`` - each taking a lock and the time, as a
    store shared by threads and honouring visibility must.  No ordering by key,
    no visibility, no receipts, no copies: what no driver can do without."""

    def __init__(self, discipline: str) -> None:
        self._put, self._take = _floor_structure(discipline)
        self._in_flight: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()
        self.clock = time.time

    def push(self, queue: str, entries: list[tuple]) -> None:
        int(self.clock() * 1000)
        with self._lock:
            for entry in entries:
                self._put(entry)

    def lease(self, queue: str, count: int, visibility_timeout: float) -> list[tuple]:
        int(self.clock() * 1000)
        leased = []
        with self._lock:
            for _ in range(count):
                message_id, payload = self._take()
                token = secrets.token_hex(8)
                self._in_flight[message_id] = (payload, token)
                leased.append((message_id, token))
        return leased

    def ack(self, queue: str, receipts: list[tuple]) -> None:
        with self._lock:
            for message_id, token in receipts:
                held = self._in_flight.get(message_id)
                if held is not None and held[1] == token:
                    del self._in_flight[message_id]


def floor_behind_api_rate(count: int, batch: int, discipline: str) -> float:
    messages = _floor_messages(count)
    store = FloorBehindApi(discipline)
    started = time.perf_counter()
    for start in range(0, count, batch):
        chunk = messages[start:start + batch]
        store.push("bench", chunk)
        store.ack("bench", store.lease("bench", len(chunk), 30))
    return count / (time.perf_counter() - started)


def bench_memory(count: int, rounds: int) -> list[tuple]:
    from chalicelib.storage.memory import MemoryQueueStore
    rows = []
    for discipline, name in (("fifo", "deque + in-flight dict"),
                             ("priority", "heapq + in-flight dict")):
        for batch in (1, 10):
            rate, floor, api = best_of(
                rounds, lambda: driver_rate(MemoryQueueStore(), count, batch, discipline),
                lambda: bookkept_floor_rate(count, batch, discipline),
                lambda: floor_behind_api_rate(count, batch, discipline))
            rows.append(row("memory", discipline, batch, rate, name, floor))
            rows.append(row("memory", discipline, batch, rate, "  the same, behind the API",
                            api))
    return rows


# ------------------------------------------------------------------ file (SQLite)

_RAW_TABLE = ("CREATE TABLE IF NOT EXISTS raw_items (queue TEXT, key TEXT, payload TEXT, "
              "lease TEXT, PRIMARY KEY (queue, key)) WITHOUT ROWID")


def raw_sqlite_rate(db, count: int, batch: int, lease_write: bool = False) -> float:
    """INSERT, SELECT the head, DELETE: each committing by itself, or one transaction
    per step of a batch.  ``lease_write``: the head is taken by an ``UPDATE ...
    RETURNING`` that records a lease token, as any queue with leases must."""
    connection = db._connect()          # the driver's own settings (WAL, synchronous)
    connection.execute(_RAW_TABLE)
    queue = f"raw-{uuid.uuid4().hex[:6]}"
    rows = [(queue, f"{n:020d}", json.dumps({"n": n})) for n in range(count)]
    insert = "INSERT INTO raw_items (queue, key, payload) VALUES (?, ?, ?)"
    head = ("UPDATE raw_items SET lease = 'token' WHERE queue = ?1 AND key IN (SELECT key "
            "FROM raw_items WHERE queue = ?1 AND lease IS NULL ORDER BY key LIMIT ?2) "
            "RETURNING key, payload" if lease_write else
            "SELECT key, payload FROM raw_items WHERE queue = ? ORDER BY key LIMIT ?")
    delete = "DELETE FROM raw_items WHERE queue = ? AND key = ?"
    started = time.perf_counter()
    if batch == 1:
        for record in rows:
            connection.execute(insert, record)
            [(key, _)] = connection.execute(head, (queue, 1)).fetchall()
            connection.execute(delete, (queue, key))
    else:
        for start in range(0, count, batch):
            connection.execute("BEGIN")
            connection.executemany(insert, rows[start:start + batch])
            connection.execute("COMMIT")
            found = connection.execute(head, (queue, batch)).fetchall()
            connection.execute("BEGIN")
            connection.executemany(delete, [(queue, key) for key, _ in found])
            connection.execute("COMMIT")
    return count / (time.perf_counter() - started)


def bench_file(count: int, rounds: int) -> list[tuple]:
    from chalicelib.storage.sqlite import SqliteDatabase, SqliteQueueStore
    rows = []
    with tempfile.TemporaryDirectory(prefix="tlks-bench-") as folder:
        db = SqliteDatabase(Path(folder) / "bench.sqlite3")
        queues = SqliteQueueStore(db)
        for batch in (1, 10):
            rate, plain, leasing = best_of(
                rounds, lambda: driver_rate(queues, count, batch),
                lambda: raw_sqlite_rate(db, count, batch),
                lambda: raw_sqlite_rate(db, count, batch, lease_write=True))
            step = "autocommit" if batch == 1 else "tx per step"
            rows.append(row("file", "fifo", batch, rate, f"raw ins/sel/del, {step}", plain))
            rows.append(row("file", "fifo", batch, rate, f"raw ins/upd/del, {step}", leasing))
        db.close()
    return rows


# ------------------------------------------------------------------ redis

def raw_redis_rate(client, count: int, batch: int, pipelined: bool) -> float:
    """HSET + ZADD, ZPOPMIN + HGET, HDEL per message (batch: per batch)."""
    tag = uuid.uuid4().hex[:6]
    items, ready = f"raw:{{{tag}}}:i", f"raw:{{{tag}}}:r"
    messages = [(f"{n:020d}", json.dumps({"n": n})) for n in range(count)]
    started = time.perf_counter()
    for start in range(0, count, batch):
        chunk = messages[start:start + batch]
        if pipelined:
            pipe = client.pipeline(transaction=False)
            pipe.hset(items, mapping=dict(chunk))
            pipe.zadd(ready, {key: 0 for key, _ in chunk})
            pipe.execute()
            keys = [key for key, _ in client.zpopmin(ready, len(chunk))]
            client.hmget(items, keys)
            client.hdel(items, *keys)
        else:
            for key, payload in chunk:
                client.hset(items, key, payload)
                client.zadd(ready, {key: 0})
            keys = [client.zpopmin(ready)[0][0] for _ in chunk]
            for key in keys:
                client.hget(items, key)
            for key in keys:
                client.hdel(items, key)
    return count / (time.perf_counter() - started)


@contextlib.contextmanager
def redis_for_bench(url: str | None) -> Iterator[str | None]:
    if url:
        yield url
        return
    from tests.redis_server import throwaway_redis
    try:
        with throwaway_redis() as server:
            yield server.url
    except FileNotFoundError as exc:
        print(f"redis: skipped ({exc})", file=sys.stderr)
        yield None


def bench_redis(url: str, count: int, rounds: int) -> list[tuple]:
    from chalicelib.storage.redis_store import RedisQueueStore, redis_client_for
    client = redis_client_for(url)
    queues = RedisQueueStore(client, f"bench-{uuid.uuid4().hex[:6]}")
    rows = []
    for batch in (1, 10):
        rate, unpiped, piped = best_of(
            rounds, lambda: driver_rate(queues, count, batch),
            lambda: raw_redis_rate(client, count, batch, pipelined=False),
            lambda: raw_redis_rate(client, count, batch, pipelined=True))
        rows.append(row("redis", "fifo", batch, rate, "raw cmds, unpipelined", unpiped))
        rows.append(row("redis", "fifo", batch, rate, "raw cmds, pipelined", piped))
    return rows


# ------------------------------------------------------------------ dynamodb (moto)

def raw_dynamodb_rate(client, table: str, count: int, lease_write: bool = False) -> float:
    """The floor: one PutItem, one Query(Limit=1), one DeleteItem per message.
    ``lease_write``: the head is claimed by an UpdateItem conditioned on its
    visibility and the DeleteItem is conditioned on that lease, as any queue
    whose consumers may crash must do (a write more per message)."""
    queue = f"raw-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    for n in range(count):
        key = f"{n:020d}"
        client.put_item(TableName=table, Item={
            "queue": {"S": queue}, "key": {"S": key}, "visible_at": {"N": "0"},
            "payload": {"S": json.dumps({"n": n})}})
        found = client.query(TableName=table, KeyConditionExpression="#q = :q",
                             ExpressionAttributeNames={"#q": "queue"},
                             ExpressionAttributeValues={":q": {"S": queue}}, Limit=1)
        item = found["Items"][0]
        item_key = {"queue": item["queue"], "key": item["key"]}
        if not lease_write:
            client.delete_item(TableName=table, Key=item_key)
            continue
        client.update_item(
            TableName=table, Key=item_key, UpdateExpression="SET #v = :v, #l = :l",
            ConditionExpression="#v <= :now",
            ExpressionAttributeNames={"#v": "visible_at", "#l": "lease"},
            ExpressionAttributeValues={":v": {"N": "1"}, ":l": {"S": "token"},
                                       ":now": {"N": "0"}})
        client.delete_item(TableName=table, Key=item_key, ConditionExpression="#l = :l",
                           ExpressionAttributeNames={"#l": "lease"},
                           ExpressionAttributeValues={":l": {"S": "token"}})
    return count / (time.perf_counter() - started)


def raw_dynamodb_batch_rate(client, table: str, count: int, batch: int = 10) -> float:
    """The batched floor: the same four calls per batch as the driver, bare."""
    queue = f"rawb-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    for start in range(0, count, batch):
        client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {
            "queue": {"S": queue}, "key": {"S": f"{n:020d}"}, "visible_at": {"N": "0"},
            "payload": {"S": json.dumps({"n": n})}}}} for n in range(start, start + batch)]})
        items = client.query(TableName=table, KeyConditionExpression="#q = :q",
                             ExpressionAttributeNames={"#q": "queue"},
                             ExpressionAttributeValues={":q": {"S": queue}}, Limit=batch)["Items"]
        client.transact_write_items(TransactItems=[{"Update": {
            "TableName": table, "Key": {"queue": i["queue"], "key": i["key"]},
            "UpdateExpression": "SET #v = :v", "ConditionExpression": "#v <= :now",
            "ExpressionAttributeNames": {"#v": "visible_at"},
            "ExpressionAttributeValues": {":v": {"N": "1"}, ":now": {"N": "0"}}}} for i in items])
        client.transact_write_items(TransactItems=[{"Delete": {
            "TableName": table, "Key": {"queue": i["queue"], "key": i["key"]},
            "ConditionExpression": "#v = :v", "ExpressionAttributeNames": {"#v": "visible_at"},
            "ExpressionAttributeValues": {":v": {"N": "1"}}}} for i in items])
    return count / (time.perf_counter() - started)


@contextlib.contextmanager
def moto_dynamodb() -> Iterator:
    import boto3
    from moto import mock_aws

    from chalicelib.runtime.emulator import copy_each_table_once_per_transaction
    from infra.tables import ensure_tables

    copy_each_table_once_per_transaction()
    for key, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(key, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        ensure_tables(client, "bench", streams=False)
        yield client


def bench_dynamodb(count: int, rounds: int) -> list[tuple]:
    from chalicelib.storage.dynamodb import DynamoQueueStore, count_requests

    rows = []
    with moto_dynamodb() as client:
        table = "bench-queue"
        queues = DynamoQueueStore(table, client)
        counter = count_requests(client)

        def driver(batch: int) -> float:
            counter.reset()
            rate = driver_rate(queues, count, batch)
            per_message[batch] = counter.total / count
            return rate

        per_message: dict[int, float] = {}
        rate, plain, leasing = best_of(
            rounds, lambda: driver(1), lambda: raw_dynamodb_rate(client, table, count),
            lambda: raw_dynamodb_rate(client, table, count, lease_write=True))
        rows.append(row("dynamodb", "fifo", 1, rate, "raw Put/Query/Delete", plain,
                        per_message[1]))
        rows.append(row("dynamodb", "fifo", 1, rate, "raw Put/Query/Update/Delete", leasing,
                        per_message[1]))
        rate, batched = best_of(rounds, lambda: driver(10),
                                lambda: raw_dynamodb_batch_rate(client, table, count))
        rows.append(row("dynamodb", "fifo", 10, rate, "raw Batch/Query/Transact", batched,
                        per_message[10]))
        counter.stop()
    return rows


# ------------------------------------------------------------------ items in flight

IN_FLIGHT = (0, 1_000, 10_000)


def in_flight_rate(queues, in_flight: int, rounds: int = 1000) -> float:
    """lease + ack of one item per second while ``in_flight`` items ahead of it
    in key order are leased (the head of a FIFO queue with busy consumers)."""
    queue = f"flight-{uuid.uuid4().hex[:6]}"
    queues.push(queue, make_items(in_flight + rounds, "fifo"))
    if in_flight:
        assert len(queues.lease(queue, in_flight, 600)) == in_flight
    started = time.perf_counter()
    for _ in range(rounds):
        [leased] = queues.lease(queue, 1, 600)
        queues.ack(queue, [leased.receipt])
    return rounds / (time.perf_counter() - started)


def in_flight_rows(drivers: set[str], redis_url: str | None, rounds: int) -> list[tuple]:
    """(driver, items in flight, lease+ack per second) for the local drivers."""
    stores: list[tuple[str, Callable[[], object]]] = []
    folder = tempfile.TemporaryDirectory(prefix="tlks-bench-")
    if "memory" in drivers:
        from chalicelib.storage.memory import MemoryQueueStore
        stores.append(("memory", MemoryQueueStore))
    if "file" in drivers:
        from chalicelib.storage.sqlite import SqliteDatabase, SqliteQueueStore
        db = SqliteDatabase(Path(folder.name) / "flight.sqlite3")
        stores.append(("file", lambda: SqliteQueueStore(db)))
    if "redis" in drivers and redis_url:
        from chalicelib.storage.redis_store import RedisQueueStore, redis_client_for
        client = redis_client_for(redis_url)
        stores.append(("redis", lambda: RedisQueueStore(client, f"fl-{uuid.uuid4().hex[:6]}")))
    found = []
    with folder:
        for name, build in stores:
            rates = best_of(rounds, *[lambda count=count: in_flight_rate(build(), count)
                                      for count in IN_FLIGHT])
            found += [(name, count, rate) for count, rate in zip(IN_FLIGHT, rates)]
    return found


def print_in_flight(found: list[tuple]) -> None:
    print("\nlease + ack of one item with items in flight ahead of it (ratio: to none in flight)")
    print(f"{'driver':9} {'in flight':>9} {'ops/s':>9} {'ratio':>6}")
    base = {}
    for driver, count, rate in found:
        base.setdefault(driver, rate)
        print(f"{driver:9} {count:>9,} {rate:>9,.0f} {rate / base[driver]:>6.2f}")


# ------------------------------------------------------------------ footprint

def _push_all(queues, count: int) -> None:
    queue = "footprint"
    items = make_items(count, "fifo")
    for start in range(0, count, 100):
        queues.push(queue, items[start:start + 100])
    assert queues.size(queue).total == count


def traced(build: Callable[[], object], count: int) -> tuple[int, int]:
    """(peak, retained) Python heap bytes of a store holding ``count`` messages."""
    gc.collect()
    tracemalloc.start()
    store = build()
    _push_all(store, count)
    gc.collect()
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del store
    return peak, retained


def dynamodb_item_bytes(record: dict) -> int:
    """An item's size by DynamoDB's rules: names + UTF-8 strings + ~1 byte per 2 digits."""
    size = 0
    for name, value in record.items():
        size += len(name.encode())
        if "S" in value:
            size += len(value["S"].encode())
        else:
            digits = value["N"].lstrip("-").replace(".", "").strip("0") or "0"
            size += (len(digits) + 1) // 2 + 1
    return size


def footprints(drivers: set[str], count: int, redis_url: str | None) -> list[tuple]:
    """(driver, what was measured, bytes)."""
    found = []
    if "memory" in drivers:
        from chalicelib.storage.memory import MemoryQueueStore
        peak, retained = traced(MemoryQueueStore, count)
        found += [("memory", "tracemalloc peak", peak),
                  ("memory", "tracemalloc retained", retained)]
    if "file" in drivers:
        from chalicelib.storage.sqlite import SqliteDatabase, SqliteQueueStore
        with tempfile.TemporaryDirectory(prefix="tlks-bench-") as folder:
            path = Path(folder) / "footprint.sqlite3"
            db = SqliteDatabase(path)
            _push_all(SqliteQueueStore(db), count)
            wal = Path(f"{path}-wal")
            found.append(("file", "db + WAL files", path.stat().st_size + wal.stat().st_size))
            db._connect().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            found.append(("file", "db file after checkpoint", path.stat().st_size))
            db.close()
    if "redis" in drivers and redis_url:
        from chalicelib.storage.redis_store import RedisQueueStore, redis_client_for
        client = redis_client_for(redis_url)
        before = client.info("memory")["used_memory"]
        _push_all(RedisQueueStore(client, f"footprint-{uuid.uuid4().hex[:6]}"), count)
        found.append(("redis", "INFO used_memory delta",
                      client.info("memory")["used_memory"] - before))
    if "dynamodb" in drivers:
        # The table is remote: what counts is what it stores (and bills), not moto's heap.
        from chalicelib.storage.dynamodb import _to_item
        size = sum(dynamodb_item_bytes(_to_item("footprint", item))
                   for item in make_items(count, "fifo"))
        found.append(("dynamodb", "item bytes (DynamoDB sizing)", size))
    return found


# ------------------------------------------------------------------ main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000,
                        help="messages per run (DynamoDB runs use 1/50 of it)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating driver / floor rounds; the best of each counts")
    parser.add_argument("--footprint", type=int, default=100_000,
                        help="queued messages for the footprint (0: skip it)")
    parser.add_argument("--drivers", default=",".join(DRIVERS),
                        help=f"comma-separated subset of {','.join(DRIVERS)}")
    parser.add_argument("--redis-url", help="an existing Redis (default: a throwaway server)")
    parser.add_argument("--no-in-flight", dest="in_flight", action="store_false",
                        help="skip the lease cost with items in flight (memory, file, redis)")
    args = parser.parse_args()
    drivers = set(args.drivers.split(","))
    unknown = drivers - set(DRIVERS)
    if unknown:
        parser.error(f"unknown drivers: {', '.join(sorted(unknown))}")

    with contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(redis_for_bench(args.redis_url)) \
            if "redis" in drivers else None
        if args.footprint:      # first: Redis's expiring retry records would blur INFO memory
            print_footprints(footprints(drivers, args.footprint, redis_url), args.footprint)
        rows: list[tuple] = []
        if "memory" in drivers:
            rows += bench_memory(args.messages, args.rounds)
        if "file" in drivers:
            rows += bench_file(args.messages, args.rounds)
        if "redis" in drivers and redis_url:
            rows += bench_redis(redis_url, args.messages, args.rounds)
        if "dynamodb" in drivers:
            rows += bench_dynamodb(max(args.messages // 50, 50), args.rounds)
        print_rates(rows)
        if args.in_flight and drivers & {"memory", "file", "redis"}:
            print_in_flight(in_flight_rows(drivers, redis_url, max(args.rounds, 3)))


def print_rates(rows: list[tuple]) -> None:
    print("\npush + lease + ack, best of the rounds")
    print(f"{'driver':9} {'discipline':10} {'batch':>5} {'ops/s':>9}  {'floor':28} "
          f"{'floor ops/s':>11} {'ratio':>6}  {'DDB req/msg':>11}")
    for driver, discipline, batch, rate, floor_name, floor, per_message in rows:
        requests = f"{per_message:.2f}" if per_message is not None else "-"
        verdict = "" if rate / floor >= TARGET_RATIO else "  < target"
        print(f"{driver:9} {discipline:10} {batch:>5} {rate:>9,.0f}  {floor_name:28} "
              f"{floor:>11,.0f} {rate / floor:>6.2f}  {requests:>11}{verdict}")
    targets = {1: 4.0, 10: 0.5}
    per_batch = {batch: per_message for _, _, batch, _, _, _, per_message in rows
                 if per_message is not None}
    for batch, per_message in per_batch.items():
        verdict = "ok" if per_message <= targets[batch] else "OVER TARGET"
        print(f"DynamoDB requests per message, batch {batch}: {per_message:.2f} "
              f"(target <= {targets[batch]}) {verdict}")


def print_footprints(found: list[tuple], count: int) -> None:
    print(f"footprint of {count:,} queued messages")
    print(f"{'driver':9} {'measured':30} {'MB':>8} {'bytes/msg':>10}")
    for driver, what, size in found:
        print(f"{driver:9} {what:30} {size / 1e6:>8.1f} {size / count:>10,.0f}")


if __name__ == "__main__":
    main()
