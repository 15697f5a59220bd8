"""The queue store contract, held against every driver."""
from __future__ import annotations

import json
import threading

import pytest

from chalicelib.domain.disciplines import next_seq, sort_key
from chalicelib.errors import InvalidReceipt
from chalicelib.storage.base import Ref, StoredItem, encode_receipt

Q = "svc.orders"


def make_item(discipline: str, n: int, priority: int = 0, **fields) -> StoredItem:
    message_id = f"m{n}"
    return StoredItem(key=sort_key(discipline, next_seq(), message_id, priority),
                      id=message_id, payload=json.dumps({"n": n}), priority=priority,
                      **fields)


def ids(items) -> list[str]:
    return [getattr(i, "item", i).id for i in items]


def lease_one(queues, timeout=30, **kwargs):
    [leased] = queues.lease(Q, 1, timeout, **kwargs)
    return leased


# ------------------------------------------------------------------ ordering

def test_fifo_queue_returns_oldest_first(queues):
    queues.push(Q, [make_item("fifo", n) for n in range(5)])
    assert ids(queues.lease(Q, 5, 30)) == ["m0", "m1", "m2", "m3", "m4"]


def test_fifo_order_holds_across_separate_pushes(queues):
    for n in range(4):
        queues.push(Q, [make_item("fifo", n)])
    assert ids(queues.lease(Q, 1, 30)) == ["m0"]
    assert ids(queues.lease(Q, 3, 30)) == ["m1", "m2", "m3"]


def test_lifo_queue_returns_newest_first(queues):
    for n in range(5):
        queues.push(Q, [make_item("lifo", n)])
    assert ids(queues.lease(Q, 2, 30)) == ["m4", "m3"]
    queues.push(Q, [make_item("lifo", 5)])
    assert ids(queues.lease(Q, 5, 30)) == ["m5", "m2", "m1", "m0"]


def test_priority_queue_returns_highest_priority_first(queues):
    queues.push(Q, [make_item("priority", n, priority=p)
                    for n, p in enumerate([1, 9, 0, 5])])
    assert ids(queues.lease(Q, 4, 30)) == ["m1", "m3", "m0", "m2"]


def test_priority_queue_is_fifo_within_one_priority(queues):
    queues.push(Q, [make_item("priority", n, priority=3) for n in range(4)])
    assert ids(queues.lease(Q, 4, 30)) == ["m0", "m1", "m2", "m3"]


def test_priority_queue_orders_mixed_priorities_with_ties(queues):
    priorities = [2, 7, 2, 7, 0, 9, 2]
    for n, p in enumerate(priorities):
        queues.push(Q, [make_item("priority", n, priority=p)])
    assert ids(queues.lease(Q, 3, 30)) == ["m5", "m1", "m3"]
    assert ids(queues.lease(Q, 10, 30)) == ["m0", "m2", "m6", "m4"]


def test_lease_returns_at_most_max_items(queues):
    queues.push(Q, [make_item("fifo", n) for n in range(5)])
    assert len(queues.lease(Q, 2, 30)) == 2
    assert queues.size(Q).visible == 3


def test_leased_item_carries_what_was_pushed(queues, clock):
    queues.push(Q, [make_item("priority", 1, priority=4, attributes={"trace": {"id": "t1"}})])
    item = lease_one(queues, timeout=30).item
    assert (item.id, json.loads(item.payload), item.priority) == ("m1", {"n": 1}, 4)
    assert item.attributes == {"trace": {"id": "t1"}}
    assert item.enqueued_at == clock.now * 1000
    assert item.deliveries == 1
    assert item.visible_at == clock.now * 1000 + 30_000


def test_queues_are_isolated(queues):
    queues.push(Q, [make_item("fifo", 1)])
    queues.push("svc.other", [make_item("fifo", 2)])
    assert ids(queues.lease("svc.other", 5, 30)) == ["m2"]
    assert ids(queues.lease(Q, 5, 30)) == ["m1"]


def test_pushing_an_existing_key_replaces_the_item(queues):
    item = make_item("fifo", 1)
    queues.push(Q, [item])
    queues.push(Q, [StoredItem(key=item.key, id=item.id, payload='"second"')])
    assert queues.size(Q).total == 1
    assert lease_one(queues).item.payload == '"second"'


