"""A backend fault at any call of push, lease, ack, nack or extend loses nothing.

Each sweep runs one scenario once without faults, counting the backend calls
its operation makes, then once per call N with a fault at call N (for every
kind of fault the backend has: ``tests/contract/faults.py``), on a fresh queue
each time.  After every run it holds the queue to what a consumer relies on:

* nothing lost: each pushed item is in the queue, acked by a receipt the
  caller got, or in the dead letters, and in the queue once;
* nothing dead-lettered that was not delivered ``max_deliveries`` times to a
  caller, and each item's delivery count is how many times a caller got it (a
  lease that failed must not raise it, or a later lease buries the item unseen);
* nothing invisible that the caller does not hold (a lease that failed leaves
  the items it did not hand out visible at once), and nothing invisible longer
  than its visibility timeout;
* a push that raised, retried with the same items, stores each of them once;
  an ack, nack or extend that raised is safe to retry with the same receipts.

The in-memory driver has no backend, so nothing in it can fail: it is not here.
"""
from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import pytest
from botocore.exceptions import ReadTimeoutError

from chalicelib.config import Settings
from chalicelib.domain.disciplines import next_seq, sort_key
from chalicelib.errors import StorageUnavailable, Throttled
from chalicelib.storage import open_storage
from chalicelib.storage.base import Leased, QueueStore, StoredItem
from chalicelib.storage.redis_store import RedisQueueStore
from chalicelib.storage.sqlite import SqliteQueueStore
from tests.contract.faults import DynamoFaults, Faults, RedisFaults, SqliteFaults

FAULTY_DRIVERS = ["file", "dynamodb", "redis"]     # memory: no backend, no faults
TIMEOUT = 30                                       # every lease's visibility timeout (s)
EXTENDED = 60                                      # what extend asks for (s)
_queue_numbers = itertools.count()


@dataclass
class Rig:
    driver: str
    queues: QueueStore
    faults: Faults
    clock: Callable
    #: the repeat counts of each fault: once, and (Redis, which retries) for every attempt
    times: tuple[int, ...] = (1,)
    cases: Counter = field(default_factory=Counter)


@pytest.fixture(params=FAULTY_DRIVERS)
def rig(request, clock, tmp_path):
    if request.param == "file":
        faults = SqliteFaults()
        db = faults.database(tmp_path / "bus.sqlite3")
        yield Rig("file", SqliteQueueStore(db, clock), faults, clock)
        db.close()
        return
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        faults = RedisFaults()
        queues = RedisQueueStore(faults.client(server.port), f"faults-{next(_queue_numbers)}",
                                 clock)
        queues.sleep = lambda seconds: None          # the retries' backoff: no real waits
        yield Rig("redis", queues, faults, clock, times=(1, RedisQueueStore.ATTEMPTS))
        server.client().flushdb()
        return
    from infra.tables import ensure_tables, table_names

    client = request.getfixturevalue("dynamodb_client")
    prefix = f"tlks-faults-{next(_queue_numbers)}"
    ensure_tables(client, prefix, streams=False)
    faults = DynamoFaults(client)
    storage = open_storage(Settings(storage="dynamodb", table_prefix=prefix), clock=clock,
                           dynamodb_client=client)
    try:
        yield Rig("dynamodb", storage.queues, faults, clock)
    finally:
        faults.close()
        for name in table_names(prefix).values():
            client.delete_table(TableName=name)


def make_item(n: int) -> StoredItem:
    return StoredItem(key=sort_key("fifo", next_seq(), f"m{n}"), id=f"m{n}",
                      payload=json.dumps({"n": n}))


# ------------------------------------------------------------------ what the caller saw

