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
  ten-message lease).  Here conditions are checked first and a transaction
  that will succeed is applied without the backup; one that will fail is
  cancelled before anything is written, with moto's cancellation reasons.

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
    """Transactions without whole-table backups when every condition holds.

    moto backs up each table a transaction touches with ``copy.deepcopy``, once
    per action, to roll back on failure: at 1,000 items that is most of a
    second per ten-message lease.  Here the conditions are checked first,
    without writing anything; a transaction with a failing condition is
    cancelled with the same per-action reasons moto would give, and one whose
    conditions all hold is applied with no backup (requests are serialised, so
    nothing can change in between).  Anything unusual (duplicate keys,
    ReturnValuesOnConditionCheckFailure, a validation error) goes to moto's own
    code path unchanged.
    """
    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items

    def no_backup(obj, memo=None):
        return obj if isinstance(obj, models.Table) else copy.deepcopy(obj, memo)

    @functools.wraps(original)
    def transact_write_items(self, transact_items):
        reasons, keys = [], set()
        try:
            for entry in transact_items:
                (op_type, op), = entry.items()
                if op.get("ReturnValuesOnConditionCheckFailure"):
                    return original(self, transact_items)
                table = self.get_table(op["TableName"])
                if op_type == "Put":
                    attrs = op["Item"]
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                unique = (op["TableName"], str(sorted(key.items())))
                if unique in keys:
                    return original(self, transact_items)
                keys.add(unique)
                condition = op.get("ConditionExpression")
                current = self.get_item(op["TableName"], key)
                if condition is not None and not models.get_filter_expression(
                        condition, op.get("ExpressionAttributeNames"),
                        op.get("ExpressionAttributeValues")).expr(current):
                    reasons.append(("ConditionalCheckFailed", "The conditional request failed",
                                    None))
                else:
                    reasons.append((None, None, None))
        except Exception:  # noqa: BLE001 - let moto produce its own error for odd input
            return original(self, transact_items)
        if any(code is not None for code, _, _ in reasons):
            raise models.TransactionCanceledException(reasons)
        models.copy = types.SimpleNamespace(deepcopy=no_backup)
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
