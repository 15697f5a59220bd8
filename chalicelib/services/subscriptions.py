"""Subscriptions (pull and push): each owns a queue that receives its topics' events.

A subscription's queue has its topics' discipline; every event published to
one of its topics becomes one item in that queue.  With a ``filter`` (an
event pattern) it receives only the events of its topics that match, and with
a filter and no topics, every published event that matches (routing.py).  Consumers lease items
(``pull``), then ``ack`` or ``nack`` them by receipt; an item not acked before
its visibility timeout is delivered again, and after ``max_deliveries`` it
moves to the dead letters.
"""
from __future__ import annotations

import json
import secrets
from typing import Callable

from chalicelib.config import Settings
from chalicelib.domain.routing import compile_pattern
from chalicelib.domain.timeutil import iso_now
from chalicelib.domain.validation import validate
from chalicelib.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.middleware import DeliveryContext, Pipeline
from chalicelib.services.auth import Principal
from chalicelib.services.leasing import lease_request, message_view, settled_view
from chalicelib.services.push import PushSubscriptions, public_view
from chalicelib.services.routing_table import RoutingTables
from chalicelib.services.topics import Topics
from chalicelib.services.tracking import Tracking
from chalicelib.storage.base import DocumentStore, Leased, QueueStore, decode_receipt

SUBSCRIPTIONS = "subscription"


def subscription_queue(subscription_id: str) -> str:
    return f"s.{subscription_id}"