@dataclass
class Ledger:
    """What the caller did and got on one queue: the truth the store is checked against."""

    queue: str
    max_deliveries: int | None = None
    pushed: dict[str, StoredItem] = field(default_factory=dict)
    delivered: Counter = field(default_factory=Counter)   # id -> times a caller got it
    held: dict[str, Leased] = field(default_factory=dict)  # id -> the caller's live lease
    acked: set[str] = field(default_factory=set)          # ids the caller sent an ack for

    def push(self, queues: QueueStore, items: list[StoredItem]) -> None:
        self.pushed.update((i.id, i) for i in items)
        queues.push(self.queue, items)

    def lease(self, queues: QueueStore, n: int, max_deliveries: int | None = None) -> list:
        leased = queues.lease(self.queue, n, TIMEOUT, max_deliveries)
        for lease in leased:
            self.delivered[lease.item.id] += 1
            self.held[lease.item.id] = lease
        return leased

    def exhausted(self, item_id: str) -> bool:
        return self.max_deliveries is not None and \
            self.delivered[item_id] >= self.max_deliveries


def assert_sound(rig: Rig, ledger: Ledger, context: str) -> None:
    """The invariants of the module docstring, then: everything visible after the timeouts."""
    queues, q = rig.queues, ledger.queue
    now = queues.now_ms()
    items = queues._scan(q, 1000, None)
    dead = {i.id for i in queues.dead_letters(q, 1000)}
    stored = Counter(i.id for i in items)
    assert [i for i, n in stored.items() if n > 1] == [], f"{context}: duplicated"
    lost = set(ledger.pushed) - set(stored) - dead - ledger.acked
    assert not lost, f"{context}: lost {sorted(lost)}"
    assert not set(stored) & ledger.acked, f"{context}: acked yet still queued"
    unseen = {i for i in dead if not ledger.exhausted(i)}
    assert not unseen, f"{context}: dead-lettered before max deliveries: {sorted(unseen)}"
    both = {i for i in set(stored) & dead if not ledger.exhausted(i)}
    assert not both, f"{context}: both queued and dead: {sorted(both)}"   # copy-first bury only
    for item in items:
        seen = ledger.delivered[item.id]
        if ledger.exhausted(item.id):   # on its way to the dead letters
            assert item.deliveries >= seen, f"{context}: {item.id} delivery count"
        else:
            assert item.deliveries == seen, \
                f"{context}: {item.id} counts {item.deliveries} deliveries, the caller got {seen}"
        if item.visible_at > now:
            assert item.id in ledger.held, f"{context}: {item.id} hidden, nobody holds it"
            assert item.visible_at <= now + EXTENDED * 1000, f"{context}: {item.id} hidden long"
    rig.clock.advance(EXTENDED + 1)
    assert queues.size(q).invisible == 0, f"{context}: hidden past its visibility timeout"


# ------------------------------------------------------------------ scenarios
#
# A scenario prepares a fresh queue (no faults), then ``act`` runs the operation
# under test (with the fault armed) and ``recover`` does what a caller does after
# the operation raised (retry it), then checks the operation's own promise.

@dataclass
class Scenario:
    name: str
    prepare: Callable[[Rig, Ledger], object]
    act: Callable[[Rig, Ledger, object], object]
    recover: Callable[[Rig, Ledger, object, Exception | None], None]
    max_deliveries: int | None = None


def _pushed(n: int) -> Callable:
    def prepare(rig: Rig, ledger: Ledger):
        return [make_item(i) for i in range(n)]
    return prepare


def _push(rig: Rig, ledger: Ledger, items) -> None:
    ledger.push(rig.queues, items)


def _push_recover(rig: Rig, ledger: Ledger, items, error) -> None:
    if error is not None:
        rig.queues.push(ledger.queue, items)            # the caller retries the same items
    stored = Counter(i.id for i in rig.queues._scan(ledger.queue, 1000, None))
    assert stored == Counter(i.id for i in items), "a retried push must store each item once"


def _with_items(n: int, leased_before: int = 0) -> Callable:
    """``n`` items; the first ``leased_before`` delivered once and expired since."""
    def prepare(rig: Rig, ledger: Ledger):
        ledger.push(rig.queues, [make_item(i) for i in range(n)])
        if leased_before:
            ledger.lease(rig.queues, leased_before)
            ledger.held.clear()
            rig.clock.advance(TIMEOUT + 1)
    return prepare


def _lease(n: int) -> Callable:
    def act(rig: Rig, ledger: Ledger, _):
        return ledger.lease(rig.queues, n, ledger.max_deliveries)
    return act


