"""The world docs/api.apib's examples describe, built on a live bus for Dredd's hooks.

The blueprint's examples use fixed tokens, ids and receipts (its introduction lists them) so
that they read as one story; ``build_world`` creates that story on the bus under test (the
services ``orders`` and ``billing``, their topics, queue, schedule and subscriptions, and a
WebSub subscriber on 127.0.0.1), and ``World.base_values`` maps each example value to the live
one.  It assumes a fresh bus: names such as ``orders`` must be free.
"""
from __future__ import annotations

import json
import time
from typing import Callable

import requests

from tests.support.subscriber import Received, Subscriber, confirm_challenge

# ---- the example values of docs/api.apib (its introduction lists them)
ADMIN_TOKEN = "adm-7Hq2xW9bLr4ZkP1c"
ORDERS_TOKEN = "tlks_o3Wk8vQ2mZ7xR1nB5cT9yH4jL6fD0gA2sE8uPq4Vw1"
BILLING_TOKEN = "tlks_b7Hn2kX9pL4vR8mQ1cZ6tW3yF5jD0gS2aE9uNq7Kx3"
ORDERS_ID = "svc_5f1c2a9e8b7d4c3a"
BILLING_ID = "svc_9a8b7c6d5e4f3a21"
PULL_SUB = "sub_3b9f2c7a1e5d8f60"
PUSH_SUB = "sub_7d41e0c9a2b85f36"
EVENT_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
RECEIPT = "MDE3OTU4MjY2NTczMzYzNTAwMDAuNWU4NjZiNmJhYmJjHzQ4YjY3MmRkNTQyYTE0NDc"
STALE_RECEIPT = "MDE3OTU4MjY2NTczNjU5NjIwMDEuNTMzZWI2M2I3MGM5HzI2NTk1NWE2MDU0NGI2M2E"
QUEUE_RECEIPT = "MDAxNzk1ODI2NjY2NDUwNjg2MDA4LmJlMWQxNTAxY2Y1ZB8wOGRhMmU3NDM5OTAwY2Nh"
CALLBACK = "https://billing.example.com/hooks/orders"
WEBSUB_CALLBACK = "https://billing.example.com/hooks/websub"
BUS = "https://bus.example.com"
PAID_ID = "ord-1042-paid"             # a producer-chosen event id
FOREIGN_ID = "inv-2026-0042"          # an event id billing used first
RESULTS_CALLBACK = "https://orders.example.com/hooks/results"
QUOTE = {"price": 1250, "currency": "EUR"}   # what the push responder answers

WAIT_SECONDS = 10.0          # for the bus to verify, deliver, dead-letter