# ------------------------------------------------------------------ delays

def test_delayed_item_is_not_leased_before_it_is_visible(queues, clock):
    delayed = make_item("fifo", 0, visible_at=int((clock.now + 10) * 1000))
    queues.push(Q, [delayed, make_item("fifo", 1)])
    assert ids(queues.lease(Q, 5, 30)) == ["m1"]
    clock.advance(9.999)
    assert queues.lease(Q, 5, 30) == []
    clock.advance(0.001)
    assert ids(queues.lease(Q, 5, 30)) == ["m0"]


# ------------------------------------------------------------------ leases

def test_leased_item_is_not_leased_again_before_its_visibility_timeout(queues, clock):
    queues.push(Q, [make_item("fifo", 1)])
    lease_one(queues, timeout=10)
    clock.advance(9.9)
    assert queues.lease(Q, 5, 10) == []


def test_unacked_item_comes_back_after_its_visibility_timeout(queues, clock):
    queues.push(Q, [make_item("fifo", 1)])
    first = lease_one(queues, timeout=10)
    clock.advance(10)
    again = lease_one(queues, timeout=10)
    assert again.item.id == "m1"
    assert again.item.deliveries == 2
    assert again.receipt != first.receipt


def test_lease_skips_items_in_flight_at_the_head_of_the_queue(queues):
    queues.push(Q, [make_item("fifo", n) for n in range(60)])
    assert len(queues.lease(Q, 40, 30)) == 40
    assert ids(queues.lease(Q, 5, 30)) == [f"m{n}" for n in range(40, 45)]


# ------------------------------------------------------------------ ack / nack

def test_lease_upto_takes_only_keys_at_or_below_the_bound(queues):
    items = [StoredItem(key=f"{n:04d}.k", id=f"m{n}", payload="{}") for n in range(6)]
    queues.push(Q, items)
    assert ids(queues.lease(Q, 10, 30, upto="0002.k")) == ["m0", "m1", "m2"]
    assert queues.lease(Q, 10, 30, upto="0002.~") == []
    assert ids(queues.lease(Q, 10, 30, upto="0004.~")) == ["m3", "m4"]
    assert ids(queues.lease(Q, 10, 30)) == ["m5"]


def test_ack_removes_the_item(queues):
    queues.push(Q, [make_item("fifo", 1), make_item("fifo", 2)])
    leased = lease_one(queues)
    settled = queues.ack(Q, [leased.receipt])
    assert settled.done == [leased.receipt] and settled.stale == []
    assert queues.size(Q).total == 1
    assert ids(queues.peek(Q, 5)) == ["m2"]


def test_ack_twice_reports_the_second_as_stale(queues):
    queues.push(Q, [make_item("fifo", 1)])
    receipt = lease_one(queues).receipt
    queues.ack(Q, [receipt])
    assert queues.ack(Q, [receipt]).stale == [receipt]


def test_repeated_receipt_in_one_ack_is_done_once(queues):
    queues.push(Q, [make_item("fifo", 1), make_item("fifo", 2)])
    a, b = queues.lease(Q, 2, 30)
    settled = queues.ack(Q, [a.receipt, b.receipt, a.receipt])
    assert settled.done == [a.receipt, b.receipt] and settled.stale == [a.receipt]


def test_stale_ack_does_not_delete_the_item_leased_again(queues, clock):
    queues.push(Q, [make_item("fifo", 1)])
    old = lease_one(queues, timeout=5)
    clock.advance(6)
    new = lease_one(queues, timeout=5)
    settled = queues.ack(Q, [old.receipt])
    assert settled.stale == [old.receipt] and settled.done == []
    assert queues.size(Q).invisible == 1
    assert queues.ack(Q, [new.receipt]).done == [new.receipt]
    assert queues.size(Q).total == 0


def test_ack_of_a_well_formed_receipt_for_no_item_is_stale(queues):
    receipt = encode_receipt(Ref("0000000000.nothing", "feedfacefeedface"))
    assert queues.ack(Q, [receipt]).stale == [receipt]


def test_nack_makes_the_item_visible_again_at_once(queues):
    queues.push(Q, [make_item("fifo", 1)])
    leased = lease_one(queues, timeout=60)
    assert queues.nack(Q, [leased.receipt]).done == [leased.receipt]
    again = lease_one(queues)
    assert (again.item.id, again.item.deliveries) == ("m1", 2)


