"""Choosing a storage driver and translating the table definitions (no I/O)."""
from __future__ import annotations

import pytest

from chalicelib.config import Settings
from chalicelib.storage import Storage, open_storage
from chalicelib.storage.memory import MemoryDocumentStore, MemoryQueueStore
from infra.tables import create_table_args, load_definitions, table_names


def test_memory_storage_is_opened_by_name():
    storage = open_storage(Settings(storage="memory"))
    assert isinstance(storage, Storage)
    assert isinstance(storage.docs, MemoryDocumentStore)
    assert isinstance(storage.queues, MemoryQueueStore)


def test_dynamodb_storage_uses_the_injected_client_and_the_settings_tables():
    from chalicelib.storage.dynamodb import DynamoDocumentStore, DynamoQueueStore

    client = object()
    storage = open_storage(Settings(storage="dynamodb", table_prefix="p"), dynamodb_client=client)
    assert isinstance(storage.docs, DynamoDocumentStore)
    assert isinstance(storage.queues, DynamoQueueStore)
    assert (storage.docs.table, storage.queues.table) == ("p-state", "p-queue")
    assert storage.docs.client is client and storage.queues.client is client


def test_unknown_storage_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="memory, dynamodb, file, redis"):
        open_storage(Settings(storage="nosuch"))


def test_stores_share_the_injected_clock():
    storage = open_storage(Settings(storage="memory"), clock=lambda: 12.5)
    assert storage.docs.now_ms() == storage.queues.now_ms() == 12_500


def test_table_names_match_the_settings():
    assert table_names("tlks-bus-dev") == Settings(table_prefix="tlks-bus-dev").tables


def test_queue_table_args_enable_the_stream():
    args = create_table_args("p-queue", load_definitions()["queue"]["Properties"])
    assert args["TableName"] == "p-queue"
    assert args["StreamSpecification"] == {"StreamEnabled": True,
                                           "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert [k["AttributeName"] for k in args["KeySchema"]] == ["queue", "key"]


def test_time_to_live_is_not_a_create_table_argument():
    args = create_table_args("p-state", load_definitions()["state"]["Properties"])
    assert "TimeToLiveSpecification" not in args
    assert args["BillingMode"] == "PAY_PER_REQUEST"


def test_streams_can_be_left_out():
    args = create_table_args("p-queue", load_definitions()["queue"]["Properties"],
                             streams=False)
    assert "StreamSpecification" not in args


def test_sse_properties_are_renamed_for_boto3():
    args = create_table_args("t", {"SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"}})
    assert args["SSESpecification"] == {"Enabled": True, "SSEType": "KMS"}


def test_unknown_properties_are_refused():
    with pytest.raises(ValueError, match="Mystery"):
        create_table_args("t", {"Mystery": 1})
