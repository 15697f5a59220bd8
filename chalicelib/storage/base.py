"""The storage interface every driver implements.

Two small stores make up the bus's state:

* ``DocumentStore`` holds JSON documents by ``(collection, key)``: services,
  tokens, topics, subscriptions, queue definitions, event records and
  idempotency records.  Documents may expire (``expires_at``); an expired
  document is treated as absent everywhere, even before the backend's TTL
  sweeper (DynamoDB TTL is lazy) removes it.
* ``QueueStore`` holds ordered queue items.  Ordering is decided *once*, above
  the drivers, as a sort key (see ``chalicelib.domain.disciplines``): every
  driver simply hands out the visible item with the smallest key first.

``QueueStore`` is a template (as dramatiq's ``Broker`` and kombu's transports
are): its public methods do the shared work - receipts, visibility, dead
letters, validation - and call a handful of ``_primitives`` that a driver
implements.  Drivers know nothing of topics, routing or HTTP.

Times are integer milliseconds since the epoch, taken from an injectable clock
so that tests can move time.
"""
from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from binascii import a2b_base64, b2a_base64
from dataclasses import dataclass, field
from os import urandom
from typing import Callable, Iterable, NamedTuple

from chalicelib.errors import Conflict, InvalidReceipt, StorageUnavailable

logger = logging.getLogger(__name__)
Clock = Callable[[], float]
DEAD_SUFFIX = "#dead"


class AlreadyExists(Conflict):
    """A create-only document write found a live document under that key."""

    code = "already-exists"


# ---------------------------------------------------------------- documents

