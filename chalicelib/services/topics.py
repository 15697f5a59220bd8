"""Topics: named channels with a queue discipline and optional access lists.

Documents: ``topic/<name>`` and, per topic, an index of the subscriptions
that receive it (``topic-subs:<name>/<subscription id>``) so that publishing
costs one query per topic, not a scan of every subscription.

A *derived* topic has a ``pattern`` instead of publishers: it receives every
published event that matches it (the routing table files it), and nobody
publishes to it directly.
"""
from __future__ import annotations

from typing import Callable

from chalicelib.domain.routing import compile_pattern
from chalicelib.domain.timeutil import iso_now
from chalicelib.domain.validation import validate
from chalicelib.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.middleware.validation import check_schemas
from chalicelib.services.auth import Principal
from chalicelib.services.caching import Recent
from chalicelib.services.routing_table import RoutingTables, fan_out_entry
from chalicelib.storage.base import AlreadyExists, DocumentStore

#: names of the bus's own topics (system events, services/system_events.py)
SYSTEM_PREFIX = "bus."

TOPICS = "topic"


def subscribers_index(topic: str) -> str:
    return f"topic-subs:{topic}"


class Topics:
    def __init__(self, docs: DocumentStore, routes: RoutingTables,
                 cache_seconds: float = 0.0) -> None:
        self.docs = docs
        self.routes = routes
        self._recent: Recent[dict] = Recent(cache_seconds)   # topics change only by deletion
        # the fan-out index is read on every publish; read again at most every fifth of it
        self._fan_out: Recent[list] = Recent(cache_seconds / 5)
        self.on_change: Callable[[str, dict], None] = lambda verb, topic: None

    def create(self, principal: Principal, body: dict) -> dict:
        principal.require_service()
        body = validate("topic_create", body)
        if body["name"].startswith(SYSTEM_PREFIX):
            raise Forbidden(f"topic names starting with {SYSTEM_PREFIX!r} are the bus's own "
                            f"(system events); choose another name", code="reserved-topic")
        pattern = None
        if "pattern" in body:
            if "publishers" in body:
                message = "a derived topic is fed by its pattern: it has no publishers"
                raise ValidationFailed(message, extra={"errors": [{"field": "publishers",
                                                                   "message": message}]})
            pattern = compile_pattern(body["pattern"]).source
        topic = {
            "name": body["name"],
            "discipline": body.get("discipline", "fifo"),
            "description": body.get("description", ""),
            "owner": principal.service_name,
            "owner_id": principal.service_id,
            "publishers": body.get("publishers"),
            "subscribers": body.get("subscribers"),
            "created_at": iso_now(),
        }
        if pattern is not None:
            topic["pattern"] = pattern
        if "schemas" in body:
            topic["schemas"] = check_schemas(body["schemas"])
        try:
            self.docs.put(TOPICS, topic["name"], topic, create_only=True)
        except AlreadyExists:
            raise Conflict(f"topic {topic['name']!r} already exists", code="topic-exists") from None
        if pattern is not None:
            self.routes.add_derived_topic(topic)
        self.on_change("created", topic)
        return topic

    def set_schemas(self, principal: Principal, name: str, body: object) -> dict:
        """``PUT /topics/{name}/schemas``: the owner replaces the topic's event schemas."""
        body = validate("topic_schemas", body)
        topic = self._owned(principal, name, "change its schemas")
        topic["schemas"] = check_schemas(body["schemas"])
        self.docs.put(TOPICS, name, topic)
        self._recent.forget(name)
        return topic

    def list(self, principal: Principal) -> list[dict]:
        return self.docs.list(TOPICS)

    def get(self, principal: Principal, name: str) -> dict:
        return self.load(name)

    def _owned(self, principal: Principal, name: str, doing: str) -> dict:
        topic = self.load(name)
        if not (principal.is_admin or principal.service_id == topic["owner_id"]):
            raise Forbidden(f"only the topic's owner or the admin may {doing}",
                            code="not-topic-owner")
        return topic

    def delete(self, principal: Principal, name: str) -> None:
        topic = self._owned(principal, name, "delete it")
        if topic.get("pattern") is not None:
            self.routes.remove_derived_topic(name)
        index = subscribers_index(name)
        for entry in self.docs.list(index):
            self.docs.delete(index, entry["id"])
        self.docs.delete(TOPICS, name)
        self._recent.forget(name)
        self._fan_out.forget(name)
        self.on_change("deleted", topic)

    def load(self, name: str) -> dict:
        topic = self._recent.get(name, lambda: self.docs.get(TOPICS, name))
        if topic is None:
            raise NotFound(f"no topic named {name!r}", code="topic-not-found")
        return dict(topic)

    @staticmethod
    def check_publisher(principal: Principal, topic: dict) -> None:
        Topics.check_not_derived(topic)
        _check_list(principal, topic, "publishers", "publish to")

    @staticmethod
    def check_not_derived(topic: dict) -> None:
        if topic.get("pattern") is not None:
            raise Conflict(f"topic {topic['name']!r} is derived: it receives the published "
                           "events its pattern matches and cannot be published to",
                           code="topic-is-derived")

    @staticmethod
    def check_subscriber(principal: Principal, topic: dict) -> None:
        _check_list(principal, topic, "subscribers", "subscribe to")

    def add_subscriber(self, topic: str, subscription: dict) -> None:
        self.docs.put(subscribers_index(topic), subscription["id"], fan_out_entry(subscription))
        self._fan_out.forget(topic)

    def remove_subscriber(self, topic: str, subscription_id: str) -> None:
        self.docs.delete(subscribers_index(topic), subscription_id)
        self._fan_out.forget(topic)

    def subscribers(self, topic: str) -> list[dict]:
        """The topic's fan-out entries (cached briefly: services/caching.py)."""
        return self._fan_out.get(topic, lambda: self.docs.list(subscribers_index(topic)))


def _check_list(principal: Principal, topic: dict, field: str, verb: str) -> None:
    allowed = topic.get(field)
    if allowed is None or principal.service_id == topic["owner_id"]:
        return
    if principal.service_name not in allowed:
        raise Forbidden(f"service {principal.service_name!r} may not {verb} topic "
                        f"{topic['name']!r}", code=f"not-a-{field[:-1]}")
