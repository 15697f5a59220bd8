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

An event whose id the bus chose (no ``id`` in the request) cannot be
published twice, and when nothing waits on it (not sync, no callback) no one
reads its record before the 202: it is written once, after the fan-out.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from chalicelib.config import Settings
from chalicelib.domain import disciplines, envelope
from chalicelib.domain.routing import RoutingTable, check_depth
from chalicelib.domain.timeutil import iso
from chalicelib.domain.validation import validate
from chalicelib.delivery.callbacks import CallbackPolicy
from chalicelib.delivery.signing import check_secret
from chalicelib.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from chalicelib.middleware import Pipeline, PublishContext
from chalicelib.middleware.compression import inflate
from chalicelib.services.auth import Principal
from chalicelib.services.outcomes import Outcomes
from chalicelib.services.routing import Routing
from chalicelib.services.topics import TOPICS, Topics
from chalicelib.storage.base import AlreadyExists, DocumentStore, QueueStore, StoredItem

EVENTS = "event"
MAX_RECORDED_ROUTES = 1000    # keeps an event record well inside DynamoDB's 400 KB item limit


@dataclass
class Draft:
    """An event checked and enveloped, nothing stored yet."""

    record: dict                  # what is stored (its envelope maybe compressed)
    envelope: dict                # the whole envelope
    chosen_id: bool               # the producer chose the id: a retry must be recognised
    callback_secret: str | None = None
    secret_generated: bool = False     # made by the bus: the 202 tells the producer


