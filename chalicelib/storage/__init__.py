"""Storage drivers behind one interface (see ``base.py``).

``open_storage`` picks the driver named by ``Settings.storage`` and imports it
only then, so a Lambda using DynamoDB never loads the in-memory driver and
the in-memory driver never needs boto3.  ``file`` (SQLite) and ``redis`` take
their location from ``Settings.storage_url`` (``TLKS_STORAGE_URL``); the README's
"Choosing a storage driver" compares the four.
"""
from __future__ import annotations

import time
from typing import Any, NamedTuple

from chalicelib.config import Settings
from chalicelib.storage.base import Clock, DocumentStore, QueueStore

DRIVERS = ("memory", "dynamodb", "file", "redis")


class Storage(NamedTuple):
    docs: DocumentStore
    queues: QueueStore


def open_storage(settings: Settings, *, clock: Clock = time.time,
                 dynamodb_client: Any = None, redis_client: Any = None) -> Storage:
    """The document and queue stores named by ``settings.storage``.

    Args:
        clock: seconds since the epoch; tests inject a fake one.
        dynamodb_client: a low-level boto3 DynamoDB client to use instead of
            building one from the settings (tests, benchmarks).
        redis_client: a ``redis.Redis`` (``decode_responses=False``) to use
            instead of connecting to ``settings.storage_url``.

    Raises:
        ValueError: ``settings.storage`` names no driver.
    """
    if settings.storage == "memory":
        from chalicelib.storage.memory import MemoryDocumentStore, MemoryQueueStore
        return Storage(MemoryDocumentStore(clock), MemoryQueueStore(clock))
    if settings.storage == "dynamodb":
        from chalicelib.storage.dynamodb import DynamoDocumentStore, DynamoQueueStore
        client = dynamodb_client or dynamodb_client_for(settings)
        tables = settings.tables
        return Storage(DynamoDocumentStore(tables["state"], client, clock),
                       DynamoQueueStore(tables["queue"], client, clock))
    if settings.storage == "file":
        from chalicelib.storage.sqlite import SqliteDatabase, SqliteDocumentStore, SqliteQueueStore
        db = SqliteDatabase.from_url(settings.storage_url)   # one connection for both stores
        return Storage(SqliteDocumentStore(db, clock), SqliteQueueStore(db, clock))
    if settings.storage == "redis":
        from chalicelib.storage.redis_store import (
            RedisDocumentStore, RedisQueueStore, redis_client_for,
        )
        client = redis_client or redis_client_for(settings.storage_url)
        prefix = settings.table_prefix     # one bus per prefix, as with DynamoDB tables
        return Storage(RedisDocumentStore(client, prefix, clock),
                       RedisQueueStore(client, prefix, clock))
    raise ValueError(f"unknown storage {settings.storage!r}; "
                     f"expected one of: {', '.join(DRIVERS)}")


def dynamodb_client_for(settings: Settings) -> Any:
    """A DynamoDB client for the settings' region and endpoint.

    On the ``local`` stage without an explicit endpoint, localstack-client
    finds the local emulator (moto server or LocalStack on :4566).
    """
    from chalicelib.storage.dynamodb import client_config
    if settings.stage == "local" and not settings.endpoint_url:
        from localstack_client.session import Session as LocalSession
        return LocalSession(region_name=settings.region).client(
            "dynamodb", config=client_config())
    import boto3
    kwargs: dict[str, Any] = {"region_name": settings.region, "config": client_config()}
    if settings.endpoint_url:
        kwargs["endpoint_url"] = settings.endpoint_url
    return boto3.session.Session().client("dynamodb", **kwargs)
