"""Topics, publishing and pull subscriptions, end to end through the API."""
import time

import pytest


def publish(api, token, topic, **event):
    event.setdefault("type", "order.created")
    event.setdefault("data", {})
    reply = api.call("POST", f"/topics/{topic}/events", token, event)
    assert reply.status == 202, reply
    return reply.body


def pull(api, token, sub_id, **options):
    reply = api.call("POST", f"/subscriptions/{sub_id}/pull", token, options)
    assert reply.status == 200, reply
    return reply.body["messages"]


def one_pulled(api, two_services, **options):
    """billing's subscription to ``t`` and the one event orders published there, pulled."""
    orders, billing = two_services
    api.topic(orders["token"], "t")
    sub = api.subscribe(billing["token"], ["t"])
    publish(api, orders["token"], "t")
    [message] = pull(api, billing["token"], sub["id"], **options)
    return billing, sub, message


def test_published_event_is_pulled_as_a_cloudevent_and_acked(api, two_services):
    orders, billing = two_services
    topic = api.topic(orders["token"], "orders")
    sub = api.subscribe(billing["token"], ["orders"])
    published = publish(api, orders["token"], "orders", data={"order": 1}, subject="o-1")
    [message] = pull(api, billing["token"], sub["id"])
    event = message["event"]
    assert event["specversion"] == "1.0" and event["id"] == published["id"]
    assert (event["source"], event["type"], event["subject"]) == ("orders", "order.created", "o-1")
    assert event["data"] == {"order": 1} and event["topic"] == topic["name"]
    assert event["datacontenttype"] == "application/json" and event["time"].endswith("Z")
    assert message["delivery_count"] == 1
    acked = api.call("POST", f"/subscriptions/{sub['id']}/ack", billing["token"],
                     {"receipts": [message["receipt"]]})
    assert acked.body == {"acked": [message["receipt"]], "stale": []}
    assert pull(api, billing["token"], sub["id"]) == []


@pytest.mark.parametrize("discipline, priorities, expected", [
    ("fifo", [0, 0, 0, 0], [0, 1, 2, 3]),
    ("lifo", [0, 0, 0, 0], [3, 2, 1, 0]),
    ("priority", [1, 5, 5, 9], [3, 1, 2, 0]),
])
def test_subscription_queue_follows_topic_discipline(api, two_services, discipline, priorities,
                                                     expected):
    orders, billing = two_services
    api.topic(orders["token"], "t", discipline=discipline)
    sub = api.subscribe(billing["token"], ["t"])
    for n, priority in enumerate(priorities):
        publish(api, orders["token"], "t", data={"n": n}, priority=priority)
    messages = pull(api, billing["token"], sub["id"], max_messages=10)
    assert [m["event"]["data"]["n"] for m in messages] == expected


def test_batch_publish_accepts_up_to_100_events_in_one_call(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "t")
    sub = api.subscribe(billing["token"], ["t"])
    reply = api.call("POST", "/topics/t/events", orders["token"],
                     {"events": [{"type": "x", "data": n} for n in range(12)]})
    assert reply.status == 202 and len(reply.body["events"]) == 12
    got = pull(api, billing["token"], sub["id"], max_messages=10) \
        + pull(api, billing["token"], sub["id"], max_messages=10)
    assert [m["event"]["data"] for m in got] == list(range(12))


def test_multicast_reaches_each_subscription_once(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "a")
    api.topic(orders["token"], "b")
    both = api.subscribe(billing["token"], ["a", "b"])
    only_b = api.subscribe(billing["token"], ["b"])
    reply = api.call("POST", "/events", orders["token"],
                     {"topics": ["a", "b"], "type": "x", "data": 1})
    assert reply.status == 202
    assert len(pull(api, billing["token"], both["id"], max_messages=10)) == 1
    [message] = pull(api, billing["token"], only_b["id"], max_messages=10)
    assert message["event"]["topic"] == "b"


def test_client_supplied_id_makes_publish_idempotent(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "t")
    sub = api.subscribe(billing["token"], ["t"])
    first = publish(api, orders["token"], "t", id="order-42")
    again = publish(api, orders["token"], "t", id="order-42")
    assert first == {"id": "order-42", "status": "accepted"}
    assert again["duplicate"] is True
    assert len(pull(api, billing["token"], sub["id"], max_messages=10)) == 1


def test_another_producer_cannot_reuse_an_event_id(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "t")
    publish(api, orders["token"], "t", id="shared")
    reply = api.call("POST", "/topics/t/events", billing["token"],
                     {"id": "shared", "type": "x", "data": 1})
    assert (reply.status, reply.body["code"]) == (409, "event-id-conflict")