class Publisher:
    def __init__(self, docs: DocumentStore, queues: QueueStore, topics: Topics,
                 settings: Settings, routing: Routing, outcomes: Outcomes,
                 policy: CallbackPolicy, pipeline: Pipeline | None = None, clock=time.time,
                 notify: Callable[[str], None] = lambda queue: None) -> None:
        self.pipeline = pipeline or Pipeline([])
        self.notify = notify          # told of each push queue that got an item
        self.outcomes = outcomes
        self.policy = policy
        self.docs = docs
        self.queues = queues
        self.topics = topics
        self.routing = routing
        self.settings = settings
        self.clock = clock

    def publish(self, principal: Principal, topic_name: str, body: object,
                base_url: str = "", sync: bool = False) -> dict:
        """``POST /topics/{name}/events``: one event, or ``{"events": [...]}``.

        ``sync``: the producer will wait for a reply (``Prefer: wait``; the
        caller waits, services/events.py).
        """
        principal.require_service()
        batch = isinstance(body, dict) and "events" in body
        events = validate("event_batch", body)["events"] if batch else [validate("event", body)]
        if batch and (sync or any(e.get("mode") == "sync" for e in events)):
            raise ValidationFailed("synchronous events are published one at a time",
                                   extra={"errors": [{"field": "events[].mode",
                                                      "message": "sync is not allowed here"}]})
        topic = self._topic_for(principal, topic_name)
        drafts = [self._prepare(principal, [topic], event, base_url, sync) for event in events]
        table = self.routing.table()
        results = [self._store(principal, [topic], draft, table) for draft in drafts]
        return {"events": results} if batch else results[0]

    def multicast(self, principal: Principal, body: object, base_url: str = "",
                  sync: bool = False) -> dict:
        """``POST /events``: one event to several topics, or to none (routed by content)."""
        principal.require_service()
        event = validate("multicast", body)
        topics = [self._topic_for(principal, name) for name in event.pop("topics", [])]
        draft = self._prepare(principal, topics, event, base_url, sync)
        return self._store(principal, topics, draft, self.routing.table())

    def publish_as(self, principal: Principal, topic_name: str, event: dict,
                   extensions: dict) -> dict:
        """An event the bus publishes on someone's behalf (a schedule's owner, or the
        bus itself on ``bus.*``), with extra envelope attributes; checked like any."""
        event = validate("event", event)
        topic = self._topic_for(principal, topic_name)
        draft = self._prepare(principal, [topic], event, extensions=extensions)
        return self._store(principal, [topic], draft, self.routing.table())

    def record(self, event_id: str) -> dict:
        record = self.docs.get(EVENTS, event_id)
        if record is None:
            raise NotFound(f"no event with id {event_id!r} (events are kept "
                           f"{self.settings.idempotency_seconds} s)", code="event-not-found")
        return record

    def get(self, principal: Principal, event_id: str) -> dict:
        record = self.record(event_id)
        self.check_reader(principal, record)
        return event_view(record)

    def check_reader(self, principal: Principal, record: dict) -> None:
        if not (principal.is_admin or principal.service_id == record["producer_id"]
                or self._may_read(principal, record)):
            raise Forbidden("only the producer, a permitted subscriber or the admin may read "
                            "this event", code="not-your-event")

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

    def _prepare(self, principal: Principal, topics: list[dict], event: dict,
                 base_url: str = "", sync: bool = False,
                 extensions: dict | None = None) -> Draft:
        """The event record, checked, before anything is stored."""
        now = self.clock()
        check_depth(event["data"], "data")          # routing walks it
        event_id = event.get("id") or str(uuid.uuid4())
        sync = sync or event.get("mode") == "sync"
        if event.get("callback_secret") and not event.get("callback"):
            raise ValidationFailed("callback_secret needs a callback", extra={"errors": [
                {"field": "callback_secret", "message": "only with a callback"}]})
        if event.get("callback"):
            self.policy.check(event["callback"])
            check_secret(event.get("callback_secret"), "callback_secret")
        claimed = {key: event[key] for key in ("producer",) if key in event}
        own = event.get("extensions") or {}
        envelope.check_extensions(own)
        env = envelope.build(event_id=event_id, source=event.get("source", principal.service_name),
                             type_=event["type"], data=event["data"],
                             topic=topics[0]["name"] if topics else None,
                             priority=event.get("priority", 0),
                             time=envelope.occurred_at(event["time"]) if "time" in event else now,
                             subject=event.get("subject"), dataschema=event.get("dataschema"),
                             extensions={**own, **(extensions or {}), **claimed, **(
                                 {"replyto": f"{base_url}/events/{event_id}/reply"}
                                 if sync else {})})
        self.pipeline.before_publish(PublishContext(principal, topics, env))
        text = json.dumps(env, separators=(",", ":"))
        size = len(text.encode())
        if size > self.settings.max_payload_bytes:
            raise PayloadTooLarge(f"the event is {size} bytes as a CloudEvent; the limit is "
                                  f"{self.settings.max_payload_bytes}",
                                  extra={"limit": self.settings.max_payload_bytes})
        record = {"id": event_id, "producer": principal.service_name,
                  "producer_id": principal.service_id, "topics": [t["name"] for t in topics],
                  "status": "pending", "seq": disciplines.next_seq(now),
                  "created_at": iso(now), "envelope": env,
                  "expires_at": int(now) + self.settings.idempotency_seconds}
        draft = Draft(record, env, chosen_id="id" in event)
        stored = self.pipeline.store(text)
        if stored != text:            # compressed: the record keeps the attributes, not the data
            record["envelope"] = {k: v for k, v in env.items() if k != "data"}
            record["stored_envelope"] = stored
        if sync:
            record["sync"] = True
            record["reply_by"] = now + self.settings.reply_seconds
        if event.get("callback"):
            record["callback"] = event["callback"]
            draft.callback_secret = event.get("callback_secret") or self.outcomes.new_secret()
            draft.secret_generated = "callback_secret" not in event
        return draft

    def _store(self, principal: Principal, topics: list[dict], draft: Draft,
               table: RoutingTable) -> dict:
        answer = self._stored(principal, topics, draft, table)
        if not answer.get("duplicate"):
            self.pipeline.after_publish(PublishContext(
                principal, topics, draft.envelope, draft.record,
                draft.record.get("subscriptions", 0)))
        return answer

    def _stored(self, principal: Principal, topics: list[dict], draft: Draft,
                table: RoutingTable) -> dict:
        record = draft.record
        plan = self.routing.plan(topics, draft.envelope, table)
        if record.get("sync") and not any(r.subscription.get("responder") for r in plan.routes):
            raise Conflict("a synchronous event needs a responder: no subscription flagged "
                           "\"responder\": true receives it", code="no-responder")
        self._record_routes(record, plan)
        if not (draft.chosen_id or record.get("sync") or record.get("callback")):
            return self._accept(record, draft.envelope, plan)
        try:
            self.docs.put(EVENTS, record["id"], record, create_only=True,
                          expires_at=record["expires_at"])
        except AlreadyExists:
            record = self._existing(principal, record["id"])
            if record["status"] != "pending":
                return self._accepted(record, duplicate=True)
        if record.get("callback"):      # before the fan-out: no outcome can come first
            self.outcomes.track(record, record["callback"], draft.callback_secret)
        return self._accept(record, draft.envelope, plan,
                            draft.callback_secret if draft.secret_generated else None)

    def _accept(self, record: dict, env: dict, plan, callback_secret: str | None = None) -> dict:
        """Fan out, then record the event as ``accepted``."""
        record["subscriptions"] = self._fan_out(record, env, plan)
        record["status"] = "accepted"
        record["accepted_at"] = iso(self.clock())
        self.docs.put(EVENTS, record["id"], record, expires_at=record["expires_at"])
        return self._accepted(record, callback_secret=callback_secret)

    @staticmethod
    def _accepted(record: dict, duplicate: bool = False, callback_secret=None) -> dict:
        answer = {"id": record["id"], "status": record["status"]}
        if duplicate:
            answer["duplicate"] = True
        if callback_secret:             # generated by the bus: the producer needs it
            answer["callback_secret"] = callback_secret
        return answer

    def _existing(self, principal: Principal, event_id: str) -> dict:
        record = self.docs.get(EVENTS, event_id)
        if record is None:          # expired between our write and this read
            raise Conflict("the event id was just released; retry", code="event-id-conflict")
        if record["producer_id"] != principal.service_id:
            raise Conflict(f"event id {event_id!r} is already used by another producer",
                           code="event-id-conflict")
        return record

    def _fan_out(self, record: dict, env: dict, plan) -> int:
        """One queue item per routed subscription."""
        priority = env.get("priority", 0)
        tracked = bool(record.get("sync") or record.get("callback"))
        enqueued_ms = int(self.clock() * 1000)
        payloads: dict[str | None, str] = {}
        for route in plan.routes:
            sub = route.subscription
            if route.topic not in payloads:   # as delivered through that topic (or none)
                delivered = env if route.topic is None else envelope.for_topic(env, route.topic)
                payloads[route.topic] = self.pipeline.store(
                    json.dumps(delivered, separators=(",", ":")))
            key = disciplines.sort_key(sub["discipline"], record["seq"], record["id"], priority,
                                       tracked=tracked)
            self.queues.push(sub["queue"], [StoredItem(
                key=key, id=record["id"], payload=payloads[route.topic], priority=priority,
                enqueued_at=enqueued_ms, visible_at=enqueued_ms)])
            if sub.get("mode") == "push":
                self.notify(sub["queue"])
        return len(plan.routes)

    @staticmethod
    def _record_routes(record: dict, plan) -> None:
        """The routes taken go into the record (capped: DynamoDB's item limit)."""
        record["routes"] = [route.record() for route in plan.routes[:MAX_RECORDED_ROUTES]]
        if len(plan.routes) > MAX_RECORDED_ROUTES:
            record["routes_not_recorded"] = len(plan.routes) - MAX_RECORDED_ROUTES
        responders = [r.subscription["id"] for r in plan.routes if r.subscription.get("responder")]
        if responders:
            record["responders"] = responders
        record["derived_topics"] = plan.derived_topics


def event_view(record: dict) -> dict:
    return {"id": record["id"], "status": record["status"], "producer": record["producer"],
            "topics": record["topics"], "subscriptions": record.get("subscriptions", 0),
            "created_at": record["created_at"], "accepted_at": record.get("accepted_at"),
            "routes": record.get("routes", []), "derived_topics": record.get("derived_topics", []),
            **({"routes_not_recorded": record["routes_not_recorded"]}
               if "routes_not_recorded" in record else {}),
            "event": full_envelope(record)}


def full_envelope(record: dict) -> dict:
    """The event's envelope, inflated when it is stored compressed."""
    if "stored_envelope" in record:
        return json.loads(inflate(record["stored_envelope"]))
    return record["envelope"]
