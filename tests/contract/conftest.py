"""One fixture, every driver: the contract suite runs each test against the
in-memory store, the SQLite file store (a fresh file per test), the DynamoDB
store (moto, in-process) and the Redis store (a throwaway ``redis-server`` for
the session, a fresh key prefix per test)."""
from __future__ import annotations

import itertools
import threading

import pytest

from chalicelib.config import Settings
from chalicelib.storage import Storage, open_storage
from tests.redis_server import redis_server  # noqa: F401 - a session fixture

DRIVERS = ["memory", "file", "dynamodb", "redis"]


class FakeClock:
    """A clock that moves only when a test says so."""

    def __init__(self, now: float = 2_000_000_000.0) -> None:
        self.now = now            # after any real time, so no TTL sweeper ever sees it

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class SerializedClient:
    """A boto3 client whose calls run one at a time.

    moto in-process is not thread-safe (its tables are plain dicts, and a
    cancelled transaction restores a copy of the whole table), whereas
    DynamoDB applies each request atomically.  One lock around each call
    gives moto that property, so concurrency tests exercise the driver's
    interleavings between requests rather than moto's races inside one.
    """

    def __init__(self, client) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            with self._lock:
                return attr(*args, **kwargs)
        return call


@pytest.fixture(scope="package")
def moto_dynamodb():
    """One in-process moto and one client for the package; tests get their own tables."""
    import boto3
    from moto import mock_aws

    from chalicelib.storage.dynamodb import client_config

    with pytest.MonkeyPatch.context() as env:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_SECURITY_TOKEN": "testing", "AWS_SESSION_TOKEN": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}.items():
            env.setenv(name, value)
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
            env.delenv(name, raising=False)
        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1", config=client_config())
            yield SerializedClient(client)


@pytest.fixture
def dynamodb_client(moto_dynamodb):
    return moto_dynamodb


_test_numbers = itertools.count()


@pytest.fixture(params=DRIVERS)
def storage(request, clock, tmp_path) -> Storage:
    if request.param == "memory":
        yield open_storage(Settings(storage="memory"), clock=clock)
        return
    if request.param == "file":
        storage = open_storage(Settings(storage="file", storage_url=str(tmp_path / "bus.sqlite3")),
                               clock=clock)
        yield storage
        storage.queues.db.close()
        return
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        prefix = f"tlks-test-{next(_test_numbers)}"
        yield open_storage(Settings(storage="redis", storage_url=server.url, table_prefix=prefix),
                           clock=clock)
        server.client().flushdb()
        return
    from infra.tables import ensure_tables, table_names

    client = request.getfixturevalue("dynamodb_client")
    prefix = f"tlks-test-{next(_test_numbers)}"
    # No streams: the contract does not read them, and moto copies a table's
    # whole stream history on every transaction (seconds per test).
    ensure_tables(client, prefix, streams=False)
    yield open_storage(Settings(storage="dynamodb", table_prefix=prefix),
                       clock=clock, dynamodb_client=client)
    for name in table_names(prefix).values():
        client.delete_table(TableName=name)


@pytest.fixture
def docs(storage):
    return storage.docs


@pytest.fixture
def queues(storage):
    return storage.queues
