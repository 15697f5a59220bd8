"""Routing use cases: where one event goes, why not elsewhere, and pattern tests.

``plan`` is the publish path's one routing decision (publishing.py stores what
it returns): the subscriptions of the event's topics, the derived topics whose
pattern matches it and their subscriptions, and the subscriptions whose filter
alone admits it.  Each subscription appears once, through the first of those
routes that reaches it, so an event is delivered to a subscription once
however many routes lead there.

``explain`` (``POST /routing/explain``) runs the same plan without storing
anything and adds, for each rule that could have applied but did not match,
the first condition that failed.  ``test_pattern`` (``POST /patterns/test``)
is EventBridge's TestEventPattern: one pattern, one event, as given.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chalicelib.config import Settings
from chalicelib.domain import envelope
from chalicelib.domain.routing import (DERIVED_TOPIC, SUBSCRIPTION, Route, RoutingTable,
                                       check_depth, compile_pattern, matching_view, may_receive,
                                       new_router)
from chalicelib.domain.validation import validate
from chalicelib.errors import PayloadTooLarge
from chalicelib.services.auth import Principal
from chalicelib.services.routing_table import RoutingTables
from chalicelib.services.topics import SYSTEM_PREFIX, Topics

if TYPE_CHECKING:
    from chalicelib.domain.patterns import CompiledPattern

MAX_NEAR_MISSES = 50          # explained per request; the rest are only counted
EXPLAIN_BUDGET = 10_000       # value combinations the reference explain may search per rule


@dataclass
class Plan:
    """Where one event goes."""

    routes: list[Route] = field(default_factory=list)
    derived_topics: list[str] = field(default_factory=list)   # names whose pattern matched
    matched: set[str] = field(default_factory=set)            # filtered subscriptions matched
    refused: list[Route] = field(default_factory=list)        # matched, but access lists say no


class Routing:
    def __init__(self, topics: Topics, tables: RoutingTables, settings: Settings,
                 clock=time.time) -> None:
        self.topics = topics
        self.tables = tables
        self.settings = settings
        self.clock = clock

    def table(self) -> RoutingTable:
        """The current routing table (one read; compiled again only when it changed)."""
        return self.tables.current()

    def plan(self, published: list[dict], env: dict, table: RoutingTable) -> Plan:
        """The routes of one event published to ``published`` (topic docs, maybe none)."""
        names = [topic["name"] for topic in published]
        matched, derived = table.match(matching_view(env, names))
        plan = Plan(derived_topics=derived, matched=matched)
        chosen: dict[str, Route] = {}
        refused: dict[str, Route] = {}

        def offer(entry: dict, via: str, topic: str | None, check_access: bool) -> None:
            if entry["id"] in chosen:
                return
            if entry.get("filtered"):
                if entry["id"] not in matched:
                    return
                via = "filter"
            route = Route(entry, via, topic)
            if check_access and not may_receive(entry, published):
                refused.setdefault(entry["id"], route)
            else:
                chosen[entry["id"]] = route

        for name in names:            # access was checked when they subscribed
            for entry in self.topics.subscribers(name):
                offer(entry, "topic", name, check_access=False)
        # system events (bus.*) reach only their topic's subscribers: content routing
        # is for the services' own events
        if any(name.startswith(SYSTEM_PREFIX) for name in names):
            derived, matched = [], set()
            plan.derived_topics = []
        for name in derived:
            for entry in self.topics.subscribers(name):
                offer(entry, "derived-topic", name, check_access=True)
        for sub_id in sorted(matched):
            entry = table.subscriptions[sub_id]
            if not entry["topics"]:   # filters bound to topics come through their topics
                offer(entry, "filter", None, check_access=True)
        plan.routes = list(chosen.values())
        plan.refused = [route for sub_id, route in refused.items() if sub_id not in chosen]
        return plan

    # ---- POST /routing/explain

    def explain(self, principal: Principal, body: object) -> dict:
        """Which subscriptions and derived topics an event would reach, and near misses."""
        body = validate("routing_explain", body)
        event = body["event"]
        published = [self.topics.load(name) for name in body.get("topics", [])]
        for topic in published:
            Topics.check_not_derived(topic)
        check_depth(event["data"], "event.data")
        env = envelope.build(event_id=event.get("id") or f"explain-{uuid.uuid4()}",
                             source=event.get("source") or principal.service_name or "admin",
                             type_=event["type"], data=event["data"],
                             topic=published[0]["name"] if published else None,
                             priority=event.get("priority", 0), time=self.clock(),
                             subject=event.get("subject"))
        size = len(json.dumps(env, separators=(",", ":")).encode())
        if size > self.settings.max_payload_bytes:
            raise PayloadTooLarge(f"the event is {size} bytes as a CloudEvent; the limit is "
                                  f"{self.settings.max_payload_bytes}")
        table = self.table()
        plan = self.plan(published, env, table)
        view = matching_view(env, [topic["name"] for topic in published])

        def visible(entry: dict) -> bool:
            return principal.is_admin or entry.get("owner_id") == principal.service_id

        routes = [route.record() for route in plan.routes if visible(route.subscription)]
        misses = self._near_misses(table, plan, view, visible)
        answer = {"event": view, "derived_topics": plan.derived_topics, "routes": routes,
                  "hidden_routes": len(plan.routes) - len(routes),
                  "near_misses": misses[:MAX_NEAR_MISSES]}
        if len(misses) > MAX_NEAR_MISSES:
            answer["near_misses_not_shown"] = len(misses) - MAX_NEAR_MISSES
        return answer

    def _near_misses(self, table: RoutingTable, plan: Plan, view: dict, visible) -> list[dict]:
        """Rules that could have applied but did not: derived topics, filters, access lists."""
        misses: list[dict] = []
        reachable = set(view.get("topic", ())) | set(plan.derived_topics)
        for name in sorted(set(table.derived_topics) - set(plan.derived_topics)):
            misses.append({"derived_topic": name, "pattern": table.pattern(DERIVED_TOPIC, name)})
        for sub_id, entry in sorted(table.subscriptions.items()):
            if sub_id in plan.matched or not visible(entry):
                continue
            if entry["topics"] and not reachable.intersection(entry["topics"]):
                continue              # it could not receive this event whatever its filter
            misses.append({"subscription": sub_id,
                           "pattern": table.pattern(SUBSCRIPTION, sub_id)})
        for route in plan.refused:
            if visible(route.subscription):
                misses.append({"subscription": route.subscription["id"], "failed": {
                    "reason": "the filter matches, but the topics' subscribers lists do not "
                              "name the subscribing service"}})
        for miss in misses[:MAX_NEAR_MISSES]:
            if "pattern" in miss:
                miss["failed"] = _why(miss.pop("pattern"), view)
        return misses

    # ---- POST /patterns/test

    def test_pattern(self, principal: Principal, body: object) -> dict:
        """EventBridge's TestEventPattern: does ``pattern`` match ``event`` (as given)?"""
        body = validate("pattern_test", body)
        compiled = compile_pattern(body["pattern"])
        check_depth(body["event"], "event")
        router = new_router()         # the indexed evaluator: its search is memoised
        router.add("pattern", compiled)
        return {"match": bool(router.match(body["event"]))}


def _why(compiled: CompiledPattern, view: dict) -> dict:
    """``explain``'s answer, unless the reference search would be too long for a request."""
    from chalicelib.domain.patterns import explain
    from chalicelib.domain.patterns.events import Paths, flatten
    flat = flatten(view, Paths.of(compiled.leaf_paths, compiled.node_paths))
    for branch in compiled.branches:
        combinations = 1
        for condition in branch:
            combinations *= 1 + len(flat.leaves.get(condition.path, ())) \
                + len(flat.nodes.get(condition.path, ()))
            if combinations > EXPLAIN_BUDGET:
                return {"reason": "not explained: the event holds too many values at this "
                                  "pattern's fields for a step-by-step search"}
    return explain(compiled, view) or {"reason": "matches (the routing table changed meanwhile)"}
