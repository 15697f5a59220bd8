"""What each docs/api.apib transaction needs beyond the example world.

A setup takes the ``World`` and returns example value -> live value overrides for one
transaction (on top of ``World.base_values``): a fresh resource for a request that consumes or
destroys one (a delete, a token rotation, a receipt, a dead letter), or a path pointing at
something that does not exist.  tests/dredd/hooks.py says which transaction runs which.
"""
from __future__ import annotations

import uuid
from typing import Callable

from tests.dredd.world import (
    CALLBACK, EVENT_ID, FOREIGN_ID, ORDERS_ID, ORDERS_TOKEN, PAID_ID, PULL_SUB, PUSH_SUB,
    QUEUE_RECEIPT, RECEIPT, RESULTS_CALLBACK, STALE_RECEIPT, WEBSUB_CALLBACK, World,
)

def nothing(world: World) -> dict:
    return {}


def unknown(example: str, live: str) -> Callable[[World], dict]:
    """Point the transaction at something that does not exist (or at something else)."""
    return lambda world: {example: live}


def fresh_service(world: World) -> dict:
    service = world.register(f"temp-{uuid.uuid4().hex[:8]}")
    world.call("PATCH", f"/services/{service['id']}", json={
        "description": "Order intake", "metadata": {"team": "checkout"}})
    return {ORDERS_ID: service["id"], ORDERS_TOKEN: service["token"]}


def rotated_away_token(world: World) -> dict:
    service = world.register(f"temp-{uuid.uuid4().hex[:8]}")
    world.call("POST", f"/services/{service['id']}/token")
    return {ORDERS_ID: service["id"], ORDERS_TOKEN: service["token"]}


def fresh_topic(world: World) -> dict:
    name = f"temp-{uuid.uuid4().hex[:8]}"
    world.call("POST", "/topics", "orders", json={"name": name}, expect=201)
    return {"/topics/orders": f"/topics/{name}"}


def fresh_event_id(world: World) -> dict:
    return {PAID_ID: f"ord-{uuid.uuid4().hex[:12]}"}


def published_id(world: World) -> dict:
    """An id orders already published, so that the request repeats it."""
    values = fresh_event_id(world)
    world.publish("orders", "orders", id=values[PAID_ID], type="order.paid",
                  data={"order_id": 1042})
    return values


def foreign_id(world: World) -> dict:
    event_id = f"inv-{uuid.uuid4().hex[:12]}"
    world.publish("billing", "invoices", id=event_id, type="invoice.issued", data={})
    return {FOREIGN_ID: event_id}


def example_event(world: World) -> dict:
    return {EVENT_ID: world.publish("orders", "orders", subject="eu-1042", priority=3)}


def invoice_event(world: World) -> dict:
    return {EVENT_ID: world.publish("billing", "invoices", type="invoice.issued",
                                    data={"invoice": "inv-2026-0042"})}


def push_callback(path: str) -> Callable[[World], dict]:
    return lambda world: {CALLBACK: f"{world.hook_base}/{path}",
                          WEBSUB_CALLBACK: f"{world.hook_base}/{path}"}


def fresh_pull_sub(world: World) -> dict:
    return {PULL_SUB: world.subscribe("billing", topics=["orders"])}


def fresh_push_sub(world: World) -> dict:
    """A push subscription of its own, so that rotating its secret touches no other example."""
    return {PUSH_SUB: world.subscribe("billing", 202, topics=["orders"], mode="push",
                                      callback=f"{world.hook_base}/rotating")}


def example_message(world: World) -> dict:
    """A pull subscription whose oldest message is the example event."""
    sub_id = world.subscribe("billing", topics=["orders"])
    world.publish("orders", "orders", subject="eu-1042", priority=3)
    return {PULL_SUB: sub_id}


def receipts(world: World) -> dict:
    """Two leased messages; the second already acked, so that its receipt is stale."""
    world.publish("orders", "orders")
    world.publish("orders", "orders")
    leased = world.call("POST", f"/subscriptions/{world.pull_sub}/pull", "billing",
                        json={"max_messages": 2, "visibility_timeout": 300})["messages"]
    assert len(leased) == 2, leased
    world.call("POST", f"/subscriptions/{world.pull_sub}/ack", "billing",
               json={"receipts": [leased[1]["receipt"]]})
    return {RECEIPT: leased[0]["receipt"], STALE_RECEIPT: leased[1]["receipt"]}


def dead_lettered_pull_sub(world: World) -> dict:
    """A pull subscription (max_deliveries 1) with one message in its dead letters."""
    sub_id = world.subscribe("billing", topics=["audit"], max_deliveries=1)
    world.publish("orders", "audit")
    for _ in range(2):                      # leased once, then buried on the next lease
        world.call("POST", f"/subscriptions/{sub_id}/pull", "billing",
                   json={"visibility_timeout": 0})
    world.wait_for("a dead letter", lambda: world.call(
        "GET", f"/subscriptions/{sub_id}/dead-letters", "billing")["dead_letters"])
    return {PULL_SUB: sub_id}


def dead_lettered_push_sub(world: World) -> dict:
    """A push subscription whose callback failed its only delivery (max_deliveries 1)."""
    sub_id = world.subscribe("billing", 202, topics=["audit"], mode="push", max_deliveries=1,
                             callback=f"{world.hook_base}/fail")
    world.wait_for("verification", lambda: world.status_of(sub_id) == "active")
    world.publish("orders", "audit")
    world.wait_for("a dead letter", lambda: world.call(
        "GET", f"/subscriptions/{sub_id}/dead-letters", "billing")["dead_letters"])
    return {PUSH_SUB: sub_id}


