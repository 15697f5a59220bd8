"""Producers publish with the CloudEvents SDK's own HTTP binding: structured,
batched and binary modes arrive as the same event, attributes kept."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from cloudevents.core.bindings.http import to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

FORMAT = JSONFormat()
OCCURRED = datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)


def cloud_event(**attributes) -> CloudEvent:
    data = attributes.pop("data", {"order": 42})
    return CloudEvent({"id": "ce-1", "source": "https://shop.example/orders", "type":
                       "order.created", "subject": "order/42", "time": OCCURRED,
                       "dataschema": "https://shop.example/schemas/order", "region": "eu",
                       **attributes}, data)


@pytest.fixture
def world(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "orders")
    sub = api.subscribe(billing["token"], ["orders"])
    return orders, billing, sub


def send(api, token, message, path="/topics/orders/events"):
    return api.call("POST", path, token, raw=message.body,
                    headers={"Content-Type": "application/json", **message.headers})


def pulled(api, billing, sub) -> list[dict]:
    reply = api.call("POST", f"/subscriptions/{sub['id']}/pull", billing["token"],
                     {"max_messages": 10})
    return [message["event"] for message in reply.body["messages"]]


def assert_kept(event: dict, producer: str) -> None:
    assert event["specversion"] == "1.0"
    assert (event["id"], event["type"], event["subject"]) == ("ce-1", "order.created", "order/42")
    assert event["data"] == {"order": 42}
    assert event["time"].startswith("2026-11-01T09:30:00")
    assert event["dataschema"] == "https://shop.example/schemas/order"
    assert event["region"] == "eu"                    # the producer's extension travels
    assert event["source"] == producer                # identity comes from the token
    assert event["topic"] == "orders"


def test_a_structured_cloudevent_is_published_with_its_attributes(api, world):
    orders, billing, sub = world
    reply = send(api, orders["token"], to_structured(cloud_event(), FORMAT))
    assert reply.status == 202, reply
    assert reply.body["id"] == "ce-1"
    [event] = pulled(api, billing, sub)
    assert_kept(event, orders["name"])


def test_a_binary_mode_cloudevent_is_published_with_its_attributes(api, world):
    orders, billing, sub = world
    message = to_binary(cloud_event(priority=7), FORMAT)
    assert message.headers["ce-specversion"] == "1.0"
    reply = send(api, orders["token"], message)
    assert reply.status == 202, reply
    [event] = pulled(api, billing, sub)
    assert_kept(event, orders["name"])
    assert event["priority"] == 7


def test_a_structured_cloudevent_sent_as_plain_json_is_read_as_one(api, world):
    orders, billing, sub = world
    body = json.loads(to_structured(cloud_event(), FORMAT).body)
    assert api.call("POST", "/topics/orders/events", orders["token"], body).status == 202
    assert_kept(pulled(api, billing, sub)[0], orders["name"])


def test_a_cloudevents_batch_is_published_in_order(api, world):
    orders, billing, sub = world
    batch = [json.loads(to_structured(cloud_event(id=f"ce-b{n}"), FORMAT).body) for n in range(3)]
    reply = api.call("POST", "/topics/orders/events", orders["token"], raw=json.dumps(batch),
                     headers={"Content-Type": "application/cloudevents-batch+json"})
    assert reply.status == 202, reply
    assert [e["id"] for e in reply.body["events"]] == ["ce-b0", "ce-b1", "ce-b2"]
    assert [e["id"] for e in pulled(api, billing, sub)] == ["ce-b0", "ce-b1", "ce-b2"]


def test_republishing_a_cloudevent_with_the_same_id_is_recognised(api, world):
    orders, billing, sub = world
    message = to_structured(cloud_event(), FORMAT)
    assert send(api, orders["token"], message).status == 202
    again = send(api, orders["token"], message)
    assert again.status == 202 and again.body["duplicate"] is True
    assert len(pulled(api, billing, sub)) == 1


def test_a_cloudevent_without_topics_is_routed_by_content(api, world):
    orders, billing, _ = world
    sub = api.subscribe(billing["token"], [], filter={"type": ["order.created"]})
    assert send(api, orders["token"], to_structured(cloud_event(), FORMAT), "/events").status \
        == 202
    [event] = pulled(api, billing, sub)
    assert event["id"] == "ce-1" and "topic" not in event


@pytest.mark.parametrize("case, message, field", [
    ("binary data", to_structured(cloud_event(data=b"\x00\x01"), FORMAT), "data_base64"),
    ("another spec version", None, "specversion"),
    ("a non-JSON content type", to_structured(
        cloud_event(datacontenttype="text/plain", data="hi"), FORMAT), "datacontenttype"),
    ("an extension the bus sets", to_structured(cloud_event(topic="payments"), FORMAT),
     "extensions.topic"),
    ("a time without a zone", None, "time"),
    ("an extension that is an object", None, "extensions.nested"),
    ("an extension name CloudEvents does not allow", None, "extensions.Bad_Name"),
])
def test_a_cloudevent_the_bus_cannot_carry_is_a_400_naming_the_attribute(api, world, case,
                                                                         message, field):
    orders, billing, sub = world
    if message is None:
        body = json.loads(to_structured(cloud_event(), FORMAT).body)
        body.update({"another spec version": {"specversion": "0.3"},
                     "a time without a zone": {"time": "2026-11-01T09:30:00"},
                     "an extension that is an object": {"nested": {"a": 1}},
                     "an extension name CloudEvents does not allow": {"Bad_Name": 1}}[case])
        reply = api.call("POST", "/topics/orders/events", orders["token"], raw=json.dumps(body),
                         headers={"Content-Type": "application/cloudevents+json"})
    else:
        reply = send(api, orders["token"], message)
    assert reply.status == 400, reply
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert field in {error["field"] for error in reply.body["errors"]}, reply.body
    assert pulled(api, billing, sub) == []


def test_a_binary_mode_event_missing_a_required_attribute_is_a_400(api, world):
    orders, _, _ = world
    reply = api.call("POST", "/topics/orders/events", orders["token"], {"order": 1},
                     headers={"ce-specversion": "1.0", "ce-type": "order.created"})
    assert reply.status == 400 and reply.body["code"] == "validation-failed", reply
    assert "id" in reply.body["detail"] and "source" in reply.body["detail"]


def test_binary_mode_data_must_be_json(api, world):
    orders, _, _ = world
    reply = api.call("POST", "/topics/orders/events", orders["token"], raw=b"plain words",
                     headers={"Content-Type": "text/plain", "ce-specversion": "1.0",
                              "ce-id": "x1", "ce-source": "s", "ce-type": "t"})
    assert reply.status == 415 and reply.body["code"] == "unsupported-media-type", reply


def test_the_json_form_takes_the_same_attributes(api, world):
    orders, billing, sub = world
    reply = api.call("POST", "/topics/orders/events", orders["token"], {
        "id": "ce-1", "type": "order.created", "subject": "order/42", "data": {"order": 42},
        "time": "2026-11-01T09:30:00Z", "dataschema": "https://shop.example/schemas/order",
        "extensions": {"region": "eu"}})
    assert reply.status == 202, reply
    assert_kept(pulled(api, billing, sub)[0], orders["name"])


def test_the_json_form_may_not_set_the_buss_own_extensions(api, world):
    orders, _, _ = world
    reply = api.call("POST", "/topics/orders/events", orders["token"], {
        "type": "order.created", "data": {}, "extensions": {"replyto": "https://evil.example/"}})
    assert reply.status == 400, reply
    assert reply.body["errors"] == [{"field": "extensions.replyto",
                                     "message": "reserved: the bus sets it"}]


def test_in_structured_mode_stray_ce_headers_are_ignored(api, world):
    orders, billing, sub = world
    message = to_structured(cloud_event(), FORMAT)
    reply = api.call("POST", "/topics/orders/events", orders["token"], raw=message.body,
                     headers={**message.headers, "ce-id": "from-a-header", "ce-type": "other"})
    assert reply.status == 202 and reply.body["id"] == "ce-1", reply
    assert_kept(pulled(api, billing, sub)[0], orders["name"])
