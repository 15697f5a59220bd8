"""Publishing: wrap each event in a CloudEvent and fan it out to subscriptions.

Nothing is lost and nothing is routed twice:

1. the event record (``event/<id>``) is created first with status
   ``pending``, create-only: a second publish of the same id is recognised;
2. one queue item per subscription the event is routed to (routing.py: its
   topics, derived topics and filters; each subscription once) is written,
   keyed from the event's stored sequence number and id, so a retried fan-out
   overwrites the same items instead of adding new ones;
3. the record becomes ``accepted``, with the routes taken (``routes``).

A publish retried after a failure between 1 and 3 finds the ``pending`` record
and completes the fan-out; one retried after 3 is answered from the record
(``duplicate: true``) without routing again.  Ids are global: an id already
used by another producer within the idempotency window is a 409.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Callable

from chalicelib.config import Settings
from chalicelib.domain import disciplines, envelope
from chalicelib.domain.routing import RoutingTable, check_depth
from chalicelib.domain.timeutil import iso
from chalicelib.domain.validation import validate
from chalicelib.errors import Conflict, Forbidden, NotFound, PayloadTooLarge
from chalicelib.services.auth import Principal
from chalicelib.services.routing import Routing
from chalicelib.services.topics import TOPICS, Topics
from chalicelib.storage.base import AlreadyExists, DocumentStore, QueueStore, StoredItem

EVENTS = "event"
MAX_RECORDED_ROUTES = 1000    # keeps an event record well inside DynamoDB's 400 KB item limit


class Publisher:
    def __init__(self, docs: DocumentStore, queues: QueueStore, topics: Topics,
                 settings: Settings, routing: Routing, clock=time.time,
                 notify: Callable[[str], None] = lambda queue: None) -> None:
        self.notify = notify          # told of each push queue that got an item
        self.docs = docs
        self.queues = queues
        self.topics = topics
        self.routing = routing
        self.settings = settings
        self.clock = clock

    def publish(self, principal: Principal, topic_name: str, body: object) -> dict:
        """``POST /topics/{name}/events``: one event, or ``{"events": [...]}``."""
        principal.require_service()
        batch = isinstance(body, dict) and "events" in body
        events = validate("event_batch", body)["events"] if batch else [validate("event", body)]
        topic = self._topic_for(principal, topic_name)
        records = [self._prepare(principal, [topic], event) for event in events]
        table = self.routing.table()
        results = [self._store(principal, [topic], record, table) for record in records]
        return {"events": results} if batch else results[0]

    def multicast(self, principal: Principal, body: object) -> dict:
        """``POST /events``: one event to several topics, or to none (routed by content)."""
        principal.require_service()
        event = validate("multicast", body)
        topics = [self._topic_for(principal, name) for name in event.pop("topics", [])]
        record = self._prepare(principal, topics, event)
        return self._store(principal, topics, record, self.routing.table())

    def get(self, principal: Principal, event_id: str) -> dict:
        record = self.docs.get(EVENTS, event_id)
        if record is None:
            raise NotFound(f"no event with id {event_id!r} (events are kept "
                           f"{self.settings.idempotency_seconds} s)", code="event-not-found")
        if not (principal.is_admin or principal.service_id == record["producer_id"]
                or self._may_read(principal, record)):
            raise Forbidden("only the producer, a permitted subscriber or the admin may read "
                            "this event", code="not-your-event")
        return event_view(record)

    def _may_read(self, principal: Principal, record: dict) -> bool:
        if not record["topics"]:      # routed by content only: open like a public topic
            return True
        for name in record["topics"]:
            topic = self.docs.get(TOPICS, name)
            if topic and (topic.get("subscribers") is None
                          or principal.service_name in topic["subscribers"]):
                return True
        return False

    def _topic_for(self, principal: Principal, name: str) -> dict:
        topic = self.topics.load(name)
        self.topics.check_publisher(principal, topic)
        return topic

    def _prepare(self, principal: Principal, topics: list[dict], event: dict) -> dict:
        """The event record, checked, before anything is stored."""
        now = self.clock()
        check_depth(event["data"], "data")          # routing walks it
        event_id = event.get("id") or str(uuid.uuid4())
        env = envelope.build(event_id=event_id, source=principal.service_name,
                             type_=event["type"], data=event["data"],
                             topic=topics[0]["name"] if topics else None,
                             priority=event.get("priority", 0), time=now,
                             subject=event.get("subject"))
        size = len(json.dumps(env, separators=(",", ":")).encode())
        if size > self.settings.max_payload_bytes:
            raise PayloadTooLarge(f"the event is {size} bytes as a CloudEvent; the limit is "
                                  f"{self.settings.max_payload_bytes}",
                                  extra={"limit": self.settings.max_payload_bytes})
        record = {"id": event_id, "producer": principal.service_name,
                  "producer_id": principal.service_id, "topics": [t["name"] for t in topics],
                  "status": "pending", "seq": disciplines.next_seq(now),
                  "created_at": iso(now), "envelope": env,
                  "expires_at": int(now) + self.settings.idempotency_seconds}
        return record

    def _store(self, principal: Principal, topics: list[dict], record: dict,
               table: RoutingTable) -> dict:
        event_id, expires = record["id"], record["expires_at"]
        try:
            self.docs.put(EVENTS, event_id, record, create_only=True, expires_at=expires)
        except AlreadyExists:
            record = self._existing(principal, event_id)
            if record["status"] != "pending":
                return {"id": event_id, "status": record["status"], "duplicate": True}
        record["subscriptions"] = self._fan_out(topics, record, table)
        record["status"] = "accepted"
        record["accepted_at"] = iso(self.clock())
        self.docs.put(EVENTS, event_id, record, expires_at=expires)
        return {"id": event_id, "status": "accepted"}

    def _existing(self, principal: Principal, event_id: str) -> dict:
        record = self.docs.get(EVENTS, event_id)
        if record is None:          # expired between our write and this read
            raise Conflict("the event id was just released; retry", code="event-id-conflict")
        if record["producer_id"] != principal.service_id:
            raise Conflict(f"event id {event_id!r} is already used by another producer",
                           code="event-id-conflict")
        return record

    def _fan_out(self, topics: list[dict], record: dict, table: RoutingTable) -> int:
        """One queue item per routed subscription; the routes go into the record."""
        env = record["envelope"]
        priority = env.get("priority", 0)
        enqueued_ms = int(self.clock() * 1000)
        plan = self.routing.plan(topics, env, table)
        payloads: dict[str | None, str] = {}
        for route in plan.routes:
            sub = route.subscription
            if route.topic not in payloads:   # as delivered through that topic (or none)
                delivered = env if route.topic is None else envelope.for_topic(env, route.topic)
                payloads[route.topic] = json.dumps(delivered, separators=(",", ":"))
            key = disciplines.sort_key(sub["discipline"], record["seq"], record["id"], priority)
            self.queues.push(sub["queue"], [StoredItem(
                key=key, id=record["id"], payload=payloads[route.topic], priority=priority,
                enqueued_at=enqueued_ms, visible_at=enqueued_ms)])
            if sub.get("mode") == "push":
                self.notify(sub["queue"])
        record["routes"] = [route.record() for route in plan.routes[:MAX_RECORDED_ROUTES]]
        if len(plan.routes) > MAX_RECORDED_ROUTES:
            record["routes_not_recorded"] = len(plan.routes) - MAX_RECORDED_ROUTES
        record["derived_topics"] = plan.derived_topics
        return len(plan.routes)


def event_view(record: dict) -> dict:
    return {"id": record["id"], "status": record["status"], "producer": record["producer"],
            "topics": record["topics"], "subscriptions": record.get("subscriptions", 0),
            "created_at": record["created_at"], "accepted_at": record.get("accepted_at"),
            "routes": record.get("routes", []), "derived_topics": record.get("derived_topics", []),
            **({"routes_not_recorded": record["routes_not_recorded"]}
               if "routes_not_recorded" in record else {}),
            "event": record["envelope"]}
