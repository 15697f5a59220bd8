"""Queue throughput (push + lease + ack) per storage driver, against a raw floor.

Every figure is printed next to a baseline measured in the same run on the
same machine, so the ratios mean something on any machine:

* memory   vs a plain ``collections.deque`` (FIFO) and ``heapq`` (priority)
* dynamodb vs raw PutItem / Query(Limit=1) / DeleteItem calls on the same
  moto endpoint (moto's cost grows with partition size, see PLATFORM_NOTES,
  so only the ratio is meaningful, never the absolute figure); batches of 10
  also vs the raw calls the batched path makes (BatchWriteItem, Query,
  TransactWriteItems of updates, TransactWriteItems of deletes), because moto
  makes transactions far slower than DynamoDB does.  moto gets the same
  one-copy-per-transaction fix as the embedded endpoint of ``make run``.

It also prints DynamoDB requests per message (targets: <= 4 unbatched,
<= 0.5 in batches of 10).  Run: ``make bench`` or
``.venv/bin/python bench/queue_bench.py [--messages N]``.
"""
from __future__ import annotations

import argparse
import collections
import heapq
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.domain import disciplines  # noqa: E402
from chalicelib.storage.base import StoredItem  # noqa: E402


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


def deque_rate(count: int) -> float:
    payloads = [json.dumps({"n": n}) for n in range(count)]
    queue: collections.deque = collections.deque()
    started = time.perf_counter()
    for payload in payloads:
        queue.append(payload)
        queue.popleft()
    return count / (time.perf_counter() - started)


def heap_rate(count: int) -> float:
    payloads = [(9 - n % 10, n, json.dumps({"n": n})) for n in range(count)]
    heap: list = []
    started = time.perf_counter()
    for entry in payloads:
        heapq.heappush(heap, entry)
        heapq.heappop(heap)
    return count / (time.perf_counter() - started)


def raw_dynamodb_rate(client, table: str, count: int) -> float:
    """The floor: one PutItem, one Query(Limit=1), one DeleteItem per message."""
    queue = f"raw-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    for n in range(count):
        key = f"{n:020d}"
        client.put_item(TableName=table, Item={
            "queue": {"S": queue}, "key": {"S": key}, "payload": {"S": json.dumps({"n": n})}})
        found = client.query(TableName=table, KeyConditionExpression="#q = :q",
                             ExpressionAttributeNames={"#q": "queue"},
                             ExpressionAttributeValues={":q": {"S": queue}}, Limit=1)
        item = found["Items"][0]
        client.delete_item(TableName=table, Key={"queue": item["queue"], "key": item["key"]})
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


def bench_memory(count: int) -> list[tuple]:
    from chalicelib.storage.memory import MemoryQueueStore
    rows = []
    floor_fifo, floor_heap = deque_rate(count), heap_rate(count)
    for discipline, floor, name in (("fifo", floor_fifo, "deque"),
                                    ("priority", floor_heap, "heapq")):
        for batch in (1, 10):
            rate = driver_rate(MemoryQueueStore(), count, batch, discipline)
            rows.append(("memory", discipline, batch, rate, name, floor, None))
    return rows


def bench_dynamodb(count: int) -> list[tuple]:
    import boto3
    from moto import mock_aws

    from chalicelib.runtime.emulator import copy_each_table_once_per_transaction
    from chalicelib.storage.dynamodb import DynamoQueueStore, count_requests
    from infra.tables import ensure_tables

    copy_each_table_once_per_transaction()

    for key, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(key, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    rows = []
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        ensure_tables(client, "bench", streams=False)
        table = "bench-queue"
        floors = {1: ("raw Put/Query/Delete", raw_dynamodb_rate(client, table, count)),
                  10: ("raw Batch/Query/Transact", raw_dynamodb_batch_rate(client, table, count))}
        for batch in (1, 10):
            queues = DynamoQueueStore(table, client)
            counter = count_requests(client)
            rate = driver_rate(queues, count, batch)
            per_message = counter.total / count
            counter.stop()
            rows.append(("dynamodb", "fifo", batch, rate, *floors[batch], per_message))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000,
                        help="messages per memory run (DynamoDB runs use 1/50 of it)")
    args = parser.parse_args()
    rows = bench_memory(args.messages) + bench_dynamodb(max(args.messages // 50, 50))
    print(f"{'driver':9} {'discipline':10} {'batch':>5} {'ops/s':>10}  {'floor':24} "
          f"{'floor ops/s':>11} {'ratio':>6} {'DDB req/msg':>11}")
    for driver, discipline, batch, rate, floor_name, floor, per_message in rows:
        requests = f"{per_message:.2f}" if per_message is not None else "-"
        print(f"{driver:9} {discipline:10} {batch:>5} {rate:>10,.0f}  {floor_name:24} "
              f"{floor:>11,.0f} {rate / floor:>6.2f} {requests:>11}")
    targets = {1: 4.0, 10: 0.5}
    for driver, _, batch, _, _, _, per_message in rows:
        if per_message is not None:
            verdict = "ok" if per_message <= targets[batch] else "OVER TARGET"
            print(f"DynamoDB requests per message, batch {batch}: {per_message:.2f} "
                  f"(target <= {targets[batch]}) {verdict}")


if __name__ == "__main__":
    main()
