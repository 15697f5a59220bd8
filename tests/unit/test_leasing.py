"""Long polling returns as soon as a message is there, or empty after the wait."""
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
