"""Logging configurable at runtime, per topic, producer and consumer.

``PUT /logging`` (admin) stores rules with the bus's state; every process
reads them again within a second (``TLKS_CACHE_SECONDS`` / 5), and the one
that stored them at once, so a rule takes effect on the next request with no
restart or redeploy.  ``GET /logging`` shows them.

A rule selects by ``topic``, ``producer`` and/or ``consumer`` (all given must
match; a rule with none matches everything) and sets the ``level`` of the
per-event lines (``DEBUG`` turns them on; the default is none), whether the
payload is written (``payloads: "log"``) or not (``"redact"``, the default),
and a ``sample_rate`` (0-1).  The most specific matching rule wins (most
selectors; ties: the later rule).  The lines are JSON (powertools Logger)
with the request's correlation id; the bus's own log level is unaffected.
"""
from __future__ import annotations

import logging
import random

from aws_lambda_powertools import Logger

from chalicelib.domain.timeutil import iso_now
from chalicelib.domain.validation import validate
from chalicelib.middleware import DeliveryContext, Middleware, PublishContext
from chalicelib.services.caching import Recent
from chalicelib.storage.base import DocumentStore

CONFIG, KEY = "config", "logging"
SELECTORS = ("topic", "producer", "consumer")

event_log = Logger(service="tlks-bus", child=True)
event_log.setLevel(logging.DEBUG)        # rules decide; the bus's own level is the parent's


class LogRules:
    def __init__(self, docs: DocumentStore, cache_seconds: float) -> None:
        self.docs = docs
        self._recent: Recent[dict] = Recent(cache_seconds / 5, size=1)
        self.random = random.random

    def get(self, principal) -> dict:
        principal.require_admin()
        return self._stored()

    def put(self, principal, body: object) -> dict:
        principal.require_admin()
        body = validate("logging_rules", body)
        stored = {"rules": body["rules"], "updated_at": iso_now()}
        self.docs.put(CONFIG, KEY, stored)
        self._recent.forget(KEY)
        return stored

    def _stored(self) -> dict:
        # no rules stored is a value too (cached like any): every event asks
        return self._recent.get(KEY, lambda: self.docs.get(CONFIG, KEY)
                                or {"rules": [], "updated_at": None})

    def rule_for(self, topic: str | None, producer: str | None,
                 consumer: str | None) -> dict | None:
        """The most specific rule matching these, or None."""
        seen = {"topic": topic, "producer": producer, "consumer": consumer}
        best, best_score = None, -1
        for rule in self._stored()["rules"]:
            given = [key for key in SELECTORS if key in rule]
            if all(rule[key] == seen[key] for key in given) and len(given) >= best_score:
                best, best_score = rule, len(given)
        return best

    def write(self, rule: dict | None, message: str, fields: dict, payload: str) -> None:
        if rule is None or rule["level"] != "DEBUG":
            return
        if self.random() >= rule.get("sample_rate", 1.0):
            return
        fields["payload"] = payload if rule.get("payloads") == "log" else "[redacted]"
        event_log.debug(message, extra=fields)


class RuleLogging(Middleware):
    name = "logging"

    def __init__(self, docs: DocumentStore, cache_seconds: float) -> None:
        self.rules = LogRules(docs, cache_seconds)

    def after_publish(self, ctx: PublishContext) -> None:
        producer = ctx.principal.service_name
        for topic in ctx.topics or [None]:
            name = topic["name"] if topic else None
            rule = self.rules.rule_for(name, producer, None)
            self.rules.write(rule, "event published", {
                "topic": name, "producer": producer, "event_id": ctx.envelope["id"],
                "type": ctx.envelope["type"], "routes": ctx.routes},
                _json(ctx.envelope.get("data")))

    def before_deliver(self, ctx: DeliveryContext) -> None:
        self._delivery("event delivering", ctx)

    def after_deliver(self, ctx: DeliveryContext) -> None:
        self._delivery(f"event {ctx.outcome}", ctx)

    def _delivery(self, message: str, ctx: DeliveryContext) -> None:
        consumer = ctx.subscription.get("owner")
        rule = self.rules.rule_for(ctx.topic, ctx.producer, consumer)
        fields = {"topic": ctx.topic, "producer": ctx.producer, "consumer": consumer,
                  "subscription": ctx.subscription.get("id"), "event_id": ctx.event_id}
        if ctx.outcome:
            fields.update(outcome=ctx.outcome, status=ctx.status, latency_ms=ctx.latency_ms)
        self.rules.write(rule, message, fields, ctx.payload)


def _json(data) -> str:
    import json
    return json.dumps(data, separators=(",", ":"))