def test_nack_honours_its_delay(queues, clock):
    queues.push(Q, [make_item("fifo", 1)])
    leased = lease_one(queues, timeout=60)
    queues.nack(Q, [leased.receipt], delay_seconds=5)
    assert queues.lease(Q, 1, 60) == []
    assert queues.size(Q).invisible == 1
    clock.advance(5)
    assert ids(queues.lease(Q, 1, 60)) == ["m1"]


def test_nack_with_a_stale_receipt_changes_nothing(queues, clock):
    queues.push(Q, [make_item("fifo", 1)])
    old = lease_one(queues, timeout=5)
    clock.advance(6)
    lease_one(queues, timeout=60)
    assert queues.nack(Q, [old.receipt]).stale == [old.receipt]
    assert queues.lease(Q, 1, 60) == []


def test_nack_of_several_items_settles_each(queues, clock):
    queues.push(Q, [make_item("fifo", n) for n in range(3)])
    leased = queues.lease(Q, 3, 5)
    stale = leased[0]
    clock.advance(6)
    lease_one(queues, timeout=60)                       # takes m0 again
    settled = queues.nack(Q, [x.receipt for x in leased])
    assert settled.stale == [stale.receipt]
    assert settled.done == [x.receipt for x in leased[1:]]
    assert ids(queues.lease(Q, 5, 60)) == ["m1", "m2"]


# ------------------------------------------------------------------ extending a lease

def test_extend_keeps_the_item_leased_past_its_first_timeout(queues, clock):
    queues.push(Q, [make_item("fifo", 1)])
    leased = lease_one(queues, timeout=10)
    clock.advance(8)
    assert queues.extend(Q, [leased.receipt], 30).done == [leased.receipt]
    clock.advance(29)                                   # 37 s after the lease
    assert queues.lease(Q, 1, 60) == []
    assert queues.size(Q).invisible == 1
    assert queues.ack(Q, [leased.receipt]).done == [leased.receipt]   # the receipt still holds
    assert queues.size(Q).total == 0


def test_an_extended_item_comes_back_when_the_extension_runs_out(queues, clock):
    queues.push(Q, [make_item("fifo", 1)])
    leased = lease_one(queues, timeout=10)
    queues.extend(Q, [leased.receipt], 20)
    clock.advance(20)
    again = lease_one(queues)
    assert (again.item.id, again.item.deliveries) == ("m1", 2)
    assert queues.ack(Q, [leased.receipt]).stale == [leased.receipt]


def test_extend_with_a_stale_receipt_changes_nothing(queues, clock):
    queues.push(Q, [make_item("fifo", n) for n in range(2)])
    leased = queues.lease(Q, 2, 5)
    clock.advance(6)
    taken = lease_one(queues, timeout=60)               # m0 again, for someone else
    settled = queues.extend(Q, [x.receipt for x in leased], 600)
    assert settled.stale == [leased[0].receipt] and settled.done == [leased[1].receipt]
    clock.advance(60)
    assert ids(queues.lease(Q, 5, 60)) == ["m0"]        # the other consumer's lease ran out
    assert queues.ack(Q, [taken.receipt]).stale == [taken.receipt]


@pytest.mark.parametrize("receipt", [
    "", "short", 42, None, ["a list"], "!!!!not-base64!!!!", "bm8tc2VwYXJhdG9yLWhlcmU",
    "x" * 2000,
])
def test_malformed_receipts_raise_invalid_receipt(queues, receipt):
    with pytest.raises(InvalidReceipt):
        queues.ack(Q, [receipt])
    with pytest.raises(InvalidReceipt):
        queues.nack(Q, [receipt])


# ------------------------------------------------------------------ dead letters

def test_item_leased_more_than_max_deliveries_goes_to_dead_letters(queues, clock):
    queues.push(Q, [make_item("fifo", 1)])
    for delivery in (1, 2):
        assert lease_one(queues, timeout=1, max_deliveries=2).item.deliveries == delivery
        clock.advance(1)
    assert queues.lease(Q, 1, 1, max_deliveries=2) == []
    assert ids(queues.dead_letters(Q, 10)) == ["m1"]
    assert queues.size(Q).total == 0


