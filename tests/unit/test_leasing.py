"""Long polling returns as soon as a message is there, or empty after the wait; a
storage failure part-way returns what was leased and hides nothing else."""
import pytest

from chalicelib.errors import Throttled
from chalicelib.services.leasing import lease_waiting
from chalicelib.storage.base import StoredItem
from chalicelib.storage.memory import MemoryQueueStore


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_empty_queue_waits_the_whole_wait_with_growing_pauses_then_returns_empty():
    clock = FakeTime()
    leased = lease_waiting(MemoryQueueStore(), "q", max_messages=1, visibility_timeout=30,
                           wait_seconds=5, max_deliveries=None, sleep=clock.sleep,
                           monotonic=clock.monotonic)
    assert leased == []
    assert abs(sum(clock.sleeps) - 5) < 1e-9
    assert clock.sleeps[:3] == [0.05, 0.1, 0.2] and max(clock.sleeps) <= 1.0


def test_message_arriving_during_the_wait_is_returned_at_once():
    clock, queues = FakeTime(), MemoryQueueStore()

    def sleep(seconds):
        clock.sleep(seconds)
        if len(clock.sleeps) == 2:
            queues.push("q", [StoredItem(key="k1", id="m1", payload='"hi"')])

    leased = lease_waiting(queues, "q", max_messages=1, visibility_timeout=30, wait_seconds=20,
                           max_deliveries=None, sleep=sleep, monotonic=clock.monotonic)
    assert [lease.item.id for lease in leased] == ["m1"]
    assert len(clock.sleeps) == 2


def test_no_wait_means_one_attempt():
    clock = FakeTime()
    assert lease_waiting(MemoryQueueStore(), "q", max_messages=1, visibility_timeout=30,
                         wait_seconds=0, max_deliveries=None, sleep=clock.sleep,
                         monotonic=clock.monotonic) == []
    assert clock.sleeps == []


# ------------------------------------------------------------------ storage failures

class FailingQueues(MemoryQueueStore):
    """A store whose ``lease`` / ``bury`` calls fail as told (1-based call numbers)."""

    def __init__(self, fail_lease=(), fail_bury=()) -> None:
        super().__init__(clock=lambda: 1000.0)
        self.fail = {"lease": set(fail_lease), "bury": set(fail_bury)}
        self.calls = {"lease": 0, "bury": 0}

    def _count(self, operation: str) -> None:
        self.calls[operation] += 1
        if self.calls[operation] in self.fail[operation]:
            raise Throttled(f"{operation} throttled (test)")

    def lease(self, *args, **kwargs):
        self._count("lease")
        return super().lease(*args, **kwargs)

    def bury(self, *args, **kwargs):
        self._count("bury")
        return super().bury(*args, **kwargs)


def exhausted_then_fresh(queues: MemoryQueueStore) -> None:
    """m0 has had its one delivery (its lease ran out); m1, m2 never delivered."""
    queues.push("q", [StoredItem(key=f"k{n}", id=f"m{n}", payload='"hi"') for n in range(3)])
    queues.lease("q", 1, 30)
    queues.clock = lambda: 1031.0


def pull(queues, dead: list, max_messages: int = 2) -> list:
    return lease_waiting(queues, "q", max_messages=max_messages, visibility_timeout=30,
                         wait_seconds=0, max_deliveries=1, on_dead=dead.extend)


def test_a_pull_whose_second_lease_fails_returns_what_the_first_leased():
    queues, dead = FailingQueues(fail_lease={3}), []       # call 1 is the set-up's
    exhausted_then_fresh(queues)
    leased = pull(queues, dead)
    assert [lease.item.id for lease in leased] == ["m1"]
    assert [lease.item.id for lease in dead] == ["m0"]
    assert [i.id for i in queues.peek("q", 5)] == ["m2"]   # not hidden, not counted
    assert queues.peek("q", 5)[0].deliveries == 0


def test_a_pull_that_cannot_bury_gives_the_exhausted_item_back_and_returns_the_rest():
    queues, dead = FailingQueues(fail_bury={1}), []
    exhausted_then_fresh(queues)
    leased = pull(queues, dead)
    assert [lease.item.id for lease in leased] == ["m1"]
    assert dead == []                                      # nothing reported buried
    assert [i.id for i in queues.peek("q", 5)] == ["m0", "m2"]   # m0 visible at once


def test_a_pull_that_leased_nothing_raises_the_storage_error():
    queues, dead = FailingQueues(fail_lease={2}), []
    exhausted_then_fresh(queues)
    with pytest.raises(Throttled):
        pull(queues, dead)
    assert [i.id for i in queues.peek("q", 5)] == ["m0", "m1", "m2"]
