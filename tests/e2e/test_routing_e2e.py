"""Content-based routing over real HTTP: topic-less publish, a derived topic, explain."""
import uuid

import requests

from tests.e2e.client import call


def register(bus, name):
    status, service = call(bus, "POST", "/services", bus.admin_token, {"name": name})
    assert status == 201, service
    return service["token"]


def pull(bus, token, sub_id):
    status, pulled = call(bus, "POST", f"/subscriptions/{sub_id}/pull", token,
                          {"max_messages": 10, "wait_seconds": 2})
    assert status == 200, pulled
    return [message["event"] for message in pulled["messages"]]


def test_topicless_publish_reaches_filters_and_derived_topics_and_explain_agrees(live_bus):
    suffix = uuid.uuid4().hex[:6]
    shop = register(live_bus, f"e2e-shop-{suffix}")
    audit = register(live_bus, f"e2e-audit-{suffix}")
    big = f"e2e-big-{suffix}"
    pattern = {"source": [f"e2e-shop-{suffix}"], "data": {"total": [{"numeric": [">=", 100]}]}}
    status, topic = call(live_bus, "POST", "/topics", audit, {"name": big, "pattern": pattern})
    assert status == 201, topic
    status, on_big = call(live_bus, "POST", "/subscriptions", audit, {"topics": [big]})
    assert status == 201, on_big
    status, refunds = call(live_bus, "POST", "/subscriptions", audit,
                           {"topics": [], "filter": {"type": ["refund.issued"],
                                                     "source": [f"e2e-shop-{suffix}"]}})
    assert status == 201, refunds

    explain = {"event": {"type": "order.created", "data": {"total": 40}}}
    status, answer = call(live_bus, "POST", "/routing/explain", shop, explain)
    assert status == 200, answer
    assert answer["routes"] == [] and answer["derived_topics"] == []
    [miss] = [m for m in answer["near_misses"] if m.get("derived_topic") == big]
    assert miss["failed"]["path"] == "data.total"

    status, order = call(live_bus, "POST", "/events", shop,
                         {"type": "order.created", "data": {"total": 250}})
    assert status == 202, order
    status, refund = call(live_bus, "POST", "/events", shop,
                          {"type": "refund.issued", "data": {"total": 5}})
    assert status == 202, refund
    status, small = call(live_bus, "POST", "/events", shop,
                         {"type": "order.created", "data": {"total": 40}})
    assert status == 202, small

    [event] = pull(live_bus, audit, on_big["id"])
    assert event["id"] == order["id"] and event["topic"] == big
    [event] = pull(live_bus, audit, refunds["id"])
    assert event["id"] == refund["id"] and "topic" not in event

    status, record = call(live_bus, "GET", f"/events/{order['id']}", shop)
    assert status == 200, record
    assert record["topics"] == [] and record["derived_topics"] == [big]
    assert record["routes"] == [{"subscription": on_big["id"], "via": "derived-topic",
                                 "topic": big}]
    status, record = call(live_bus, "GET", f"/events/{small['id']}", shop)
    assert record["routes"] == [] and record["subscriptions"] == 0


def test_pattern_test_over_the_wire(live_bus):
    body = {"event": {"detail-type": "Order", "detail": {"state": "paid"}},
            "pattern": {"detail": {"state": [{"anything-but": "done"}]}}}
    assert call(live_bus, "POST", "/patterns/test", live_bus.admin_token, body) == \
        (200, {"match": True})
    response = requests.post(live_bus.url + "/patterns/test", timeout=10,
                             json={"event": {}, "pattern": {"a": [{"numeric": ["<", "x"]}]}},
                             headers={"Authorization": f"Bearer {live_bus.admin_token}"})
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "a[0].numeric[1]"