def test_exhausted_item_does_not_stop_the_lease_of_the_next_one(queues, clock):
    queues.push(Q, [make_item("fifo", 1)])
    lease_one(queues, timeout=1, max_deliveries=1)
    clock.advance(1)
    queues.push(Q, [make_item("fifo", 2)])
    assert ids(queues.lease(Q, 1, 30, max_deliveries=1)) == ["m2"]
    assert ids(queues.dead_letters(Q, 10)) == ["m1"]


def test_redrive_moves_dead_letters_back_to_the_queue(queues, clock):
    queues.push(Q, [make_item("fifo", 1)])
    queues.lease(Q, 1, 1, max_deliveries=0)
    assert ids(queues.dead_letters(Q, 10)) == ["m1"]
    assert queues.redrive(Q, 10) == 1
    assert queues.dead_letters(Q, 10) == []
    again = lease_one(queues)
    assert (again.item.id, again.item.deliveries) == ("m1", 1)


def test_redrive_moves_at_most_limit_items(queues):
    queues.push(Q, [make_item("fifo", n) for n in range(3)])
    queues.lease(Q, 3, 1, max_deliveries=0)
    assert queues.redrive(Q, 2) == 2
    assert ids(queues.dead_letters(Q, 10)) == ["m2"]
    assert queues.redrive(Q, 10) == 1
    assert queues.redrive(Q, 10) == 0


# ------------------------------------------------------------------ inspection

def test_peek_does_not_lease(queues):
    queues.push(Q, [make_item("fifo", n) for n in range(3)])
    assert ids(queues.peek(Q, 2)) == ["m0", "m1"]
    assert ids(queues.peek(Q, 2)) == ["m0", "m1"]
    assert queues.size(Q).visible == 3
    assert lease_one(queues).item.deliveries == 1


def test_peek_shows_only_visible_items(queues, clock):
    queues.push(Q, [make_item("fifo", n) for n in range(3)])
    lease_one(queues)
    assert ids(queues.peek(Q, 5)) == ["m1", "m2"]


def test_size_counts_visible_and_invisible_items(queues, clock):
    later = int((clock.now + 60) * 1000)
    queues.push(Q, [make_item("fifo", n) for n in range(4)] + [
        make_item("fifo", 9, visible_at=later)])
    queues.lease(Q, 2, 30)
    sizes = queues.size(Q)
    assert (sizes.visible, sizes.invisible, sizes.total) == (2, 3, 5)
    assert tuple(queues.size("svc.empty")) == (0, 0)


def test_purge_empties_only_that_queue(queues):
    queues.push(Q, [make_item("fifo", n) for n in range(30)])
    queues.push("svc.other", [make_item("fifo", 99)])
    queues.purge(Q)
    assert queues.size(Q).total == 0
    assert queues.size("svc.other").total == 1


def test_drop_removes_items_and_dead_letters(queues):
    queues.push(Q, [make_item("fifo", n) for n in range(3)])
    queues.lease(Q, 1, 30, max_deliveries=0)
    queues.drop(Q)
    assert queues.size(Q).total == 0
    assert queues.dead_letters(Q, 10) == []


# ------------------------------------------------------------------ batches and concurrency

def test_batch_of_ten_is_pushed_leased_and_acked(queues):
    queues.push(Q, [make_item("fifo", n) for n in range(10)])
    leased = queues.lease(Q, 10, 30)
    assert ids(leased) == [f"m{n}" for n in range(10)]
    settled = queues.ack(Q, [x.receipt for x in leased])
    assert len(settled.done) == 10 and settled.stale == []
    assert queues.size(Q).total == 0


def test_concurrent_consumers_lease_each_item_exactly_once(queues):
    queues.push(Q, [make_item("fifo", n) for n in range(200)])
    taken: list[str] = []
    stale: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def consume():
        try:
            while True:
                got = queues.lease(Q, 5, 300)
                if not got and queues.size(Q).visible == 0:
                    return
                settled = queues.ack(Q, [x.receipt for x in got]) if got else None
                with lock:
                    taken.extend(ids(got))
                    stale.extend(settled.stale if settled else [])
        except BaseException as exc:          # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=consume) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and stale == []
    assert sorted(taken) == sorted(f"m{n}" for n in range(200))
    assert queues.size(Q).total == 0