class World:
    """The live bus and what before_all created on it."""

    def __init__(self, url: str, admin: str) -> None:
        self.url = url.rstrip("/")
        self.admin = admin
        self.http = requests.Session()
        self.tokens: dict[str, str] = {}      # service name -> live token
        self.ids: dict[str, str] = {}         # service name -> live id
        self.subscriber = Subscriber(_subscriber_behaviour).__enter__()
        self.hook_base = self.subscriber.url.rsplit("/", 1)[0]
        self.pull_sub = self.push_sub = ""

    def call(self, method: str, path: str, who: str = "admin", *, expect: int = 200,
             **kwargs) -> dict:
        """One request as ``who`` (``admin`` or a service name); its JSON answer."""
        token = self.admin if who == "admin" else self.tokens[who]
        headers = {"Authorization": f"Bearer {token}", **(kwargs.pop("headers", None) or {})}
        reply = self.http.request(method, self.url + path, timeout=30, headers=headers, **kwargs)
        if reply.status_code != expect:
            raise AssertionError(f"setup: {method} {path} as {who} answered "
                                 f"{reply.status_code}, not {expect}: {reply.text[:300]}")
        return reply.json() if reply.content else {}

    def register(self, name: str) -> dict:
        service = self.call("POST", "/services", json={"name": name}, expect=201)
        self.tokens[name], self.ids[name] = service["token"], service["id"]
        return service

    def publish(self, who: str, topic: str, headers: dict | None = None, **event) -> str:
        event.setdefault("type", "order.created")
        event.setdefault("data", {"order_id": 1042, "total": 1250})
        return self.call("POST", f"/topics/{topic}/events", who, json=event, expect=202,
                         headers=headers)["id"]

    def subscribe(self, who: str, expect: int = 201, **body) -> str:
        return self.call("POST", "/subscriptions", who, json=body, expect=expect)["id"]

    def wait_for(self, what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"setup: waited {WAIT_SECONDS}s for {what}")
            time.sleep(0.05)

    def status_of(self, sub_id: str) -> str:
        return self.call("GET", f"/subscriptions/{sub_id}", "billing")["status"]

    def base_values(self) -> dict[str, str]:
        """Example value -> live value, for every transaction."""
        return {ADMIN_TOKEN: self.admin, ORDERS_TOKEN: self.tokens["orders"],
                BILLING_TOKEN: self.tokens["billing"], ORDERS_ID: self.ids["orders"],
                BILLING_ID: self.ids["billing"], PULL_SUB: self.pull_sub,
                PUSH_SUB: self.push_sub, CALLBACK: self.subscriber.url, BUS: self.url}


def _subscriber_behaviour(request: Received):
    """Confirm challenges (except at .../deny); answer deliveries 500 at .../fail and a
    quote at .../responder (a push responder's reply is its 2xx body)."""
    if request.path.endswith("/deny"):
        return 404, b"no such subscription here", {}
    if request.method == "POST" and request.path.endswith("/fail"):
        return 500, b"the printer is on fire", {}
    if request.method == "POST" and request.path.endswith("/responder"):
        return 200, json.dumps(QUOTE).encode(), {"Content-Type": "application/json"}
    return confirm_challenge(request)


def build_world(url: str, admin_token: str) -> World:
    """The example world on the bus at ``url``."""
    world = World(url, admin_token)
    world.register("orders")
    world.register("billing")
    world.call("PATCH", f"/services/{world.ids['orders']}", "orders",
               json={"description": "Order intake", "metadata": {"team": "checkout"}})
    for body in ({"name": "orders", "discipline": "fifo",
                  "description": "Orders as they are placed"},
                 {"name": "audit"},
                 {"name": "big-orders", "description": "Orders of 1,000 or more",
                  "pattern": {"data": {"total": [{"numeric": [">=", 1000]}]}}}):
        world.call("POST", "/topics", "orders", json=body, expect=201)
    world.call("POST", "/topics", "billing", expect=201, json={
        "name": "invoices", "publishers": ["billing"], "subscribers": ["billing"]})
    world.call("POST", "/queues", "orders", expect=201, json={
        "name": "emails", "discipline": "priority", "description": "Outgoing mail",
        "max_deliveries": 3})
    world.call("POST", "/schedules", "orders", expect=201, json={
        "name": "nightly-report", "expression": "cron(0 2 * * ? *)", "timezone": "Europe/Paris",
        "description": "Yesterday's orders",
        "target": {"topic": "orders", "type": "report.due", "data": {"kind": "daily"}}})
    world.pull_sub = world.subscribe("billing", topics=["orders"], max_deliveries=5)
    world.push_sub = world.subscribe("billing", 202, topics=["orders"], mode="push",
                                     callback=world.subscriber.url, secret="whsec-example",
                                     max_deliveries=8, lease_seconds=864000)
    world.wait_for("the push subscription to be active",
                   lambda: world.status_of(world.push_sub) == "active")
    world.publish("orders", "orders")
    world.wait_for("a delivery attempt", lambda: world.call(
        "GET", f"/subscriptions/{world.push_sub}/deliveries", "billing")["deliveries"])
    return world
