"""What the in-memory driver promises beyond the contract: a lease never walks
past items in flight, and its bookkeeping stays bounded however long it runs."""
from __future__ import annotations

from chalicelib.domain.disciplines import next_seq, sort_key
from chalicelib.storage import memory
from chalicelib.storage.base import StoredItem
from chalicelib.storage.memory import MemoryQueueStore

Q = "svc.orders"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def items(count: int) -> list[StoredItem]:
    return [StoredItem(key=sort_key("fifo", next_seq(), f"m{n}"), id=f"m{n}", payload="{}")
            for n in range(count)]


def test_items_in_flight_are_out_of_the_way_of_the_next_lease():
    store = MemoryQueueStore()
    store.push(Q, items(10_050))
    store.lease(Q, 10_000, 30)
    queue = store._queues[Q]
    # The next lease starts at the first visible key: only the 50 visible ones are ready.
    assert len(queue.ready) == 50
    assert [lease.item.id for lease in store.lease(Q, 2, 30)] == ["m10000", "m10001"]


def test_heaps_stay_bounded_through_many_leases_and_acks():
    store = MemoryQueueStore()
    store.push(Q, items(10))                  # a standing backlog
    for batch in range(2_000):
        store.push(Q, items(5))
        store.ack(Q, [lease.receipt for lease in store.lease(Q, 5, 30)])
    queue = store._queues[Q]
    assert len(queue.items) == 10
    assert len(queue.ready) + len(queue.waiting) <= 2 * (2 * len(queue.items) + memory.SLACK)


def test_expired_leases_come_back_in_key_order_after_newer_items():
    clock = Clock()
    store = MemoryQueueStore(clock)
    first, second, third = items(3)
    store.push(Q, [first, second])
    store.lease(Q, 2, 10)
    store.push(Q, [third])
    clock.now += 10
    assert [lease.item.id for lease in store.lease(Q, 3, 10)] == ["m0", "m1", "m2"]


def test_remembered_receipts_are_bounded(monkeypatch):
    monkeypatch.setattr(memory, "ISSUED_LIMIT", 100)
    store = MemoryQueueStore()
    store.push(Q, items(1_000))
    leased = [lease for _ in range(100) for lease in store.lease(Q, 10, 30)]
    assert len(store._issued) <= 100 + 10
    # A receipt the store has forgotten is decoded instead: it still acks.
    assert store.ack(Q, [leased[0].receipt]).done == [leased[0].receipt]
