"""A separate process on a shared SQLite file, for the file driver's tests.

``python -m tests.contract.sqlite_worker push PATH COUNT`` pushes COUNT messages one
by one and prints each id once its push has returned (acknowledged);
``... consume PATH`` leases and acks until the queue is empty and prints each id it
acked.  Each line is flushed at once, so a parent reading the pipe sees exactly
what was acknowledged before it killed the process.
"""
from __future__ import annotations

import sys

from chalicelib.domain.disciplines import next_seq, sort_key
from chalicelib.storage.base import StoredItem
from chalicelib.storage.sqlite import SqliteDatabase, SqliteQueueStore

QUEUE = "q.shared"


def push(queues: SqliteQueueStore, count: int) -> None:
    for n in range(count):
        message_id = f"m{n}"
        queues.push(QUEUE, [StoredItem(key=sort_key("fifo", next_seq(), message_id),
                                       id=message_id, payload=f'{{"n": {n}}}')])
        print(message_id, flush=True)


def consume(queues: SqliteQueueStore) -> None:
    while True:
        leased = queues.lease(QUEUE, 5, 300)
        if not leased:
            if queues.size(QUEUE).visible == 0:
                return
            continue
        settled = queues.ack(QUEUE, [lease.receipt for lease in leased])
        assert not settled.stale, settled.stale
        for lease in leased:
            print(lease.item.id, flush=True)


def main(argv: list[str]) -> None:
    command, path, *rest = argv
    queues = SqliteQueueStore(SqliteDatabase(path))
    if command == "push":
        push(queues, int(rest[0]))
    elif command == "consume":
        consume(queues)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
