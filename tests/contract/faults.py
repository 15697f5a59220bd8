"""Fault injectors for the storage drivers whose backend can fail.

Each injector counts the backend calls a driver makes while it is armed and
fails the ``at``-th of them (and the ``times - 1`` after it) the way that
backend fails:

* ``DynamoFaults`` hooks botocore's own client events.  ``before-call``
  answers in the table's stead, so the request never reaches it: ``throttle``
  (ThrottlingException), ``item-throttle`` (a transaction cancelled for a
  ThrottlingError; ProvisionedThroughputExceeded for the other requests) and
  ``refused`` (EndpointConnectionError).  ``timeout`` lets the request be
  applied and raises ReadTimeoutError from ``after-call``: the reply is lost.
  Both stand for what botocore raises once its own retries are spent.
* ``RedisFaults`` is a connection class that drops the connection on a round
  trip: before sending (``drop``: the server never ran the command) or after the
  server ran it (``lost-reply``: ConnectionError; ``timeout``: TimeoutError).
* ``SqliteFaults`` wraps the store's connection: ``locked`` has another
  connection hold the file's write lock (``BEGIN EXCLUSIVE``) while the
  statement runs, so SQLite itself refuses it after the busy timeout (reads run
  on under WAL; a statement inside the store's own open transaction already holds
  the lock, and runs unharmed); ``disk-full`` fails the statement with
  SQLITE_FULL before it runs.

The in-memory driver has no backend: nothing in it can fail.
"""
from __future__ import annotations

import json
import sqlite3
import uuid

import redis
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from chalicelib.storage.sqlite import SqliteDatabase

ENDPOINT = "https://dynamodb.us-east-1.amazonaws.com"


class Faults:
    """Counts backend calls while armed; says which ones fail, and how."""

    kinds: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.plan: dict[int, str] = {}      # call number -> kind of fault
        self.calls = 0
        self.fired = 0
        self.armed = False

    def arm(self, kind: str | None = None, at: int = 0, times: int = 1) -> None:
        """Count calls from now on; fail calls ``at`` .. ``at + times - 1`` with ``kind``
        (no kind: just count)."""
        self.arm_plan({} if kind is None else {n: kind for n in range(at, at + times)})

    def arm_plan(self, plan: dict[int, str]) -> None:
        """Count calls from now on; fail each call numbered in ``plan`` with its kind."""
        self.plan = dict(plan)
        self.calls = self.fired = 0
        self.armed = True

    def disarm(self) -> int:
        """Stop counting and failing; how many calls were made while armed."""
        self.armed = False
        return self.calls

    def hit(self) -> str | None:
        """Count one call: the kind of fault it gets, or None."""
        if not self.armed:
            return None
        self.calls += 1
        kind = self.plan.get(self.calls)
        self.fired += kind is not None
        return kind


# ------------------------------------------------------------------ DynamoDB

