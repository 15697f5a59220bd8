"""What the DynamoDB driver does beyond the shared contract: table bootstrap,
request costs, lost races and error translation (moto, in-process)."""
from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from chalicelib.domain.disciplines import next_seq, sort_key
from chalicelib.errors import StorageUnavailable, Throttled
from chalicelib.storage.base import StoredItem
from chalicelib.storage.dynamodb import (
    DynamoDocumentStore, DynamoQueueStore, client_config, count_requests,
)
from infra.tables import ensure_tables

Q = "svc.work"


@pytest.fixture
def client(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1", config=client_config())
        ensure_tables(client, "drv", streams=False)
        yield client


def items(count: int) -> list[StoredItem]:
    return [StoredItem(key=sort_key("fifo", next_seq(), f"m{n}"), id=f"m{n}", payload="{}")
            for n in range(count)]


def test_ensure_tables_creates_missing_tables_once_and_enables_ttl(client):
    assert ensure_tables(client, "boot") == ["boot-state", "boot-queue"]
    assert ensure_tables(client, "boot") == []
    ttl = client.describe_time_to_live(TableName="boot-state")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    stream = client.describe_table(TableName="boot-queue")["Table"]["StreamSpecification"]
    assert stream["StreamEnabled"] is True


@pytest.mark.parametrize("batch, requests", [(1, 4), (10, 4)])
def test_push_lease_ack_costs_four_requests_per_batch(client, batch, requests):
    queues = DynamoQueueStore("drv-queue", client)
    counter = count_requests(client)
    queues.push(Q, items(batch))
    leased = queues.lease(Q, batch, 30)
    assert len(queues.ack(Q, [x.receipt for x in leased]).done) == batch
    assert counter.total == requests
    counter.stop()


class RacedQueueStore(DynamoQueueStore):
    """Another consumer claims the head item between our read and our write."""

    rival: DynamoQueueStore

    def _candidates(self, *args, **kwargs):
        found = super()._candidates(*args, **kwargs)
        self.rival.lease(Q, 1, 30)
        return found


def test_claim_keeps_only_the_items_it_won_when_a_rival_takes_one(client):
    queues = RacedQueueStore("drv-queue", client)
    queues.rival = DynamoQueueStore("drv-queue", client)
    queues.push(Q, items(6))
    leased = queues.lease(Q, 5, 30)
    assert [x.item.id for x in leased] == ["m1", "m2", "m3", "m4", "m5"]
    assert queues.size(Q).invisible == 6


def test_missing_table_makes_storage_unavailable(client):
    docs = DynamoDocumentStore("no-such-table", client)
    with pytest.raises(StorageUnavailable) as caught:
        docs.ping()
    assert isinstance(caught.value.__cause__, ClientError)
    with pytest.raises(StorageUnavailable):
        DynamoQueueStore("no-such-table", client).size(Q)


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException",
                                  "ThrottlingException", "RequestLimitExceeded"])
def test_throttling_becomes_throttled(code):
    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_client_error("get_item", service_error_code=code, http_status_code=400)
        with pytest.raises(Throttled) as caught:
            DynamoDocumentStore("t", client).get("c", "k")
    assert caught.value.status == 503 and caught.value.headers == {"Retry-After": "1"}


def test_unreachable_endpoint_makes_storage_unavailable():
    client = boto3.client(
        "dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=0.5))
    with pytest.raises(StorageUnavailable):
        DynamoQueueStore("t", client).ping()
