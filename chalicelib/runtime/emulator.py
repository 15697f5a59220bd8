"""The embedded AWS endpoint of ``make run``: moto's server, made to behave like DynamoDB.

Two differences between moto's server and DynamoDB matter to a queue, and this
module removes them before handing over to ``moto.server.main``:

* **Atomic requests.** DynamoDB applies each request atomically; moto's
  threaded server runs requests on several threads against unguarded dicts,
  so concurrent transactions can corrupt each other (seen: HTTP 500 with
  "dictionary changed size during iteration").  Every request here runs under
  one lock - sequential, like a single DynamoDB partition.
* **Transaction cost.** moto backs up a table with ``copy.deepcopy`` once per
  *action* of a ``TransactWriteItems`` (ten copies of the whole table for a
  ten-message lease).  Here each table is copied once per transaction; the
  backup is the same, so rollback behaves exactly as before.

Run: ``python -m chalicelib.runtime.emulator -H 127.0.0.1 -p 4566`` (the same
flags as ``moto_server``).  Nothing here is used on AWS.
"""
from __future__ import annotations

import copy
import functools
import threading
import types


def serialise_requests() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    lock = threading.Lock()
    original = DomainDispatcherApplication.__call__

    @functools.wraps(original)
    def call(self, environ, start_response):
        with lock:
            # the body is produced inside the lock too: werkzeug iterates it lazily
            return list(original(self, environ, start_response))

    DomainDispatcherApplication.__call__ = call


def copy_each_table_once_per_transaction() -> None:
    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self, transact_items):
        copies: dict[int, object] = {}

        def deepcopy(obj, memo=None):
            if isinstance(obj, models.Table):
                if id(obj) not in copies:
                    copies[id(obj)] = copy.deepcopy(obj)
                return copies[id(obj)]
            return copy.deepcopy(obj, memo)

        models.copy = types.SimpleNamespace(deepcopy=deepcopy)
        try:
            return original(self, transact_items)
        finally:
            models.copy = copy

    models.DynamoDBBackend.transact_write_items = transact_write_items


def main() -> None:
    from moto import server

    serialise_requests()
    copy_each_table_once_per_transaction()
    server.main()


if __name__ == "__main__":
    main()
