"""Dredd hooks for docs/api.apib: each transaction runs against the example world.

Before the run ``before_all`` builds the world the blueprint's examples describe
(tests/dredd/world.py); before each transaction ``prepare`` runs its setup from ``SETUPS``
(tests/dredd/setups.py) and swaps every example value in the request (path, headers, body)
for the live one.

Every transaction Dredd compiles must have an entry in ``SETUPS`` with the status code it
expects, and every entry a transaction: an example added, removed or moved in the blueprint
fails the run with a message naming it, instead of silently testing the wrong thing.

Dredd runs this file in its Python hooks worker (tests/dredd/worker.py); the bus's URL and
admin token come from ``TLKS_DREDD_URL`` and ``TLKS_DREDD_ADMIN_TOKEN``
(tests/e2e/test_api_blueprint.py sets them).
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
import traceback
from pathlib import Path
from typing import Callable
from urllib.parse import quote

import dredd_hooks as hooks

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))   # the repository: tests.*
from tests.dredd.setups import (  # noqa: E402
    answered_sync_event, answering_responder, async_event, dead_lettered_pull_sub,
    dead_lettered_push_sub, denied_push_sub, example_event, example_message, failing_responder,
    foreign_id, fresh_event_id, fresh_pull_sub, fresh_push_sub, fresh_queue, fresh_schedule,
    fresh_service, fresh_topic, invoice_event, logging_rules, nothing, published_id, push_callback, push_sub_in,
    queue_dead_letter, queue_receipt, queued_messages, receipts, results_callback,
    rotated_away_token, schema_topic, silent_responder, sync_event, unknown, websub_subscription,
)
from tests.dredd.world import ORDERS_ID, PULL_SUB, PUSH_SUB, World, build_world  # noqa: E402

SERVICES = "Services > Services > Register a service"
SERVICE = "Services > Service"
TOPICS = "Topics > Topics > Create a topic"
SCHEMAS = "Topics > Topic schemas > Replace a topic's event schemas"
PUBLISH = "Events > Topic events > Publish to a topic"
MULTICAST = "Events > Events > Publish to several topics, or to none"
EVENT = "Events > Event > Get an event's record"
REPLY = "Events > Event reply > Reply to a synchronous event"
SUBSCRIBE = "Subscriptions > Subscriptions > Subscribe"
SUBSCRIPTION = "Subscriptions > Subscription"
HUB = "Push delivery > WebSub hub > Subscribe or unsubscribe, the WebSub way"
SECRET = "Push delivery > Signing secret > Rotate a push subscription's signing secret"
QUEUES = "Queues > Queues > Create a queue"
SCHEDULES = "Schedules > Schedules > Create a schedule"
SCHEDULE = "Schedules > Schedule"
NO_SERVICE, NO_SUB = "svc_0000000000000000", "sub_0000000000000000"

# transaction name -> (the status it expects, its setup)
SETUPS: dict[str, tuple[int, Callable[[World], dict]]] = {
    "Health > Health > Check the storage backend": (200, nothing),
    "API description > OpenAPI document > Get the OpenAPI 3 document": (200, nothing),
    "API description > API reference > Read the API reference": (200, nothing),

    f"{SERVICES} > Example 1": (201, nothing),
    f"{SERVICES} > Example 2": (401, nothing),
    f"{SERVICES} > Example 3": (403, nothing),
    f"{SERVICES} > Example 4": (409, nothing),
    f"{SERVICES} > Example 5": (400, nothing),
    f"{SERVICES} > Example 6": (415, nothing),
    "Services > Services > List services": (200, nothing),
    f"{SERVICE} > Get a service > Example 1": (200, nothing),
    f"{SERVICE} > Get a service > Example 2": (404, unknown(ORDERS_ID, NO_SERVICE)),
    f"{SERVICE} > Update a service > Example 1": (200, nothing),
    f"{SERVICE} > Update a service > Example 2": (403, nothing),
    f"{SERVICE} > Update a service > Example 3": (400, nothing),
    f"{SERVICE} > Deregister a service > Example 1": (204, fresh_service),
    f"{SERVICE} > Deregister a service > Example 2": (403, nothing),
    "Services > Service token > Rotate a service's token > Example 1": (200, fresh_service),
    "Services > Service token > Rotate a service's token > Example 2": (401, nothing),
    "Services > Service token > Rotate a service's token > Example 3": (401, rotated_away_token),

    f"{TOPICS} > Example 1": (201, nothing),
    f"{TOPICS} > Example 2": (201, nothing),
    f"{TOPICS} > Example 3": (409, nothing),
    f"{TOPICS} > Example 4": (400, nothing),
    f"{TOPICS} > Example 5": (403, nothing),
    f"{TOPICS} > Example 6": (403, nothing),
    "Topics > Topics > List topics": (200, nothing),
    "Topics > Topic > Get a topic > Example 1": (200, nothing),
    "Topics > Topic > Get a topic > Example 2": (404, unknown("/topics/orders", "/topics/nope")),
    "Topics > Topic > Get a topic > Example 3": (401, nothing),     # WebSub discovery, no token
    "Topics > Topic > Delete a topic > Example 1": (204, fresh_topic),
    "Topics > Topic > Delete a topic > Example 2": (403, nothing),
    f"{SCHEMAS} > Example 1": (200, fresh_topic),
    f"{SCHEMAS} > Example 2": (400, nothing),
    f"{SCHEMAS} > Example 3": (403, nothing),

    f"{PUBLISH} > Example 1": (202, nothing),
    f"{PUBLISH} > Example 2": (202, fresh_event_id),
    f"{PUBLISH} > Example 3": (202, published_id),
    f"{PUBLISH} > Example 4": (409, foreign_id),
    f"{PUBLISH} > Example 5": (400, nothing),
    f"{PUBLISH} > Example 6": (404, unknown("/topics/orders/", "/topics/nope/")),
    f"{PUBLISH} > Example 7": (403, unknown("/topics/orders/", "/topics/invoices/")),
    f"{PUBLISH} > Example 8": (409, unknown("/topics/orders/", "/topics/big-orders/")),
    f"{PUBLISH} > Example 9": (200, answering_responder),
    f"{PUBLISH} > Example 10": (202, silent_responder),
    f"{PUBLISH} > Example 11": (409, nothing),     # orders' subscriptions are no responders
    f"{PUBLISH} > Example 12": (502, failing_responder),
    f"{PUBLISH} > Example 13": (202, results_callback),
    f"{PUBLISH} > Example 14": (422, schema_topic),
    f"{PUBLISH} > Example 15": (202, fresh_event_id),       # a structured CloudEvent
    f"{PUBLISH} > Example 16": (202, fresh_event_id),       # a binary-mode CloudEvent
    f"{MULTICAST} > Example 1": (202, nothing),
    f"{MULTICAST} > Example 2": (202, nothing),
    f"{MULTICAST} > Example 3": (400, nothing),
    f"{EVENT} > Example 1": (200, example_event),
    f"{EVENT} > Example 2": (404, nothing),     # the example id was never published
    f"{EVENT} > Example 3": (403, invoice_event),
    f"{EVENT} > Example 4": (200, answered_sync_event),
    f"{REPLY} > Example 1": (201, sync_event),
    f"{REPLY} > Example 2": (409, answered_sync_event),
    f"{REPLY} > Example 3": (403, sync_event),
    f"{REPLY} > Example 4": (409, async_event),

    f"{SUBSCRIBE} > Example 1": (201, nothing),
    f"{SUBSCRIBE} > Example 2": (201, nothing),
    f"{SUBSCRIBE} > Example 3": (202, push_callback("subscribe-example")),
    f"{SUBSCRIBE} > Example 4": (400, nothing),
    f"{SUBSCRIBE} > Example 5": (400, nothing),
    f"{SUBSCRIBE} > Example 6": (409, nothing),
    f"{SUBSCRIBE} > Example 7": (403, nothing),
    f"{SUBSCRIBE} > Example 8": (201, nothing),
    f"{SUBSCRIBE} > Example 9": (202, push_callback("generated-secret")),
    "Subscriptions > Subscriptions > List subscriptions": (200, nothing),
    f"{SUBSCRIPTION} > Get a subscription > Example 1": (200, nothing),
    f"{SUBSCRIPTION} > Get a subscription > Example 2": (404, unknown(PULL_SUB, NO_SUB)),
    f"{SUBSCRIPTION} > Delete a subscription > Example 1": (204, fresh_pull_sub),
    f"{SUBSCRIPTION} > Delete a subscription > Example 2": (403, nothing),
    "Subscriptions > Pull > Pull messages > Example 1": (200, example_message),
    "Subscriptions > Pull > Pull messages > Example 2": (409, lambda world: {
        PULL_SUB: world.push_sub}),
    "Subscriptions > Pull > Pull messages > Example 3": (403, nothing),
    "Subscriptions > Acknowledge > Acknowledge messages > Example 1": (200, receipts),
    "Subscriptions > Acknowledge > Acknowledge messages > Example 2": (400, nothing),
    "Subscriptions > Negative acknowledge > Return messages > Example 1": (200, receipts),
    "Subscriptions > Negative acknowledge > Return messages > Example 2": (400, nothing),
    "Subscriptions > Extend leases > Keep messages leased longer > Example 1": (200, receipts),
    "Subscriptions > Extend leases > Keep messages leased longer > Example 2": (400, nothing),
    "Subscriptions > Subscription dead letters > List a subscription's dead letters > Example 1":
        (200, dead_lettered_pull_sub),
    "Subscriptions > Subscription dead letters > List a subscription's dead letters > Example 2":
        (400, unknown("limit=10", "limit=5000")),

    f"{HUB} > Example 1": (202, push_callback("websub")),
    f"{HUB} > Example 2": (202, websub_subscription),
    f"{HUB} > Example 3": (400, nothing),
    f"{HUB} > Example 4": (202, push_callback("websub-generated-secret")),
    f"{HUB} > Example 5": (400, nothing),
    f"{SECRET} > Example 1": (200, fresh_push_sub),
    f"{SECRET} > Example 2": (409, lambda world: {PUSH_SUB: world.pull_sub}),
    "Push delivery > Delivery attempts > List delivery attempts > Example 1": (200, nothing),
    "Push delivery > Delivery attempts > List delivery attempts > Example 2": (409, lambda world: {
        PUSH_SUB: world.pull_sub}),
    "Push delivery > Redrive > Redrive dead letters > Example 1": (200, dead_lettered_push_sub),
    "Push delivery > Redrive > Redrive dead letters > Example 2": (403, nothing),
    "Push delivery > Pause > Pause deliveries > Example 1": (200, push_sub_in("active")),
    "Push delivery > Pause > Pause deliveries > Example 2": (409, lambda world: {
        PUSH_SUB: world.pull_sub}),
    "Push delivery > Resume > Resume deliveries > Example 1": (200, push_sub_in("paused")),
    "Push delivery > Resume > Resume deliveries > Example 2": (409, denied_push_sub),

    "Routing > Pattern test > Test an event pattern > Example 1": (200, nothing),
    "Routing > Pattern test > Test an event pattern > Example 2": (400, nothing),
    "Routing > Routing explanation > Explain where an event would go > Example 1": (200, nothing),
    "Routing > Routing explanation > Explain where an event would go > Example 2": (409, nothing),

    f"{QUEUES} > Example 1": (201, nothing),
    f"{QUEUES} > Example 2": (409, nothing),
    f"{QUEUES} > Example 3": (400, nothing),
    "Queues > Queues > List queues": (200, nothing),
    "Queues > Queue > Get a queue > Example 1": (200, queued_messages),
    "Queues > Queue > Get a queue > Example 2": (404, unknown("/queues/emails", "/queues/nope")),
    "Queues > Queue > Delete a queue > Example 1": (204, fresh_queue),
    "Queues > Queue > Delete a queue > Example 2": (403, nothing),
    "Queues > Queue messages > Push messages > Example 1": (201, nothing),
    "Queues > Queue messages > Push messages > Example 2": (201, nothing),
    "Queues > Queue messages > Push messages > Example 3": (400, nothing),
    "Queues > Queue messages > Peek at messages": (200, queued_messages),
    "Queues > Queue messages > Purge a queue > Example 1": (204, nothing),
    "Queues > Queue messages > Purge a queue > Example 2": (403, nothing),
    "Queues > Queue lease > Lease messages > Example 1": (200, queued_messages),
    "Queues > Queue lease > Lease messages > Example 2": (404, unknown("/queues/emails/",
                                                                      "/queues/nope/")),
    "Queues > Queue acknowledge > Acknowledge queue messages > Example 1": (200, queue_receipt),
    "Queues > Queue acknowledge > Acknowledge queue messages > Example 2": (400, nothing),
    "Queues > Queue negative acknowledge > Return queue messages > Example 1":
        (200, queue_receipt),
    "Queues > Queue negative acknowledge > Return queue messages > Example 2": (400, nothing),
    "Queues > Queue extend > Keep queue messages leased longer": (200, queue_receipt),
    "Queues > Queue dead letters > List a queue's dead letters > Example 1":
        (200, queue_dead_letter),
    "Queues > Queue dead letters > List a queue's dead letters > Example 2":
        (404, unknown("/queues/emails/", "/queues/nope/")),

    f"{SCHEDULES} > Example 1": (201, nothing),
    f"{SCHEDULES} > Example 2": (201, nothing),
    f"{SCHEDULES} > Example 3": (400, nothing),
    f"{SCHEDULES} > Example 4": (409, nothing),
    "Schedules > Schedules > List schedules": (200, nothing),
    f"{SCHEDULE} > Get a schedule > Example 1": (200, nothing),
    f"{SCHEDULE} > Get a schedule > Example 2": (404, unknown("/schedules/nightly-report",
                                                              "/schedules/nope")),
    f"{SCHEDULE} > Get a schedule > Example 3": (403, nothing),
    f"{SCHEDULE} > Change a schedule > Example 1": (200, nothing),
    f"{SCHEDULE} > Change a schedule > Example 2": (400, nothing),
    f"{SCHEDULE} > Delete a schedule > Example 1": (204, fresh_schedule),
    f"{SCHEDULE} > Delete a schedule > Example 2": (403, nothing),

    "Logging > Logging rules > Get the logging rules": (200, logging_rules),
    "Logging > Logging rules > Replace the logging rules > Example 1": (200, nothing),
    "Logging > Logging rules > Replace the logging rules > Example 2": (403, nothing),
    "Logging > Logging rules > Replace the logging rules > Example 3": (400, nothing),
}

_state: dict = {}


class _QuickAckReader:
    """Dredd writes each hook message and its newline in two writes: with Nagle's algorithm on
    its side and delayed ACKs on ours, every message waited ~40 ms for the newline.  Asking the
    kernel for immediate ACKs before each read removes the wait (Linux; elsewhere a no-op)."""

    def __init__(self, connection: socket.socket, rfile) -> None:
        self.connection, self.rfile = connection, rfile

    def readline(self, *args):
        with contextlib.suppress(AttributeError, OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        return self.rfile.readline(*args)


def _setup_with_quick_acks(handler, setup=hooks.dredd.HookHandler.setup) -> None:
    setup(handler)
    handler.rfile = _QuickAckReader(handler.connection, handler.rfile)


hooks.dredd.HookHandler.setup = _setup_with_quick_acks


def substitute(transaction: dict, values: dict[str, str]) -> None:
    """Replace example values by live ones in the request, in one pass (raw and URL-encoded)."""
    pairs = dict(values)
    pairs.update({quote(old, safe=""): quote(new, safe="") for old, new in values.items()})
    pattern = re.compile("|".join(map(re.escape, sorted(pairs, key=len, reverse=True))))

    def swap(text: str) -> str:
        return pattern.sub(lambda found: pairs[found.group(0)], text)

    request = transaction["request"]
    transaction["fullPath"] = swap(transaction["fullPath"])
    request["uri"] = swap(request["uri"])
    request["headers"] = {name: swap(value) for name, value in request["headers"].items()}
    body = swap(request.get("body") or "")
    if "x-www-form-urlencoded" in request["headers"].get("Content-Type", ""):
        body = body.rstrip("\n")      # a blueprint body ends with a newline; a form's must not
    request["body"] = body


@hooks.before_all
def create_world(transactions):
    names = {transaction["name"] for transaction in transactions}
    _state["stale"] = sorted(set(SETUPS) - names)
    try:
        _state["world"] = build_world(os.environ["TLKS_DREDD_URL"],
                                      os.environ["TLKS_DREDD_ADMIN_TOKEN"])
    except Exception:  # noqa: BLE001 - reported on every transaction, not as a dead worker
        _state["error"] = traceback.format_exc()


@hooks.before_each
def prepare(transaction):
    name = transaction["name"]
    if _state.get("error"):
        transaction["fail"] = f"building the example world failed:\n{_state['error']}"
        return
    if _state["stale"]:
        transaction["fail"] = ("tests/dredd/hooks.py SETUPS names transactions the blueprint no "
                               f"longer has (examples moved or renamed?): {_state['stale']}")
        return
    if name not in SETUPS:
        transaction["fail"] = f"no entry in tests/dredd/hooks.py SETUPS for {name!r}"
        return
    status, setup = SETUPS[name]
    if int(transaction["expected"]["statusCode"]) != status:
        transaction["fail"] = (f"SETUPS expects {status} from {name!r}, the blueprint "
                               f"{transaction['expected']['statusCode']}: examples reordered?")
        return
    world = _state["world"]
    try:
        values = {**world.base_values(), **setup(world)}
    except Exception:  # noqa: BLE001 - a broken setup fails its transaction only
        transaction["fail"] = f"setup {setup.__name__} failed:\n{traceback.format_exc()}"
        return
    substitute(transaction, values)


@hooks.after_all
def stop_subscriber(transactions):
    world = _state.get("world")
    if world is not None:
        world.subscriber.__exit__(None, None, None)
