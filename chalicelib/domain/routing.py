"""Content-based routing: which filtered subscriptions and derived topics an event reaches.

Pure code, no I/O.  Two kinds of rule are matched against every published
event, both EventBridge event patterns (chalicelib/domain/patterns):

* a subscription ``filter`` (the subscription receives only matching events
  of its topics, or, with no topics, every matching event);
* a derived topic's ``pattern`` (the topic receives every matching event,
  whatever topic it was published to).

All of them live in one ``Router`` (built once per routing-table version, see
services/routing_table.py), so publishing costs one indexed lookup whatever the
number of rules.  Rules are matched against the *matching view* of an event:
its CloudEvent envelope with ``topic`` holding the list of topics it was
published to (absent when none), so ``{"topic": ["orders"]}`` matches an event
multicast to ``orders`` and ``billing`` alike.

The pattern engine is imported when first needed, not at import time: it is
about a tenth of a cold start, and most invocations (pull, ack, the
dispatcher, the ticker, publishing while no rule exists) never use it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from chalicelib.errors import ValidationFailed

if TYPE_CHECKING:
    from chalicelib.domain.patterns import CompiledPattern, Router

MAX_EVENT_DEPTH = 128         # nesting of arrays and objects in an event routed or tested

SUBSCRIPTION, DERIVED_TOPIC = "subscription", "derived-topic"


def compile_pattern(pattern: Any) -> CompiledPattern:
    """``validate_pattern``: raises ValidationFailed (400 ``invalid-pattern``)."""
    from chalicelib.domain.patterns import validate_pattern
    return validate_pattern(pattern)


def new_router() -> Router:
    from chalicelib.domain.patterns import Router
    return Router()


def matching_view(envelope: dict, topics: Iterable[str]) -> dict:
    """The event as patterns see it: the envelope, ``topic`` = the published topics."""
    view = {key: value for key, value in envelope.items() if key != "topic"}
    names = list(topics)
    if names:
        view["topic"] = names
    return view


def check_depth(value: object, field_name: str, limit: int = MAX_EVENT_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` (the matchers walk it recursively).

    Raises:
        ValidationFailed: naming ``field_name``.
    """
    level = [value]
    for _ in range(limit):
        deeper = []
        for node in level:
            if isinstance(node, dict):
                deeper.extend(node.values())
            elif isinstance(node, list):
                deeper.extend(node)
        if not deeper:
            return
        level = deeper
    message = f"{field_name or 'the event'} nests deeper than {limit} levels"
    raise ValidationFailed(message, extra={"errors": [{"field": field_name,
                                                       "message": message}]})


def may_receive(entry: dict, published: list[dict]) -> bool:
    """Whether a subscriber may get an event published to ``published`` (topic docs).

    Routes by content bypass the subscribe-time check of a topic's
    ``subscribers`` list, so it is applied per event: the subscriber must be
    allowed on at least one of the event's topics.  Topic-less events are open.
    """
    if not published:
        return True
    owner_id, owner = entry.get("owner_id"), entry.get("owner")
    return any(topic.get("subscribers") is None or owner_id == topic["owner_id"]
               or owner in topic["subscribers"] for topic in published)


@dataclass(frozen=True)
class Route:
    """How one subscription receives one event (``via``: topic, filter, derived-topic)."""

    subscription: dict            # the fan-out entry: id, queue, discipline, mode, owner...
    via: str
    topic: str | None = None

    def record(self) -> dict:
        route = {"subscription": self.subscription["id"], "via": self.via}
        if self.topic is not None:
            route["topic"] = self.topic
        return route


@dataclass
class RoutingTable:
    """Every filtered subscription and derived topic, indexed in one ``Router``.

    Built whole and never changed afterwards, so one table can serve the
    threads of the local server while a newer one is being built.
    """

    version: str | None = None
    subscriptions: dict[str, dict] = field(default_factory=dict)   # id -> entry
    derived_topics: dict[str, dict] = field(default_factory=dict)  # name -> entry
    router: Router | None = None                                   # built with the first rule
    skipped: list[str] = field(default_factory=list)               # rules that did not compile

    def add(self, kind: str, entry: dict, pattern: object) -> CompiledPattern:
        """File a rule (``kind`` SUBSCRIPTION or DERIVED_TOPIC); raises ValidationFailed."""
        key = entry["id"] if kind == SUBSCRIPTION else entry["name"]
        if self.router is None:
            self.router = new_router()
        compiled = self.router.add((kind, key), pattern)
        (self.subscriptions if kind == SUBSCRIPTION else self.derived_topics)[key] = entry
        return compiled

    def __bool__(self) -> bool:
        return bool(self.subscriptions or self.derived_topics)

    def match(self, view: dict) -> tuple[set[str], list[str]]:
        """(ids of matching filtered subscriptions, names of matching derived topics)."""
        if not self:
            return set(), []
        subscriptions, derived = set(), []
        for kind, key in self.router.match(view):
            if kind == SUBSCRIPTION:
                subscriptions.add(key)
            else:
                derived.append(key)
        return subscriptions, sorted(derived)

    def pattern(self, kind: str, key: str) -> CompiledPattern | None:
        return self.router.pattern((kind, key)) if self.router is not None else None