class Subscriptions:
    def __init__(self, docs: DocumentStore, queues: QueueStore, topics: Topics,
                 settings: Settings, push: PushSubscriptions, routes: RoutingTables,
                 tracking: Tracking | None = None, pipeline: Pipeline | None = None) -> None:
        self.pipeline = pipeline or Pipeline([])
        self.docs = docs
        self.queues = queues
        self.topics = topics
        self.settings = settings
        self.push = push
        self.routes = routes
        self.tracking = tracking
        self.on_change: Callable[[str, dict], None] = lambda verb, subscription: None
        # system events: (subscription, topic, event id, reason) of a pull dead letter
        self.on_dead: Callable[[dict, str | None, str, str], None] = lambda *dead: None

    def create(self, principal: Principal, body: dict, base_url: str = "") -> dict:
        """Pull subscriptions are ready at once; push ones start ``pending``."""
        principal.require_service()
        body = validate("subscription_create", body)
        pattern = compile_pattern(body["filter"]).source if "filter" in body else None
        names = body.get("topics", [])
        if not names and pattern is None:
            message = "a subscription needs at least one topic, or a filter"
            raise ValidationFailed(message, extra={"errors": [{"field": "topics",
                                                               "message": message}]})
        topics = [self.topics.load(name) for name in names]
        for topic in topics:
            self.topics.check_subscriber(principal, topic)
        discipline = _discipline(topics, body.get("discipline"))
        push_fields = self.push.push_fields(body, topics, base_url)
        sub_id = "sub_" + secrets.token_hex(8)
        subscription = {
            "id": sub_id,
            "owner": principal.service_name,
            "owner_id": principal.service_id,
            "topics": names,
            "mode": body.get("mode", "pull"),
            "discipline": discipline,
            "max_deliveries": body.get("max_deliveries", self.settings.default_max_deliveries),
            "responder": bool(body.get("responder", False)),
            "queue": subscription_queue(sub_id),
            "created_at": iso_now(),
            **push_fields,
        }
        if pattern is not None:
            subscription["filter"] = pattern
        self.docs.put(SUBSCRIPTIONS, sub_id, subscription)
        for topic in topics:
            self.topics.add_subscriber(topic["name"], subscription)
        if pattern is not None:
            self.routes.add_subscription(subscription)
        if subscription["mode"] == "push":
            self.push.request_verification(subscription, "subscribe")
        else:
            self.on_change("activated", subscription)
        view = public_view(subscription)
        if subscription["mode"] == "push" and "secret" not in body:
            view["secret"] = subscription["secret"]      # generated: shown this once
        return view

    def list(self, principal: Principal) -> list[dict]:
        subs = sorted(self.docs.list(SUBSCRIPTIONS), key=lambda s: (s["created_at"], s["id"]))
        return [public_view(s) for s in subs           # oldest first
                if principal.is_admin or s["owner_id"] == principal.service_id]

    def get(self, principal: Principal, sub_id: str) -> dict:
        subscription = self._owned(principal, sub_id)
        size = self.queues.size(subscription["queue"])
        return {**public_view(subscription),
                "backlog": {"visible": size.visible, "in_flight_or_delayed": size.invisible}}

    def delete(self, principal: Principal, sub_id: str) -> None:
        self.remove(self._owned(principal, sub_id))

    def delete_for_service(self, service: dict) -> None:
        for subscription in self.docs.list(SUBSCRIPTIONS):
            if subscription["owner_id"] == service["id"]:
                self.remove(subscription)

    def remove(self, subscription: dict) -> None:
        self.unroute(subscription)
        self.docs.delete(SUBSCRIPTIONS, subscription["id"])
        self.queues.drop(subscription["queue"])
        self.on_change("removed", subscription)

    def unroute(self, subscription: dict) -> None:
        """Stop routing events to a subscription: its topics' indexes and its filter."""
        self.routes.remove_subscription(subscription)
        for topic in subscription["topics"]:
            self.topics.remove_subscriber(topic, subscription["id"])

    def pull(self, principal: Principal, sub_id: str, body: dict) -> dict:
        subscription = self._owned(principal, sub_id, owner_only=True)
        if subscription["mode"] != "pull":
            raise Conflict("this is a push subscription: the bus delivers its events to "
                           "the callback", code="not-a-pull-subscription")
        tracking, pipeline = self.tracking, self.pipeline

        def buried(dead: list[Leased]) -> None:
            for lease in dead:
                reason = f"dead-lettered after {lease.item.deliveries - 1} deliveries"
                if tracking:
                    tracking.safely(tracking.dead, subscription, lease.item.key, reason)
                topic = json.loads(pipeline.load(lease.item.payload)).get("topic")
                pipeline.after_deliver(DeliveryContext(subscription, lease.item.id, topic, None,
                                                       "", outcome="dead-lettered"))
                self.on_dead(subscription, topic, lease.item.id, reason)
        leased = lease_request(self.queues, subscription["queue"], body, self.settings,
                               subscription["max_deliveries"], on_dead=buried)
        if tracking and leased:
            tracking.safely(tracking.leased, subscription, [lease.item.key for lease in leased])
        messages, now_ms = [], self.queues.now_ms()
        for lease in leased:
            text = pipeline.load(lease.item.payload)
            event = json.loads(text)
            context = DeliveryContext(subscription, lease.item.id, event.get("topic"),
                                      event.get("producer"), text)
            pipeline.before_deliver(context)
            messages.append({"receipt": lease.receipt, "delivery_count": lease.item.deliveries,
                             "event": event})
            # handed to the consumer: a pull's delivery (its ack may come later, or never)
            context.outcome = "delivered"
            context.latency_ms = max(0, now_ms - (lease.item.enqueued_at or now_ms))
            pipeline.after_deliver(context)
        return {"messages": messages}

    def ack(self, principal: Principal, sub_id: str, body: dict) -> dict:
        subscription = self._owned(principal, sub_id, owner_only=True)
        body = validate("ack", body)
        settled = self.queues.ack(subscription["queue"], body["receipts"])
        if self.tracking:
            for receipt in settled.done:
                self.tracking.safely(self.tracking.delivered, subscription,
                                     decode_receipt(receipt).key, None)
        return settled_view(settled, "acked")

    def nack(self, principal: Principal, sub_id: str, body: dict) -> dict:
        subscription = self._owned(principal, sub_id, owner_only=True)
        body = validate("nack", body)
        return settled_view(self.queues.nack(subscription["queue"], body["receipts"],
                                             body.get("delay_seconds", 0)), "nacked")

    def extend(self, principal: Principal, sub_id: str, body: dict) -> dict:
        """Keep pulled messages leased longer (a consumer still working on them)."""
        subscription = self._owned(principal, sub_id, owner_only=True)
        body = validate("extend", body)
        return settled_view(self.queues.extend(subscription["queue"], body["receipts"],
                                               body["visibility_timeout"]), "extended")

    def dead_letters(self, principal: Principal, sub_id: str, limit: int = 100) -> dict:
        subscription = self._owned(principal, sub_id)
        items = self.queues.dead_letters(subscription["queue"], limit)
        letters = [message_view(i, "event") for i in items]
        if subscription["mode"] == "push" and letters:
            attempts = self.push.deliveries(subscription, 10_000, None)
            for letter in letters:
                letter["attempts"] = sorted((a for a in attempts if a["event_id"] == letter["id"]),
                                            key=lambda a: a["attempt"])
        return {"dead_letters": letters}

    def redrive(self, principal: Principal, sub_id: str, body: dict) -> dict:
        subscription = self._owned(principal, sub_id, owner_only=True)
        body = validate("redrive", body)
        moved = self.queues.redrive(subscription["queue"], body.get("limit", 100))
        self.push.on_enqueued(subscription["queue"])
        return {"redriven": moved}

    def deliveries(self, principal: Principal, sub_id: str, limit: int,
                   event_id: str | None) -> dict:
        subscription = self._push(principal, sub_id)
        return {"deliveries": self.push.deliveries(subscription, limit, event_id)}

    def pause(self, principal: Principal, sub_id: str) -> dict:
        subscription = self._push(principal, sub_id)
        who = "the admin" if principal.is_admin else principal.service_name
        return public_view(self.push.pause(subscription, f"paused by {who}"))

    def resume(self, principal: Principal, sub_id: str) -> dict:
        subscription = self._push(principal, sub_id)
        if subscription["status"] not in ("paused", "active"):
            raise Conflict(f"a {subscription['status']} subscription cannot be resumed",
                           code="not-resumable")
        return public_view(self.push.resume(subscription))

    def rotate_secret(self, principal: Principal, sub_id: str, body: dict) -> dict:
        """A new signing secret for a push subscription (its owner only), shown once."""
        subscription = self._owned(principal, sub_id, owner_only=True)
        if subscription["mode"] != "push":
            raise Conflict("only push subscriptions have a signing secret",
                           code="not-a-push-subscription")
        return self.push.rotate_secret(subscription, body)

    def _push(self, principal: Principal, sub_id: str) -> dict:
        subscription = self._owned(principal, sub_id)
        if subscription["mode"] != "push":
            raise Conflict("only push subscriptions have deliveries, pause and resume",
                           code="not-a-push-subscription")
        return subscription

    def load(self, sub_id: str) -> dict | None:
        return self.docs.get(SUBSCRIPTIONS, sub_id)

    def _owned(self, principal: Principal, sub_id: str, owner_only: bool = False) -> dict:
        subscription = self.docs.get(SUBSCRIPTIONS, sub_id)
        if subscription is None:
            raise NotFound(f"no subscription with id {sub_id!r}", code="subscription-not-found")
        if principal.service_id == subscription["owner_id"]:
            return subscription
        if principal.is_admin and not owner_only:
            return subscription
        raise Forbidden("only the subscribing service may use this subscription",
                        code="not-your-subscription")



def _discipline(topics: list[dict], requested: str | None) -> str:
    """The queue's discipline: its topics' (they must share one), else requested, else FIFO."""
    disciplines = {t["discipline"] for t in topics}
    if len(disciplines) > 1 or (requested and disciplines and requested not in disciplines):
        got = ", ".join(f"{t['name']}={t['discipline']}" for t in topics)
        raise Conflict("the topics of one subscription must share a discipline"
                       + (f" (and match the requested {requested})" if requested else "")
                       + f"; got {got}", code="discipline-mismatch")
    return requested or (disciplines.pop() if disciplines else "fifo")