def _lease_recover(rig: Rig, ledger: Ledger, _, error) -> None:
    # The caller got the error only if it got nothing: the ledger has what it got.
    return None


def _leased(n: int, *leases: int) -> Callable:
    """``n`` items, then leases of the given sizes; their receipts, in order."""
    def prepare(rig: Rig, ledger: Ledger):
        ledger.push(rig.queues, [make_item(i) for i in range(n)])
        return [lease.receipt for size in leases for lease in ledger.lease(rig.queues, size)]
    return prepare


def _ack(rig: Rig, ledger: Ledger, receipts):
    ledger.acked |= {i for i, lease in ledger.held.items() if lease.receipt in receipts}
    return rig.queues.ack(ledger.queue, receipts)


def _nack(rig: Rig, ledger: Ledger, receipts):
    return rig.queues.nack(ledger.queue, receipts)


def _extend(rig: Rig, ledger: Ledger, receipts):
    rig.clock.advance(TIMEOUT / 2)
    return rig.queues.extend(ledger.queue, receipts, EXTENDED)


def _settle_recover(verb: str) -> Callable:
    def recover(rig: Rig, ledger: Ledger, receipts, error) -> None:
        queues, q = rig.queues, ledger.queue
        settle = {"ack": queues.ack, "nack": queues.nack,
                  "extend": lambda q, r: queues.extend(q, r, EXTENDED)}[verb]
        if error is not None:
            settled = settle(q, receipts)               # the caller retries the same receipts
            # A receipt an earlier, failed attempt settled may come back stale.
            assert sorted(settled.done + settled.stale) == sorted(receipts)
            if verb == "extend":
                assert settled.done == receipts, "an extend is safe to repeat"
        ids = {i for i, lease in ledger.held.items() if lease.receipt in receipts}
        now = queues.now_ms()
        items = {i.id: i for i in queues._scan(q, 1000, None)}
        if verb == "ack":
            assert not ids & set(items), "acked items are gone"
        elif verb == "nack":
            assert all(items[i].visible_at <= now for i in ids), "nacked items are visible"
        else:
            assert all(items[i].visible_at == now + EXTENDED * 1000 for i in ids)
            assert queues.ack(q, receipts).done == receipts, "the receipts still hold"
            ledger.acked |= ids
        for i in ids:
            del ledger.held[i]
    return recover


SCENARIOS = {s.name: s for s in [
    Scenario("push-one", _pushed(1), _push, _push_recover),
    Scenario("push-many", _pushed(30), _push, _push_recover),    # DynamoDB: 2 batches
    Scenario("lease-one", _with_items(3), _lease(1), _lease_recover),
    Scenario("lease-many", _with_items(5), _lease(3), _lease_recover),
    # The lease of issue #13: it buries an exhausted item, then claims once more.
    Scenario("lease-burying", _with_items(5, leased_before=1), _lease(2), _lease_recover,
             max_deliveries=1),
    Scenario("ack-one", _leased(2, 1), _ack, _settle_recover("ack")),
    Scenario("ack-many", _leased(6, 3, 2), _ack, _settle_recover("ack")),   # two leases
    Scenario("nack-one", _leased(2, 1), _nack, _settle_recover("nack")),
    Scenario("nack-many", _leased(6, 3, 2), _nack, _settle_recover("nack")),
    Scenario("extend-one", _leased(2, 1), _extend, _settle_recover("extend")),
    Scenario("extend-many", _leased(6, 3, 2), _extend, _settle_recover("extend")),
]}


def run_case(rig: Rig, scenario: Scenario, kind: str | None, at: int, times: int) -> int:
    """One run of the scenario with a fault at call ``at``; the calls it made."""
    ledger = Ledger(f"q.{scenario.name}.{next(_queue_numbers)}", scenario.max_deliveries)
    context = f"{rig.driver} {scenario.name}: {kind} x{times} at call {at}"
    state = scenario.prepare(rig, ledger)
    rig.faults.arm(kind, at, times)
    error = None
    try:
        scenario.act(rig, ledger, state)
    except StorageUnavailable as exc:       # Throttled is one
        error = exc
        assert exc.__cause__ is not None, f"{context}: raised without its cause"
    finally:
        calls = rig.faults.disarm()
    scenario.recover(rig, ledger, state, error)
    assert_sound(rig, ledger, context)
    return calls


