"""What the Redis driver promises beyond the contract: a lost connection is retried and
then a 503, a retried call never loses nor repeats an ack, and key order is exact."""
from __future__ import annotations

import time

import pytest

from chalicelib.errors import StorageUnavailable
from chalicelib.storage.base import StoredItem
from chalicelib.storage.redis_store import (
    RedisDocumentStore, RedisQueueStore, redis_client_for,
)
from tests.redis_server import _free_port, no_redis_server, throwaway_redis

redis = pytest.importorskip("redis")
Q = "q.jobs"


def item(key: str, n: int = 0) -> StoredItem:
    return StoredItem(key=key, id=f"m-{key}", payload=f'{{"n": {n}}}')


class LosesReplies(redis.Redis):
    """A client whose next replies to the named scripts are lost after they ran."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lose: list[str] = []        # script sources, in order
        self.sent: list[str] = []

    def execute_command(self, *args, **options):
        result = super().execute_command(*args, **options)
        if args[0] == "EVALSHA":
            self.sent.append(args[1])
            if self.lose and args[1] == self.lose[0]:
                self.lose.pop(0)
                raise redis.ConnectionError("connection reset after the reply was sent (test)")
        return result


@pytest.fixture
def lossy(redis_server, clock):
    client = LosesReplies(host="127.0.0.1", port=redis_server.port)
    prefix = f"lossy-{time.monotonic_ns()}"
    yield client, RedisQueueStore(client, prefix, clock), RedisDocumentStore(client, prefix, clock)
    client.flushdb()


def sha_of(name: str) -> str:
    from chalicelib.storage import redis_store
    return getattr(redis_store, name).sha


def test_an_ack_whose_reply_was_lost_is_done_once_and_reported_done(lossy):
    client, queues, _ = lossy
    queues.push(Q, [item("a"), item("b")])
    leased = queues.lease(Q, 2, 30)
    client.lose = [sha_of("_DELETE")]
    settled = queues.ack(Q, [x.receipt for x in leased])
    assert settled.done == [x.receipt for x in leased] and settled.stale == []
    assert client.sent.count(sha_of("_DELETE")) == 2          # it was retried
    assert queues.size(Q).total == 0
    assert queues.ack(Q, [leased[0].receipt]).stale == [leased[0].receipt]   # a new ack: stale


def test_a_nack_whose_reply_was_lost_is_reported_done(lossy):
    client, queues, _ = lossy
    queues.push(Q, [item("a")])
    [leased] = queues.lease(Q, 1, 30)
    client.lose = [sha_of("_RESCHEDULE")]
    assert queues.nack(Q, [leased.receipt]).done == [leased.receipt]
    assert [x.item.deliveries for x in queues.lease(Q, 1, 30)] == [2]


def test_a_lease_whose_reply_was_lost_hands_out_the_same_items(lossy):
    client, queues, _ = lossy
    queues.push(Q, [item("a"), item("b"), item("c")])
    client.lose = [sha_of("_CLAIM")]
    leased = queues.lease(Q, 2, 30)
    assert [x.item.id for x in leased] == ["m-a", "m-b"]
    assert [x.item.deliveries for x in leased] == [1, 1]
    assert [x.item.id for x in queues.lease(Q, 5, 30)] == ["m-c"]


def test_a_push_whose_reply_was_lost_is_stored_once(lossy):
    client, queues, _ = lossy
    client.lose = [sha_of("_APPEND")]
    queues.push(Q, [item("a"), item("b")])
    assert queues.size(Q).total == 2


def test_a_create_only_put_whose_reply_was_lost_succeeds(lossy):
    client, _, docs = lossy
    client.lose = [sha_of("_DOC_PUT")]
    docs.put("service-name", "orders", {"id": "s1"}, create_only=True)
    assert docs.get("service-name", "orders") == {"id": "s1"}
    from chalicelib.storage.base import AlreadyExists
    with pytest.raises(AlreadyExists):
        docs.put("service-name", "orders", {"id": "s2"}, create_only=True)


def test_an_unreachable_server_is_a_503_after_a_few_quick_retries(clock):
    client = redis_client_for(f"redis://127.0.0.1:{_free_port()}/0")
    queues = RedisQueueStore(client, "nobody", clock)
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as raised:
        queues.push(Q, [item("a")])
    assert raised.value.status == 503 and "3 attempts" in raised.value.detail
    assert time.monotonic() - started < 3
    with pytest.raises(StorageUnavailable):
        RedisDocumentStore(client, "nobody", clock).ping()


def test_the_bus_carries_on_after_the_server_restarts(clock):
    try:
        with throwaway_redis() as server:
            port = server.port
            queues = RedisQueueStore(redis_client_for(server.url), "restart", clock)
            queues.push(Q, [item("a")])
        with pytest.raises(StorageUnavailable):             # the server is gone
            queues.size(Q)
        with throwaway_redis(port=port):                    # back, empty, scripts forgotten
            queues.push(Q, [item("b")])
            assert [x.item.id for x in queues.lease(Q, 5, 30)] == ["m-b"]
    except FileNotFoundError:
        no_redis_server()


def test_scripts_flushed_from_the_server_are_loaded_again(redis_server, clock):
    client = redis_client_for(redis_server.url)
    queues = RedisQueueStore(client, "flushed", clock)
    queues.push(Q, [item("a")])
    client.script_flush()
    assert [x.item.id for x in queues.lease(Q, 1, 30)] == ["m-a"]


def test_keys_are_ordered_by_bytes_whatever_the_server_locale(redis_server, clock):
    queues = RedisQueueStore(redis_client_for(redis_server.url), "bytes", clock)
    keys = ["b", "B", "a.1", "a-2", "_x", "a", "Z9", "é"]
    queues.push(Q, [item(k) for k in keys])
    queues.lease(Q, 1, 30)                                   # "B" is in flight, not visible
    expected = sorted(keys, key=str.encode)
    assert [i.key for i in queues._scan(Q, 10, None)] == expected        # every item
    assert [i.key for i in queues._scan(Q, 1, None)] == ["B"]
    assert [i.key for i in queues.peek(Q, 10)] == [k for k in expected if k != "B"]


def test_expired_documents_leave_the_collection_index(redis_server, clock):
    client = redis_client_for(redis_server.url)
    docs = RedisDocumentStore(client, "expiry", clock)
    docs.put("idem", "old", {"v": 1}, expires_at=int(clock.now) + 5)
    clock.advance(6)
    docs.put("idem", "new", {"v": 2})
    assert client.zrange("expiry:dx:{idem}", 0, -1) == [b"new"]
    assert docs.list("idem") == [{"v": 2}]


def test_a_client_that_decodes_replies_is_refused(redis_server):
    with pytest.raises(ValueError, match="decode_responses"):
        RedisQueueStore(redis.Redis(port=redis_server.port, decode_responses=True), "x")


def test_batches_beyond_luas_unpack_limit_are_pushed_leased_and_acked(redis_server, clock):
    queues = RedisQueueStore(redis_client_for(redis_server.url), "big", clock)
    queues.push(Q, [item(f"{n:06d}", n) for n in range(9000)])
    leased = queues.lease(Q, 9000, 30)
    assert [x.item.key for x in leased] == [f"{n:06d}" for n in range(9000)]
    settled = queues.ack(Q, [x.receipt for x in leased])
    assert len(settled.done) == 9000 and queues.size(Q).total == 0
