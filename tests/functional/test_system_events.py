"""System events: the bus publishes its own changes on read-only ``bus.*`` topics."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chalicelib.bootstrap import build_bus
from chalicelib.config import Settings
from chalicelib.delivery.webhook import Outcome
from chalicelib.errors import Forbidden
from chalicelib.services.auth import ADMIN
from tests.functional.test_schedules import Clock


class FailingClient:
    """A webhook client whose endpoint answers 500 to every delivery."""

    def request(self, method, target, **kwargs):
        if method == "GET":           # verification: echo the challenge
            challenge = kwargs["path"].split("hub.challenge=")[1].split("&")[0]
            return Outcome(200, 1.0, challenge.encode())
        return Outcome(500, 1.0, b"down")


@pytest.fixture
def bus():
    clock = Clock(datetime(2026, 11, 1, tzinfo=timezone.utc))
    built = build_bus(Settings(storage="memory", admin_token="admin",
                               callback_allow="127.0.0.0/8", retry_base_seconds=1.0),
                      clock=clock)
    built.clock = clock
    return built


def service(bus, name):
    created = bus.services.register(ADMIN, {"name": name})
    return created, bus.auth.authenticate(f"Bearer {created['token']}")


def types(bus, me, sub):
    pulled = bus.subscriptions.pull(me, sub["id"], {"max_messages": 10})["messages"]
    bus.subscriptions.ack(me, sub["id"], {"receipts": [m["receipt"] for m in pulled]}) \
        if pulled else None
    return [(m["event"]["type"], m["event"]["data"]) for m in pulled]


def test_service_registration_and_deregistration_are_published(bus):
    _, watcher = service(bus, "watcher")           # its own registration creates bus.services
    sub = bus.subscriptions.create(watcher, {"topics": ["bus.services"]})
    created, _ = service(bus, "orders")
    bus.services.deregister(ADMIN, created["id"])
    assert types(bus, watcher, sub) == [
        ("bus.service.registered", {"id": created["id"], "name": "orders"}),
        ("bus.service.deregistered", {"id": created["id"], "name": "orders"})]


def test_topic_and_subscription_changes_are_published(bus):
    _, watcher = service(bus, "watcher")
    bus.topics.create(watcher, {"name": "first"})         # creates bus.topics
    bus.subscriptions.create(watcher, {"topics": ["first"]})   # creates bus.subscriptions
    topics = bus.subscriptions.create(watcher, {"topics": ["bus.topics"]})
    subs = bus.subscriptions.create(watcher, {"topics": ["bus.subscriptions"]})
    bus.topics.create(watcher, {"name": "orders", "discipline": "lifo"})
    created = bus.subscriptions.create(watcher, {"topics": ["orders"]})
    bus.subscriptions.delete(watcher, created["id"])
    bus.topics.delete(watcher, "orders")
    assert types(bus, watcher, topics) == [
        ("bus.topic.created", {"name": "orders", "owner": "watcher", "discipline": "lifo"}),
        ("bus.topic.deleted", {"name": "orders", "owner": "watcher", "discipline": "lifo"})]
    changes = [(t, d["id"]) for t, d in types(bus, watcher, subs)]
    assert changes[0][0] == "bus.subscription.activated"        # the watch on bus.topics
    assert changes[-2:] == [("bus.subscription.activated", created["id"]),
                            ("bus.subscription.removed", created["id"])]


def test_failed_deliveries_and_dead_letters_are_published(bus):
    bus.dispatcher.client = FailingClient()
    _, producer = service(bus, "producer")
    _, consumer = service(bus, "consumer")
    bus.topics.create(producer, {"name": "orders"})
    push = bus.subscriptions.create(consumer, {"topics": ["orders"], "mode": "push",
                                               "callback": "http://127.0.0.1:9/hook",
                                               "max_deliveries": 2})
    bus.dispatcher.run_verifications()
    event = bus.publisher.publish(producer, "orders", {"type": "t", "data": 1})
    bus.dispatcher.sweep()       # creates bus.deliveries with the first failure
    watch_sub = bus.subscriptions.create(consumer, {"topics": ["bus.deliveries"]})
    bus.clock.advance(seconds=5)
    bus.dispatcher.sweep()
    seen = types(bus, consumer, watch_sub)
    assert [t for t, _ in seen] == ["bus.delivery.failed", "bus.event.dead-lettered"]
    failed, dead = seen[0][1], seen[1][1]
    assert failed["subscription"] == push["id"] and failed["event_id"] == event["id"]
    assert failed["status"] == 500 and failed["attempt"] == 2
    assert dead["event_id"] == event["id"] and "500" in dead["reason"]


def test_a_failing_watcher_of_bus_deliveries_does_not_feed_on_itself(bus):
    bus.dispatcher.client = FailingClient()
    _, consumer = service(bus, "consumer")
    # make bus.deliveries exist, then watch it by push with a failing endpoint
    bus.topics.create(consumer, {"name": "orders"})
    bus.subscriptions.create(consumer, {"topics": ["orders"], "mode": "push",
                                        "callback": "http://127.0.0.1:9/a", "max_deliveries": 1})
    bus.dispatcher.run_verifications()
    bus.publisher.publish(consumer, "orders", {"type": "t", "data": 1})
    bus.dispatcher.sweep()
    watcher = bus.subscriptions.create(consumer, {"topics": ["bus.deliveries"], "mode": "push",
                                                  "callback": "http://127.0.0.1:9/b",
                                                  "max_deliveries": 3})
    bus.dispatcher.run_verifications()
    pull = bus.subscriptions.create(consumer, {"topics": ["bus.deliveries"]})
    bus.publisher.publish(consumer, "orders", {"type": "t", "data": 2})
    for _ in range(5):
        bus.clock.advance(seconds=5)
        bus.dispatcher.sweep()
    seen = [d["subscription"] for _, d in types(bus, consumer, pull)]
    assert watcher["id"] not in seen                 # its own failures are not re-published
    assert len(seen) == 2                            # the orders failure and dead letter


def test_schedule_fires_are_published(bus):
    _, owner = service(bus, "owner")
    bus.topics.create(owner, {"name": "ticks"})
    bus.schedules.create(owner, {"name": "hourly", "expression": "rate(1 hour)",
                                 "target": {"topic": "ticks", "type": "tick", "data": {}}})
    bus.clock.advance(hours=1)
    bus.schedules.fire_due()                         # creates bus.schedules
    sub = bus.subscriptions.create(owner, {"topics": ["bus.schedules"]})
    bus.clock.advance(hours=1)
    bus.schedules.fire_due()
    [(kind, data)] = types(bus, owner, sub)
    assert kind == "bus.schedule.fired" and data["schedule"] == "hourly"
    assert data["scheduled_time"] == "2026-11-01T02:00:00.000Z" and data["event_id"]


def test_content_filters_without_topics_do_not_receive_system_events(bus):
    _, me = service(bus, "me")
    everything = bus.subscriptions.create(me, {"filter": {"type": [{"exists": True}]}})
    service(bus, "other")
    bus.topics.create(me, {"name": "orders"})
    assert types(bus, me, everything) == []


def test_nobody_publishes_on_system_topics(bus):
    _, me = service(bus, "me")
    with pytest.raises(Forbidden) as refused:
        bus.publisher.publish(me, "bus.services", {"type": "bus.service.registered",
                                                   "data": {"id": "fake"}})
    assert refused.value.code == "not-a-publisher"


def test_system_topic_names_are_reserved_over_http(api):
    owner = api.register()
    reply = api.call("POST", "/topics", owner["token"], {"name": "bus.mine"})
    assert reply.status == 403 and reply.body["code"] == "reserved-topic"
    reply = api.call("POST", "/topics/bus.services/events", owner["token"],
                     {"type": "bus.service.registered", "data": {}})
    assert reply.status == 403 and reply.body["code"] == "not-a-publisher"


def test_pull_dead_letters_are_published_too(bus):
    _, producer = service(bus, "producer")
    _, consumer = service(bus, "consumer")
    bus.topics.create(producer, {"name": "orders"})
    pull = bus.subscriptions.create(consumer, {"topics": ["orders"], "max_deliveries": 1})
    event = bus.publisher.publish(producer, "orders", {"type": "t", "data": 1})
    bus.subscriptions.pull(consumer, pull["id"], {"visibility_timeout": 0})   # never acked
    bus.clock.advance(seconds=1)
    # the next pull finds it over max_deliveries: dead letter, and bus.deliveries is created
    assert bus.subscriptions.pull(consumer, pull["id"], {})["messages"] == []
    watch = bus.subscriptions.create(consumer, {"topics": ["bus.deliveries"]})
    bus.publisher.publish(producer, "orders", {"type": "t", "data": 2})
    bus.subscriptions.pull(consumer, pull["id"], {"visibility_timeout": 0})
    bus.clock.advance(seconds=1)
    bus.subscriptions.pull(consumer, pull["id"], {})
    [(kind, data)] = types(bus, consumer, watch)
    assert kind == "bus.event.dead-lettered" and data["subscription"] == pull["id"]
    assert data["event_id"] != event["id"]          # the second one (the watch came later)