def test_event_status_is_readable_by_its_producer(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "t")
    api.subscribe(billing["token"], ["t"])
    published = publish(api, orders["token"], "t", data={"k": "v"})
    reply = api.call("GET", f"/events/{published['id']}", orders["token"])
    assert reply.status == 200
    assert reply.body["status"] == "accepted" and reply.body["subscriptions"] == 1
    assert reply.body["event"]["data"] == {"k": "v"}


def test_unacked_event_comes_back_after_visibility_timeout(api, two_services):
    billing, sub, first = one_pulled(api, two_services, visibility_timeout=0)
    [again] = pull(api, billing["token"], sub["id"], visibility_timeout=30)
    assert again["delivery_count"] == 2 and again["event"]["id"] == first["event"]["id"]
    stale = api.call("POST", f"/subscriptions/{sub['id']}/ack", billing["token"],
                     {"receipts": [first["receipt"]]})
    assert stale.body == {"acked": [], "stale": [first["receipt"]]}


def test_a_consumer_still_working_extends_its_lease_and_keeps_its_receipt(api, two_services):
    billing, sub, message = one_pulled(api, two_services, visibility_timeout=1)
    extended = api.call("POST", f"/subscriptions/{sub['id']}/extend", billing["token"],
                        {"receipts": [message["receipt"]], "visibility_timeout": 60})
    assert extended.body == {"extended": [message["receipt"]], "stale": []}
    time.sleep(1.2)                           # the first lease would have run out by now
    assert pull(api, billing["token"], sub["id"]) == []
    acked = api.call("POST", f"/subscriptions/{sub['id']}/ack", billing["token"],
                     {"receipts": [message["receipt"]]})
    assert acked.body == {"acked": [message["receipt"]], "stale": []}


def test_only_the_subscriber_extends_and_only_with_a_timeout(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "t")
    sub = api.subscribe(billing["token"], ["t"])
    path = f"/subscriptions/{sub['id']}/extend"
    assert api.call("POST", path, orders["token"], {"receipts": ["x" * 20],
                                                     "visibility_timeout": 5}).status == 403
    missing = api.call("POST", path, billing["token"], {"receipts": ["x" * 20]})
    assert missing.status == 400 and missing.body["code"] == "validation-failed"
    too_long = api.call("POST", path, billing["token"], {"receipts": ["x" * 20],
                                                         "visibility_timeout": 43201})
    assert too_long.status == 400


def test_event_moves_to_dead_letters_after_max_deliveries(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "t")
    sub = api.subscribe(billing["token"], ["t"], max_deliveries=2)
    publish(api, orders["token"], "t", data="poison")
    for _ in range(2):
        [message] = pull(api, billing["token"], sub["id"])
        api.call("POST", f"/subscriptions/{sub['id']}/nack", billing["token"],
                 {"receipts": [message["receipt"]]})
    assert pull(api, billing["token"], sub["id"]) == []
    dead = api.call("GET", f"/subscriptions/{sub['id']}/dead-letters", billing["token"])
    [letter] = dead.body["dead_letters"]
    assert letter["event"]["data"] == "poison"


def test_long_poll_returns_as_soon_as_nothing_arrives_within_wait(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "t")
    sub = api.subscribe(billing["token"], ["t"])
    assert pull(api, billing["token"], sub["id"], wait_seconds=1) == []


def test_publisher_and_subscriber_lists_restrict_access(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "private", publishers=["orders"], subscribers=["orders"])
    denied_pub = api.call("POST", "/topics/private/events", billing["token"],
                          {"type": "x", "data": 1})
    assert (denied_pub.status, denied_pub.body["code"]) == (403, "not-a-publisher")
    denied_sub = api.call("POST", "/subscriptions", billing["token"], {"topics": ["private"]})
    assert (denied_sub.status, denied_sub.body["code"]) == (403, "not-a-subscriber")


def test_only_the_subscriber_may_pull(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "t")
    sub = api.subscribe(billing["token"], ["t"])
    reply = api.call("POST", f"/subscriptions/{sub['id']}/pull", orders["token"], {})
    assert (reply.status, reply.body["code"]) == (403, "not-your-subscription")


def test_topic_owner_or_admin_deletes_a_topic(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "t")
    assert api.call("DELETE", "/topics/t", billing["token"]).status == 403
    assert api.call("DELETE", "/topics/t", orders["token"]).status == 204
    assert api.call("GET", "/topics/t", orders["token"]).status == 404
