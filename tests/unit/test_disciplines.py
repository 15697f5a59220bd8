"""Queue disciplines are sort keys: the smallest key is delivered first."""
from __future__ import annotations

import threading

import pytest

from chalicelib.domain.disciplines import next_seq, sort_key


def keys_in_delivery_order(discipline, messages):
    """Message ids in the order a driver hands them out (smallest key first)."""
    keyed = [(sort_key(discipline, next_seq(), mid, prio), mid) for mid, prio in messages]
    return [mid for _, mid in sorted(keyed)]


def test_fifo_keys_put_the_oldest_first():
    assert keys_in_delivery_order("fifo", [("a", 0), ("b", 0), ("c", 0)]) == ["a", "b", "c"]


def test_lifo_keys_put_the_newest_first():
    assert keys_in_delivery_order("lifo", [("a", 0), ("b", 0), ("c", 0)]) == ["c", "b", "a"]


def test_priority_keys_put_the_highest_priority_first():
    order = keys_in_delivery_order("priority", [("low", 0), ("top", 9), ("mid", 5)])
    assert order == ["top", "mid", "low"]


def test_priority_keys_are_fifo_within_one_priority():
    order = keys_in_delivery_order("priority", [("a", 3), ("x", 7), ("b", 3), ("c", 3)])
    assert order == ["x", "a", "b", "c"]


def test_keys_have_a_fixed_width_so_string_order_is_numeric_order():
    small, large = sort_key("fifo", 5, "m"), sort_key("fifo", 10 ** 19, "m")
    assert len(small) == len(large) and small < large


def test_same_message_and_seq_give_the_same_key():
    assert sort_key("fifo", 42, "m1") == sort_key("fifo", 42, "m1")
    assert sort_key("fifo", 42, "m1") != sort_key("fifo", 42, "m2")


def test_unknown_discipline_is_refused():
    with pytest.raises(ValueError):
        sort_key("random", 1, "m")


def test_next_seq_increases_even_when_the_clock_goes_back():
    first = next_seq(2_000_000_000.0)
    assert next_seq(1_000_000_000.0) > first


def test_next_seq_is_strictly_increasing_and_unique_under_threads():
    per_thread: list[list[int]] = [[] for _ in range(8)]
    start = threading.Barrier(8)

    def draw(out):
        start.wait()
        out.extend(next_seq() for _ in range(2000))

    threads = [threading.Thread(target=draw, args=(out,)) for out in per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(seq == sorted(seq) and len(set(seq)) == len(seq) for seq in per_thread)
    everything = [s for seq in per_thread for s in seq]
    assert len(set(everything)) == len(everything)