def sweep(rig: Rig, scenario: Scenario) -> int:
    """Every kind of fault at every call the operation makes; how many cases ran."""
    run_case(rig, scenario, None, 0, 1)          # warm up (Redis loads its scripts)
    calls = run_case(rig, scenario, None, 0, 1)
    assert calls >= 1, "the operation made no backend call: nothing to sweep"
    cases = 0
    for kind in rig.faults.kinds:
        for times in rig.times:
            for at in range(1, calls + 1):
                run_case(rig, scenario, kind, at, times)
                cases += 1
    rig.cases[scenario.name] += cases
    print(f"{rig.driver} {scenario.name}: {calls} calls, {cases} fault cases")
    return cases


@pytest.mark.parametrize("scenario", ["push-one", "push-many"])
def test_a_push_that_failed_at_any_call_is_safe_to_retry_and_stores_each_item_once(
        rig, scenario):
    sweep(rig, SCENARIOS[scenario])


@pytest.mark.parametrize("scenario", ["lease-one", "lease-many", "lease-burying"])
def test_a_lease_that_failed_at_any_call_hides_and_counts_only_what_it_handed_out(
        rig, scenario):
    sweep(rig, SCENARIOS[scenario])


@pytest.mark.parametrize("scenario", ["ack-one", "ack-many", "nack-one", "nack-many",
                                      "extend-one", "extend-many"])
def test_an_ack_nack_or_extend_that_failed_at_any_call_is_safe_to_retry(rig, scenario):
    sweep(rig, SCENARIOS[scenario])


# ------------------------------------------------------------------ the semantics, one by one

def test_a_lease_that_claimed_nothing_raises_the_backend_error(rig):
    ledger = Ledger("q.nothing")
    ledger.push(rig.queues, [make_item(0), make_item(1)])
    rig.faults.arm(rig.faults.kinds[0], 1, max(rig.times))
    try:
        with pytest.raises(StorageUnavailable) as raised:
            rig.queues.lease(ledger.queue, 2, TIMEOUT)
    finally:
        rig.faults.disarm()
    assert raised.value.__cause__ is not None            # raised from the backend's error
    assert rig.queues.size(ledger.queue).visible == 2


def test_a_lease_that_fails_after_claiming_some_items_returns_them(rig):
    # Issue #13: the second claim of a burying lease failed; the item the first
    # claim had won stayed hidden, and a later lease buried it unseen.
    sweep_scenario = SCENARIOS["lease-burying"]
    ledger = Ledger("q.partial", max_deliveries=1)
    sweep_scenario.prepare(rig, ledger)                  # m0 delivered once, expired
    calls = _calls_of(rig, sweep_scenario)
    rig.faults.arm(rig.faults.kinds[0], calls, max(rig.times))   # the last claim fails
    try:
        leased = ledger.lease(rig.queues, 2, max_deliveries=1)
    finally:
        rig.faults.disarm()
    assert [lease.item.id for lease in leased] == ["m1"]
    assert [i.id for i in rig.queues.dead_letters(ledger.queue, 10)] == ["m0"]
    assert [i.id for i in rig.queues.peek(ledger.queue, 10)] == ["m2", "m3", "m4"]
    rig.clock.advance(TIMEOUT + 1)                       # m1's lease runs out
    again = ledger.lease(rig.queues, 5, max_deliveries=1)
    # m1 had its one delivery and is buried; m2 was never handed out, nor counted.
    assert [lease.item.id for lease in again] == ["m2", "m3", "m4"]
    assert [lease.item.deliveries for lease in again] == [1, 1, 1]
    assert [i.id for i in rig.queues.dead_letters(ledger.queue, 10)] == ["m0", "m1"]