def _error(code: str, message: str, **extra) -> dict:
    return {"Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 400}, **extra}


class DynamoFaults(Faults):
    kinds = ("throttle", "item-throttle", "refused", "timeout")

    def __init__(self, client) -> None:
        super().__init__()
        self._events = client.meta.events
        self._id = uuid.uuid4().hex
        self._lose_reply = False
        self._events.register("before-call.dynamodb", self._before, unique_id="b" + self._id)
        self._events.register("after-call.dynamodb", self._after, unique_id="a" + self._id)

    def close(self) -> None:
        self._events.unregister("before-call.dynamodb", unique_id="b" + self._id)
        self._events.unregister("after-call.dynamodb", unique_id="a" + self._id)

    def _before(self, model, params, **_):
        kind = self.hit()
        if kind is None:
            return None
        if kind == "timeout":
            self._lose_reply = True        # let it be applied: the reply is lost on the way back
            return None
        if kind == "refused":
            raise EndpointConnectionError(endpoint_url=ENDPOINT)
        if kind == "throttle":
            parsed = _error("ThrottlingException", "Rate of requests exceeds the allowed "
                                                   "throughput.")
        elif model.name == "TransactWriteItems":
            actions = len(json.loads(params["body"])["TransactItems"])
            codes = ["ThrottlingError"] + ["None"] * (actions - 1)
            parsed = _error("TransactionCanceledException",
                            f"Transaction cancelled, please refer cancellation reasons for "
                            f"specific reasons [{', '.join(codes)}]",
                            CancellationReasons=[{"Code": c} for c in codes])
        else:
            parsed = _error("ProvisionedThroughputExceededException",
                            "The level of configured provisioned throughput for the table "
                            "was exceeded.")
        # An answer in the table's stead: botocore raises it as it would the table's.
        return AWSResponse(ENDPOINT, 400, {}, None), parsed

    def _after(self, **_):
        if self._lose_reply:
            self._lose_reply = False
            raise ReadTimeoutError(endpoint_url=ENDPOINT)


# ------------------------------------------------------------------ Redis

class RedisFaults(Faults):
    kinds = ("drop", "lost-reply", "timeout")

    def client(self, port: int) -> redis.Redis:
        """A client whose connections fail as armed (its own retries off, as the driver's)."""
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        pool = redis.ConnectionPool(
            connection_class=FaultyConnection, faults=self, host="127.0.0.1", port=port,
            socket_timeout=5, retry=Retry(NoBackoff(), 0), health_check_interval=0)
        return redis.Redis(connection_pool=pool)


class FaultyConnection(redis.Connection):
    """A real connection to the server that drops as its ``RedisFaults`` say."""

    def __init__(self, *, faults: RedisFaults, **kwargs) -> None:
        super().__init__(**kwargs)
        self.faults = faults
        self._losing: str | None = None
        self._handshake = False

    def connect_check_health(self, *args, **kwargs) -> None:
        self._handshake = True             # the client's own set-up commands are not counted
        try:
            super().connect_check_health(*args, **kwargs)
        finally:
            self._handshake = False

    def send_packed_command(self, command, check_health=True) -> None:
        kind = None if self._handshake else self.faults.hit()
        if kind == "drop":
            self.disconnect()
            raise redis.ConnectionError("connection dropped before the command was sent "
                                        "(fault injected)")
        super().send_packed_command(command, check_health)
        self._losing = kind

    def read_response(self, *args, **kwargs):
        response = super().read_response(*args, **kwargs)   # the server has run it
        kind, self._losing = self._losing, None
        if kind is not None:
            self.disconnect()
            error = redis.TimeoutError if kind == "timeout" else redis.ConnectionError
            raise error(f"{kind} after the server ran the command (fault injected)")
        return response


# ------------------------------------------------------------------ SQLite

class SqliteFaults(Faults):
    kinds = ("locked", "disk-full")

    def database(self, path) -> SqliteDatabase:
        return FaultyDatabase(path, self)


class FaultyDatabase(SqliteDatabase):
    """The driver's database, with a short busy timeout and statements that fail as armed."""

    def __init__(self, path, faults: SqliteFaults) -> None:
        super().__init__(path, busy_timeout=0.01)
        self.faults = faults

    def _connect(self):
        return _FaultyConnection(super()._connect(), self)


class _FaultyConnection:
    def __init__(self, real: sqlite3.Connection, db: FaultyDatabase) -> None:
        self._real = real
        self._db = db

    def __getattr__(self, name):
        return getattr(self._real, name)

    def execute(self, sql, params=()):
        kind = self._db.faults.hit()
        if kind == "disk-full":
            raise sqlite3.OperationalError("database or disk is full")
        if kind == "locked" and not self._real.in_transaction:
            other = sqlite3.connect(self._db.path, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN EXCLUSIVE")
                return self._real.execute(sql, params)
            finally:
                other.close()               # rolls its transaction back: the lock is free
        return self._real.execute(sql, params)