def websub_subscription(world: World) -> dict:
    """A push subscription to ``orders`` at its own callback, for hub.mode=unsubscribe."""
    callback = f"{world.hook_base}/unsubscribe-me"
    world.subscribe("billing", 202, topics=["orders"], mode="push", callback=callback)
    return {CALLBACK: callback}


def push_sub_in(status: str) -> Callable[[World], dict]:
    """The world's push subscription, paused or active (pause/resume are idempotent)."""
    def setup(world: World) -> dict:
        verb = "pause" if status == "paused" else "resume"
        world.call("POST", f"/subscriptions/{world.push_sub}/{verb}", "billing")
        return {}
    return setup


def denied_push_sub(world: World) -> dict:
    sub_id = world.subscribe("billing", 202, topics=["orders"], mode="push",
                             callback=f"{world.hook_base}/deny")
    world.wait_for("the callback to deny", lambda: world.status_of(sub_id) == "denied")
    return {PUSH_SUB: sub_id}


def responder_topic(world: World, callback: str | None = None, **fields) -> str:
    """A fresh topic of orders' with a billing responder (pull, or push to ``callback``)."""
    topic = f"temp-{uuid.uuid4().hex[:8]}"
    world.call("POST", "/topics", "orders", json={"name": topic}, expect=201)
    if callback is None:
        world.subscribe("billing", topics=[topic], responder=True, **fields)
        return topic
    sub_id = world.subscribe("billing", 202, topics=[topic], responder=True, mode="push",
                             callback=f"{world.hook_base}/{callback}", **fields)
    world.wait_for("verification", lambda: world.status_of(sub_id) == "active")
    return topic


def answering_responder(world: World) -> dict:
    return {"/topics/orders/": f"/topics/{responder_topic(world, 'responder')}/"}


def silent_responder(world: World) -> dict:
    return {"/topics/orders/": f"/topics/{responder_topic(world)}/"}


def failing_responder(world: World) -> dict:
    topic = responder_topic(world, "fail", max_deliveries=1)
    return {"/topics/orders/": f"/topics/{topic}/"}


def results_callback(world: World) -> dict:
    return {RESULTS_CALLBACK: f"{world.hook_base}/results"}


def sync_event(world: World) -> dict:
    """A synchronous event waiting for billing's (pull) reply."""
    topic = responder_topic(world)
    event_id = world.publish("orders", topic, headers={"Prefer": "wait=0"},
                             type="order.stock.check", data={"order_id": 1042, "sku": "A-1"})
    return {EVENT_ID: event_id}


def answered_sync_event(world: World) -> dict:
    values = sync_event(world)
    world.call("POST", f"/events/{values[EVENT_ID]}/reply", "billing", expect=201,
               json={"type": "order.stock.level", "data": {"sku": "A-1", "in_stock": 12}})
    return values


def async_event(world: World) -> dict:
    return {EVENT_ID: world.publish("orders", "orders")}


def fresh_schedule(world: World) -> dict:
    name = f"temp-{uuid.uuid4().hex[:8]}"
    world.call("POST", "/schedules", "orders", expect=201, json={
        "name": name, "expression": "rate(1 day)", "target": {"queue": "emails", "body": {}}})
    return {"/schedules/nightly-report": f"/schedules/{name}"}


def fresh_queue(world: World) -> dict:
    name = f"temp-{uuid.uuid4().hex[:8]}"
    world.call("POST", "/queues", "orders", json={"name": name}, expect=201)
    return {"/queues/emails": f"/queues/{name}"}


def queued_messages(world: World) -> dict:
    """``emails`` holding just the two example messages."""
    world.call("DELETE", "/queues/emails/messages", "orders", expect=204)
    world.call("POST", "/queues/emails/messages", "billing", expect=201, json={"messages": [
        {"body": "receipt 1042", "priority": 9},
        {"body": {"to": "ada@example.com", "template": "invoice"}, "priority": 5}]})
    return {}


def queue_receipt(world: World) -> dict:
    queued_messages(world)
    leased = world.call("POST", "/queues/emails/lease", "billing",
                        json={"visibility_timeout": 300})["messages"]
    return {QUEUE_RECEIPT: leased[0]["receipt"]}


def queue_dead_letter(world: World) -> dict:
    """``emails`` (max_deliveries 3) with a message leased 3 times, buried on the 4th."""
    world.call("DELETE", "/queues/emails/messages", "orders", expect=204)
    world.call("POST", "/queues/emails/messages", "billing", expect=201,
               json={"body": {"to": "ada@example.com", "template": "invoice"}, "priority": 5})
    for _ in range(4):
        world.call("POST", "/queues/emails/lease", "billing", json={"visibility_timeout": 0})
    world.wait_for("a dead letter", lambda: world.call(
        "GET", "/queues/emails/dead-letters", "billing")["dead_letters"])
    return {}


def schema_topic(world: World) -> dict:
    """A fresh topic of orders' whose order.created events need an integer id, a total >= 0."""
    values = fresh_topic(world)
    world.call("PUT", values["/topics/orders"] + "/schemas", "orders", json={"schemas": {
        "order.created": {"type": "object", "required": ["order_id", "total"], "properties": {
            "order_id": {"type": "integer"}, "total": {"type": "number", "minimum": 0}}}}})
    return values


def logging_rules(world: World) -> dict:
    world.call("PUT", "/logging", json={"rules": [
        {"topic": "orders", "level": "DEBUG", "payloads": "redact", "sample_rate": 0.1}]})
    return {}