def _calls_of(rig: Rig, scenario: Scenario) -> int:
    ledger = Ledger(f"q.count.{next(_queue_numbers)}", scenario.max_deliveries)
    state = scenario.prepare(rig, ledger)
    rig.faults.arm()
    try:
        scenario.act(rig, ledger, state)
    finally:
        calls = rig.faults.disarm()
    return calls


@pytest.mark.parametrize("rig", ["dynamodb"], indirect=True)
def test_dynamodb_throttling_is_throttled_and_a_dropped_connection_unavailable(rig):
    ledger = Ledger("q.codes")
    ledger.push(rig.queues, [make_item(0)])
    for kind, error in [("throttle", Throttled), ("item-throttle", Throttled),
                        ("refused", StorageUnavailable), ("timeout", StorageUnavailable)]:
        rig.faults.arm(kind, 2)                          # the claim's UpdateItem
        try:
            with pytest.raises(error) as raised:
                rig.queues.lease(ledger.queue, 1, TIMEOUT)
        finally:
            rig.faults.disarm()
        assert (kind in ("throttle", "item-throttle")) == isinstance(raised.value, Throttled)
        assert rig.queues.size(ledger.queue).visible == 1, kind


class LosesFirstReply:
    """A ``before-send`` hook run after moto's: the first ``operation`` request is
    applied, then its reply is lost - inside botocore, which retries it."""

    def __init__(self, operation: str) -> None:
        self.target = f"DynamoDB_20120810.{operation}"
        self.lost = 0

    def __call__(self, request, **_):
        target = request.headers.get("X-Amz-Target", b"")
        if not self.lost and (target.decode() if isinstance(target, bytes) else target) \
                == self.target:
            self.lost += 1
            raise ReadTimeoutError(endpoint_url=request.url)


@pytest.mark.parametrize("rig", ["dynamodb"], indirect=True)
@pytest.mark.parametrize("n, operation", [(1, "UpdateItem"), (2, "TransactWriteItems")])
def test_a_claim_whose_reply_botocore_lost_and_retried_still_hands_the_items_out(
        rig, n, operation):
    ledger = Ledger("q.retried")
    ledger.push(rig.queues, [make_item(i) for i in range(3)])
    events = rig.queues.client.meta.events
    hook = LosesFirstReply(operation)
    events.register("before-send", hook, unique_id="loses-first-reply")
    try:
        leased = ledger.lease(rig.queues, n)
    finally:
        events.unregister("before-send", unique_id="loses-first-reply")
    assert hook.lost == 1
    # The retry finds the item already holding its own claim: not "taken by someone else".
    assert [lease.item.id for lease in leased] == [f"m{i}" for i in range(n)]
    assert_sound(rig, ledger, "retried claim")


@pytest.mark.parametrize("rig", ["dynamodb", "redis"], indirect=True)
def test_when_giving_back_fails_too_the_item_returns_after_its_visibility_timeout(rig):
    # The documented limit: the claim was applied but its reply lost, and the backend
    # refused the give-back as well.  Nothing is lost; the item is hidden until its
    # lease runs out, and that lease counts as a delivery (as a vanished consumer's).
    ledger = Ledger("q.double")
    ledger.push(rig.queues, [make_item(0)])
    rig.queues.lease("q.warm-up", 1, TIMEOUT)         # Redis: the lease script is loaded
    if rig.driver == "dynamodb":                     # Query, UpdateItem, its give-back
        plan = {2: "timeout", 3: "refused"}
    else:                                            # the claim's attempts, the give-back's
        attempts = RedisQueueStore.ATTEMPTS
        plan = {n: "lost-reply" if n <= attempts else "drop" for n in range(1, 2 * attempts + 1)}
    rig.faults.arm_plan(plan)
    try:
        with pytest.raises(StorageUnavailable):
            rig.queues.lease(ledger.queue, 1, TIMEOUT)
    finally:
        rig.faults.disarm()
    assert rig.queues.size(ledger.queue).invisible == 1
    rig.clock.advance(TIMEOUT)
    [again] = rig.queues.lease(ledger.queue, 1, TIMEOUT)
    assert again.item.id == "m0" and again.item.deliveries == 2
