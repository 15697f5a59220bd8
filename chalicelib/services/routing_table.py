"""The routing table: filtered subscriptions and derived topics, cached per process.

Documents:

* ``filtered-subs/<subscription id>``: ``{id, queue, discipline, mode, owner,
  owner_id, topics, filter}`` for every subscription that has a ``filter``;
* ``derived-topics/<name>``: ``{name, pattern, discipline, owner, owner_id}``;
* ``routing/version``: ``{version}``, a fresh random value written after
  every change to either collection.

Compiling patterns costs far more than matching them, and a Lambda container
serves many publishes, so each process keeps the compiled ``RoutingTable``
and, per publish, reads only the version document (one GetItem); the table is
rebuilt only when the version differs.  Writers change a collection *before*
bumping the version, and readers read the version *before* listing, so a
cached table is never older than the version it is filed under: a reader
that raced a writer sees the new version on its next publish and rebuilds.
"""
from __future__ import annotations

import threading
import time
import uuid

from chalicelib.domain.routing import DERIVED_TOPIC, SUBSCRIPTION, RoutingTable
from chalicelib.domain.timeutil import iso_now
from chalicelib.errors import BusError
from chalicelib.observability import logger
from chalicelib.storage.base import DocumentStore

FILTERED_SUBSCRIPTIONS = "filtered-subs"
DERIVED_TOPICS = "derived-topics"
ROUTING, VERSION = "routing", "version"


class RoutingTables:
    """Keeps the routing collections and this process's compiled table of them."""

    def __init__(self, docs: DocumentStore, recheck_seconds: float = 0.0) -> None:
        self.docs = docs
        self._table: RoutingTable | None = None
        self._lock = threading.Lock()
        self.builds = 0               # how many times this process compiled a table
        # the version is read at most this often (caching.py); a change made here is seen at once
        self.recheck_seconds = recheck_seconds
        self._checked_at = float("-inf")

    # ---- reading (the publish path)

    def current(self) -> RoutingTable:
        """The table for the stored version: one GetItem, a rebuild only on change."""
        table = self._table
        if table is not None and time.monotonic() - self._checked_at < self.recheck_seconds:
            return table
        self._checked_at = time.monotonic()
        stored = self.docs.get(ROUTING, VERSION)
        version = stored["version"] if stored else None
        table = self._table
        if table is not None and table.version == version:
            return table
        with self._lock:              # one build at a time; others reuse it if it is current
            table = self._table
            if table is None or table.version != version:
                table = self._build(version)
                self._table = table
        return table

    def _build(self, version: str | None) -> RoutingTable:
        table = RoutingTable(version=version)
        for entry in self.docs.list(FILTERED_SUBSCRIPTIONS):
            self._file(table, SUBSCRIPTION, entry, entry["filter"], entry["id"])
        for entry in self.docs.list(DERIVED_TOPICS):
            self._file(table, DERIVED_TOPIC, entry, entry["pattern"], entry["name"])
        self.builds += 1
        return table

    @staticmethod
    def _file(table: RoutingTable, kind: str, entry: dict, pattern: object, key: str) -> None:
        try:
            table.add(kind, entry, pattern)
        except BusError as exc:   # stored under older, laxer limits: never break publishing
            table.skipped.append(key)
            logger.warning("routing rule skipped", extra={"kind": kind, "key": key,
                                                          "detail": exc.detail})

    # ---- writing (subscribe, create topic, delete)

    def add_subscription(self, subscription: dict) -> None:
        self.docs.put(FILTERED_SUBSCRIPTIONS, subscription["id"],
                      {**fan_out_entry(subscription), "topics": subscription["topics"],
                       "filter": subscription["filter"]})
        self.bump()

    def remove_subscription(self, subscription: dict) -> None:
        if subscription.get("filter") is not None:
            self.docs.delete(FILTERED_SUBSCRIPTIONS, subscription["id"])
            self.bump()

    def add_derived_topic(self, topic: dict) -> None:
        self.docs.put(DERIVED_TOPICS, topic["name"],
                      {key: topic[key] for key in ("name", "pattern", "discipline", "owner",
                                                   "owner_id")})
        self.bump()

    def remove_derived_topic(self, name: str) -> None:
        if self.docs.delete(DERIVED_TOPICS, name):
            self.bump()

    def bump(self) -> None:
        self.docs.put(ROUTING, VERSION, {"version": uuid.uuid4().hex, "changed_at": iso_now()})
        self._checked_at = float("-inf")


def fan_out_entry(subscription: dict) -> dict:
    """What publishing needs to know of a subscription (kept in the fan-out indexes).

    ``filtered`` tells the fan-out that the entry receives only events its
    filter matches; the owner lets it check topic access lists per event.
    """
    entry = {key: subscription[key] for key in ("id", "queue", "discipline", "owner", "owner_id")}
    entry["mode"] = subscription.get("mode", "pull")
    if subscription.get("filter") is not None:
        entry["filtered"] = True
    if subscription.get("responder"):
        entry["responder"] = True
    return entry