class DocumentStore(ABC):
    """JSON documents by (collection, key); small, strongly consistent."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    @abstractmethod
    def get(self, collection: str, key: str) -> dict | None:
        """The live document, or None when absent or expired."""

    @abstractmethod
    def put(self, collection: str, key: str, doc: dict, *, create_only: bool = False,
            expires_at: int | None = None) -> None:
        """Store ``doc``.

        Args:
            create_only: refuse to overwrite a live document (raises
                ``AlreadyExists``); an expired one is overwritten.
            expires_at: epoch *seconds* after which the document is gone.
        """

    @abstractmethod
    def delete(self, collection: str, key: str) -> bool:
        """Remove a document; True when one was there."""

    @abstractmethod
    def list(self, collection: str) -> list[dict]:
        """Every live document of a collection, in key order."""

    def ping(self) -> None:
        """Raise ``StorageUnavailable`` when the backend cannot be reached."""


# ------------------------------------------------------------------ queues
#
# The queue helpers below run once per message on every driver, so they are
# written for speed: slotted dataclasses, positional construction, and receipts
# coded with ``binascii`` directly (the ``base64`` wrappers cost twice as much).

@dataclass(slots=True)
class StoredItem:
    """One queue item as the drivers store it.  ``payload`` is JSON text."""

    key: str                       # sort key: smallest is handed out first
    id: str                        # message id, unique within the queue
    payload: str
    priority: int = 0
    enqueued_at: int = 0           # ms
    visible_at: int = 0            # ms; in the future while delayed or leased
    deliveries: int = 0            # how many times it has been leased
    lease: str | None = None       # token of the current lease, if any
    attributes: dict = field(default_factory=dict)


def evolve(item: StoredItem, **changes) -> StoredItem:
    """A copy of ``item`` with ``changes`` (``dataclasses.replace`` is 8x slower)."""
    new = StoredItem(item.key, item.id, item.payload, item.priority, item.enqueued_at,
                     item.visible_at, item.deliveries, item.lease, item.attributes)
    for name, value in changes.items():
        setattr(new, name, value)
    return new


def enqueued(item: StoredItem, now: int) -> StoredItem:
    """The store's own copy of a pushed item: enqueued now unless it says when,
    visible from then unless delayed, never delivered, not leased."""
    at = item.enqueued_at or now
    return StoredItem(item.key, item.id, item.payload, item.priority, at,
                      item.visible_at or at, 0, None, item.attributes)


class Ref(NamedTuple):
    """What a receipt points at: an item key and the lease that owns it."""

    key: str
    lease: str


class Sizes(NamedTuple):
    visible: int
    invisible: int                 # leased or delayed

    @property
    def total(self) -> int:
        return self.visible + self.invisible


@dataclass(slots=True)
class Leased:
    receipt: str
    item: StoredItem


@dataclass(slots=True)
class Settled:
    """The outcome of ack / nack: which receipts took effect."""

    done: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)   # lease expired or item gone


_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_PADDING = ("", "===", "==", "=")        # by len % 4: what base64 needs appended


def encode_receipt(ref: tuple[str, str]) -> str:
    """``(key, lease)`` as URL-safe base64 of ``key \\x1f lease``, unpadded."""
    key, lease = ref
    return b2a_base64(f"{key}\x1f{lease}".encode(), newline=False) \
        .translate(_TO_URLSAFE).decode().rstrip("=")


def decode_receipt(receipt: object) -> Ref:
    """Parse a receipt; raises ``InvalidReceipt`` for anything malformed."""
    if not isinstance(receipt, str) or not 8 <= len(receipt) <= 1024:
        raise InvalidReceipt("a receipt is the string returned by a lease")
    try:
        raw = a2b_base64((receipt + _PADDING[len(receipt) % 4]).encode("ascii")
                         .translate(_FROM_URLSAFE)).decode()
        key, lease = raw.split("\x1f")
    except ValueError as exc:       # binascii.Error, Unicode errors, not one separator
        raise InvalidReceipt(f"receipt {receipt[:40]!r} is not one this bus issued") from exc
    if not key or not lease:
        raise InvalidReceipt(f"receipt {receipt[:40]!r} is not one this bus issued")
    return Ref(key, lease)


def dead_letter_queue(queue: str) -> str:
    return queue + DEAD_SUFFIX


class QueueStore(ABC):
    """Ordered items with atomic leases.  Public methods are the contract."""

    #: how many claim rounds one lease may spend moving exhausted items away
    MAX_CLAIM_ROUNDS = 5

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ---- public template methods

    def push(self, queue: str, items: Iterable[StoredItem]) -> None:
        """Store new items (already keyed by their discipline)."""
        now = self.now_ms()
        batch = [enqueued(item, now) for item in items]
        if batch:
            self._append(queue, batch)

    def lease(self, queue: str, max_items: int, visibility_timeout: float,
              max_deliveries: int | None = None, upto: str | None = None) -> list[Leased]:
        """Lease up to ``max_items`` visible items, in key order.

        Each leased item is invisible to everyone else until its visibility
        timeout passes or it is acked / nacked.  An item leased more than
        ``max_deliveries`` times is moved to the dead letters instead.
        ``upto``: only items whose key is ``<= upto`` (a time-keyed queue such
        as the schedule index reads just its due head, never the rest).

        A backend failure part-way (``StorageUnavailable``, ``Throttled``) ends
        the lease there: it returns the items it did claim, and raises only when
        it claimed none.  Either way every item it did not return is visible
        again at once, its delivery count as before (the drivers give back a
        claim whose outcome they could not learn); exhausted items it could not
        bury are given back too, still counted, for the next lease to bury.
        Only when giving back fails as well does an item stay invisible, until
        its visibility timeout, with that lease counted as a delivery - as for
        a consumer that vanished with its lease.
        """
        leased: list[Leased] = []
        failure: StorageUnavailable | None = None
        for _ in range(self.MAX_CLAIM_ROUNDS):
            want = max_items - len(leased)
            if want <= 0:
                break
            now = self.now_ms()
            try:
                claimed = self._claim(queue, want, now, now + int(visibility_timeout * 1000),
                                      upto)
            except StorageUnavailable as exc:
                failure = exc
                break
            exhausted = [] if max_deliveries is None else \
                [i for i in claimed if i.deliveries > max_deliveries]
            if exhausted:
                claimed = [i for i in claimed if i.deliveries <= max_deliveries]
                try:
                    self._bury(queue, exhausted)
                except StorageUnavailable as exc:
                    failure = exc
                    self._give_back(queue, exhausted)
            for item in claimed:
                leased.append(Leased(encode_receipt((item.key, item.lease)), item))
            if failure is not None or not exhausted:
                break
        if failure is not None:
            if not leased:
                raise failure
            logger.warning("lease on %s returns %d items after a storage failure: %s",
                           queue, len(leased), failure)
        return leased

    def ack(self, queue: str, receipts: Iterable[str]) -> Settled:
        """Delete leased items; a receipt whose lease has been lost is stale."""
        return self._by_receipts(receipts, lambda refs: self._delete(queue, refs))

    def nack(self, queue: str, receipts: Iterable[str], delay_seconds: float = 0) -> Settled:
        """Give leased items back, visible again after ``delay_seconds``."""
        visible_at = self.now_ms() + int(delay_seconds * 1000)
        return self._by_receipts(receipts, lambda refs: self._reschedule(
            queue, refs, visible_at, keep_lease=False))

    def extend(self, queue: str, receipts: Iterable[str], visibility_timeout: float) -> Settled:
        """Keep leased items invisible ``visibility_timeout`` seconds from now (a
        consumer still working on them); their receipts stay valid."""
        until = self.now_ms() + int(visibility_timeout * 1000)
        return self._by_receipts(receipts, lambda refs: self._reschedule(
            queue, refs, until, keep_lease=True))

    def bury(self, queue: str, leases: Iterable[Leased]) -> None:
        """Move leased items to the dead letters now (their last delivery failed)."""
        items = [lease.item for lease in leases]
        if items:
            self._bury(queue, items)

    def head(self, queue: str) -> StoredItem | None:
        """The first item in delivery order, visible or not (ordered delivery)."""
        found = self._scan(queue, 1, None)
        return found[0] if found else None

    def peek(self, queue: str, limit: int) -> list[StoredItem]:
        """The next visible items in delivery order, without leasing them."""
        return self._scan(queue, limit, self.now_ms())

    def size(self, queue: str) -> Sizes:
        return self._count(queue, self.now_ms())

    def purge(self, queue: str) -> None:
        self._purge(queue)

    def dead_letters(self, queue: str, limit: int) -> list[StoredItem]:
        return self._scan(dead_letter_queue(queue), limit, None)

    def drop(self, queue: str) -> None:
        """Remove a queue's items and its dead letters (queue deleted)."""
        self._purge(queue)
        self._purge(dead_letter_queue(queue))

    def redrive(self, queue: str, limit: int) -> int:
        """Move up to ``limit`` dead letters back into the queue; returns how many."""
        dead = dead_letter_queue(queue)
        items = self._scan(dead, limit, None)
        if not items:
            return 0
        self._append(queue, [evolve(i, deliveries=0, lease=None, visible_at=self.now_ms())
                             for i in items])
        for i in items:
            self._delete_unleased(dead, i.key)
        return len(items)

    # ---- shared helpers

    def _bury(self, queue: str, items: list[StoredItem]) -> None:
        """Move claimed items to the dead letters: copy first, so nothing is lost."""
        self._append(dead_letter_queue(queue),
                     [evolve(i, lease=None, visible_at=0) for i in items])
        self._delete(queue, [Ref(i.key, i.lease) for i in items])

    def _give_back(self, queue: str, items: list[StoredItem]) -> None:
        """Make claimed items visible again at once, if the backend lets us."""
        try:
            self._reschedule(queue, [Ref(i.key, i.lease) for i in items], self.now_ms(),
                             keep_lease=False)
        except StorageUnavailable:
            logger.warning("could not give back %d items on %s: visible again after their "
                           "visibility timeout", len(items), queue)

    def _by_receipts(self, receipts: Iterable[str],
                     apply: Callable[[list[Ref]], list[bool]]) -> Settled:
        """Decode the receipts (``InvalidReceipt`` for a malformed one), apply, settle."""
        receipts = list(receipts)
        refs = list(map(decode_receipt, receipts))
        return self._settle(receipts, apply(refs) if refs else [])

    @staticmethod
    def _settle(receipts: list[str], results: list[bool]) -> Settled:
        if all(results):                      # the usual case: every lease still held
            return Settled(receipts, [])
        settled = Settled()
        for receipt, ok in zip(receipts, results):
            (settled.done if ok else settled.stale).append(receipt)
        return settled

    @staticmethod
    def new_lease() -> str:
        """16 random hex digits (``secrets.token_hex(8)``, without its two wrappers)."""
        return urandom(8).hex()

    # ---- primitives a driver implements

    @abstractmethod
    def _append(self, queue: str, items: list[StoredItem]) -> None:
        """Store items as given (overwriting an item with the same key).

        The items are the template's own copies (their ``attributes`` may still
        be the caller's dict): a driver may keep them.
        """

    @abstractmethod
    def _claim(self, queue: str, limit: int, now: int, until: int,
               upto: str | None = None) -> list[StoredItem]:
        """Atomically lease up to ``limit`` items with ``visible_at <= now``
        (and ``key <= upto`` when given).

        Items are taken in key order.  Each claimed item gets a fresh lease
        token (``new_lease()``), ``visible_at = until`` and ``deliveries + 1``;
        the returned items show those new values.  Two concurrent claims never
        return the same item.

        On a backend failure a claim returns what it had won, if anything, and
        otherwise raises ``StorageUnavailable``; first it gives back (conditioned
        on its lease token, deliveries as before) any item that a write whose
        outcome it could not learn - a lost reply - may have claimed.
        """

    @abstractmethod
    def _reschedule(self, queue: str, refs: list[Ref], visible_at: int,
                    keep_lease: bool) -> list[bool]:
        """For each ref whose lease still owns its item: set ``visible_at`` and,
        unless ``keep_lease`` (extend), clear the lease (nack).  One bool per ref."""

    @abstractmethod
    def _delete(self, queue: str, refs: list[Ref]) -> list[bool]:
        """Delete each item whose lease still matches.  One bool per ref."""

    @abstractmethod
    def _delete_unleased(self, queue: str, key: str) -> None:
        """Delete an item by key regardless of lease (dead-letter redrive)."""

    @abstractmethod
    def _scan(self, queue: str, limit: int, now: int | None) -> list[StoredItem]:
        """Up to ``limit`` items in key order; only visible ones unless ``now`` is None."""

    @abstractmethod
    def _count(self, queue: str, now: int) -> Sizes:
        """How many items are visible / invisible at ``now``."""

    @abstractmethod
    def _purge(self, queue: str) -> None:
        """Delete every item of the queue."""

    def ping(self) -> None:
        """Raise ``StorageUnavailable`` when the backend cannot be reached."""
