"""Content-based routing through the API: filters, topic-less publish, derived topics, explain."""
import json
import time

import pytest

from chalicelib.bootstrap import build_bus, get_bus
from chalicelib.config import Settings
from chalicelib.services.auth import Principal
from tests.functional.conftest import ADMIN
from tests.functional.test_push import dispatch, hub, push_subscribe  # noqa: F401 - fixture
from tests.support.subscriber import Subscriber

BIG_ORDERS = {"type": ["order.created"], "data": {"total": [{"numeric": [">", 100]}]}}


def publish(api, token, topic=None, **event):
    event.setdefault("type", "order.created")
    event.setdefault("data", {})
    path = f"/topics/{topic}/events" if topic else "/events"
    reply = api.call("POST", path, token, event)
    assert reply.status == 202, reply
    return reply.body["id"]


def pull(api, token, sub_id):
    reply = api.call("POST", f"/subscriptions/{sub_id}/pull", token, {"max_messages": 10})
    assert reply.status == 200, reply
    return [m["event"] for m in reply.body["messages"]]


def subscribe(api, token, topics=(), **fields):
    reply = api.call("POST", "/subscriptions", token, {"topics": list(topics), **fields})
    assert reply.status == 201, reply
    return reply.body


def derived_topic(api, token, name, pattern, **fields):
    reply = api.call("POST", "/topics", token, {"name": name, "pattern": pattern, **fields})
    assert reply.status == 201, reply
    return reply.body


def event_record(api, token, event_id):
    reply = api.call("GET", f"/events/{event_id}", token)
    assert reply.status == 200, reply
    return reply.body


# ---------------------------------------------------------------- subscription filters

def test_filtered_subscription_gets_only_the_matching_events_of_its_topics(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "orders")
    api.topic(orders["token"], "other")
    sub = subscribe(api, billing["token"], ["orders"], filter=BIG_ORDERS)
    assert sub["filter"] == BIG_ORDERS
    publish(api, orders["token"], "orders", data={"total": 50})
    big = publish(api, orders["token"], "orders", data={"total": 500})
    publish(api, orders["token"], "other", data={"total": 900})
    publish(api, orders["token"], data={"total": 900})            # topic-less
    [event] = pull(api, billing["token"], sub["id"])
    assert event["id"] == big and event["topic"] == "orders"
    assert event_record(api, orders["token"], big)["routes"] == [
        {"subscription": sub["id"], "via": "filter", "topic": "orders"}]


def test_filter_without_topics_gets_matching_events_from_any_topic_or_none(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "orders")
    api.topic(orders["token"], "refunds")
    sub = subscribe(api, billing["token"], filter=BIG_ORDERS)
    assert sub["topics"] == [] and sub["discipline"] == "fifo"
    first = publish(api, orders["token"], "orders", data={"total": 101})
    second = publish(api, orders["token"], "refunds", data={"total": 102})
    third = publish(api, orders["token"], data={"total": 103})
    publish(api, orders["token"], "orders", data={"total": 1})
    events = pull(api, billing["token"], sub["id"])
    assert [e["id"] for e in events] == [first, second, third]
    assert [e.get("topic") for e in events] == ["orders", "refunds", None]
    assert event_record(api, orders["token"], third)["routes"] == [
        {"subscription": sub["id"], "via": "filter"}]


def test_filter_sees_every_published_topic_as_topic(api, two_services):
    orders, billing = two_services
    for name in ("a", "b"):
        api.topic(orders["token"], name)
    sub = subscribe(api, billing["token"], filter={"topic": ["b"]})
    event_id = publish(api, orders["token"], topics=["a", "b"])
    publish(api, orders["token"], "a")
    [event] = pull(api, billing["token"], sub["id"])
    assert event["id"] == event_id


def test_topicless_subscription_may_choose_its_discipline(api, two_services):
    orders, billing = two_services
    sub = subscribe(api, billing["token"], filter={"type": ["job"]}, discipline="priority")
    for priority in (1, 9, 5):
        publish(api, orders["token"], type="job", data=priority, priority=priority)
    assert [e["data"] for e in pull(api, billing["token"], sub["id"])] == [9, 5, 1]


def test_requested_discipline_must_agree_with_the_topics(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "orders")
    reply = api.call("POST", "/subscriptions", billing["token"],
                     {"topics": ["orders"], "discipline": "lifo"})
    assert (reply.status, reply.body["code"]) == (409, "discipline-mismatch")


def test_a_subscription_needs_topics_or_a_filter(api, two_services):
    _, billing = two_services
    for body in ({}, {"topics": []}):
        reply = api.call("POST", "/subscriptions", billing["token"], body)
        assert (reply.status, reply.body["code"]) == (400, "validation-failed"), body
        assert reply.body["errors"][0]["field"] == "topics"


@pytest.mark.parametrize("bad_filter, field", [
    ({"data": {"total": [{"numeric": [">", "ten"]}]}}, "data.total[0].numeric[1]"),
    ({"type": "order.created"}, "type"),
    ({"subject": [{"regex": "(a"}]}, "subject[0].regex"),
    ({"subject": [{"regex": "(?=look-ahead)"}]}, "subject[0].regex"),
    ({"a": [{"wildcard": "*:*:*:*:*:*:*:*"}]}, "a"),
    ({"data": {"x": ["v" * 5000]}}, ""),
    ([{"type": ["x"]}], ""),
    ("not json", ""),
    (42, ""),
    ({}, ""),
])
def test_invalid_filter_is_a_400_naming_the_offending_path(api, two_services, bad_filter, field):
    orders, billing = two_services
    api.topic(orders["token"], "orders")
    reply = api.call("POST", "/subscriptions", billing["token"],
                     {"topics": ["orders"], "filter": bad_filter})
    assert (reply.status, reply.body["code"]) == (400, "invalid-pattern"), reply
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.body["errors"][0]["field"] == field
    assert api.call("GET", "/subscriptions", billing["token"]).body["subscriptions"] == []


def test_filters_do_not_bypass_a_topics_subscribers_list(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "private", subscribers=["orders"])
    sneaky = subscribe(api, billing["token"], filter={"type": [{"exists": True}]})
    allowed = subscribe(api, orders["token"], filter={"type": [{"exists": True}]})
    event_id = publish(api, orders["token"], "private")
    assert pull(api, billing["token"], sneaky["id"]) == []
    assert [e["id"] for e in pull(api, orders["token"], allowed["id"])] == [event_id]


def test_deleting_a_filtered_subscription_stops_its_routing(api, two_services):
    orders, billing = two_services
    sub = subscribe(api, billing["token"], filter={"type": ["x"]})
    publish(api, orders["token"], type="x")
    assert api.call("DELETE", f"/subscriptions/{sub['id']}", billing["token"]).status == 204
    event_id = publish(api, orders["token"], type="x")
    assert event_record(api, orders["token"], event_id)["routes"] == []


def test_push_subscription_with_a_filter_is_sent_only_matching_events(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber() as subscriber:
        push_subscribe(hub, billing["token"], ["orders"], subscriber.url, filter=BIG_ORDERS)
        get_bus().dispatcher.run_verifications()
        publish(hub, orders["token"], "orders", data={"total": 5})
        big = publish(hub, orders["token"], "orders", data={"total": 500})
        dispatch()
        assert [json.loads(post.body)["id"] for post in subscriber.posts()] == [big]


def test_topicless_push_subscription_is_accepted_with_its_filter(hub, two_services):
    _, billing = two_services
    reply = hub.call("POST", "/subscriptions", billing["token"],
                     {"mode": "push", "callback": "http://127.0.0.1:9/x",
                      "filter": {"type": ["x"]}})
    assert reply.status == 202 and reply.body["topics"] == [] and reply.body["filter"]


# ---------------------------------------------------------------- publishing without topics

def test_topicless_event_has_no_topic_and_reaches_only_matching_filters(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "orders")
    plain = subscribe(api, billing["token"], ["orders"])
    matching = subscribe(api, billing["token"], filter={"source": ["orders"]})
    other = subscribe(api, billing["token"], filter={"source": ["billing"]})
    event_id = publish(api, orders["token"], data={"n": 1})
    [event] = pull(api, billing["token"], matching["id"])
    assert "topic" not in event and event["id"] == event_id and event["source"] == "orders"
    assert pull(api, billing["token"], plain["id"]) == []
    assert pull(api, billing["token"], other["id"]) == []
    record = event_record(api, billing["token"], event_id)       # open: no topic restricts it
    assert record["topics"] == [] and record["subscriptions"] == 1
    assert "topic" not in record["event"]


def test_topicless_event_nobody_wants_is_still_accepted(api, two_services):
    orders, _ = two_services
    event_id = publish(api, orders["token"], type="nobody.cares")
    record = event_record(api, orders["token"], event_id)
    assert (record["status"], record["subscriptions"], record["routes"]) == ("accepted", 0, [])


def test_event_data_nested_too_deep_is_refused_before_anything_is_stored(api, two_services):
    orders, billing = two_services
    sub = subscribe(api, billing["token"], filter={"data": {"x": [{"exists": True}]}})
    deep = json.dumps({"type": "x", "data": {"x": json.loads("[" * 500 + "]" * 500)}})
    reply = api.call("POST", "/events", orders["token"], raw=deep)
    assert (reply.status, reply.body["code"]) == (400, "validation-failed")
    assert reply.body["errors"][0]["field"] == "data"
    assert pull(api, billing["token"], sub["id"]) == []


# ---------------------------------------------------------------- derived topics

def test_derived_topic_receives_matching_events_whatever_their_topic(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "orders")
    api.topic(orders["token"], "refunds")
    topic = derived_topic(api, billing["token"], "big-orders", BIG_ORDERS)
    assert topic["pattern"] == BIG_ORDERS and topic["owner"] == "billing"
    sub = subscribe(api, billing["token"], ["big-orders"])
    first = publish(api, orders["token"], "orders", data={"total": 200})
    second = publish(api, orders["token"], data={"total": 300})
    publish(api, orders["token"], "refunds", data={"total": 3})
    events = pull(api, billing["token"], sub["id"])
    assert [e["id"] for e in events] == [first, second]
    assert {e["topic"] for e in events} == {"big-orders"}
    record = event_record(api, orders["token"], first)
    assert record["derived_topics"] == ["big-orders"]
    assert record["routes"] == [{"subscription": sub["id"], "via": "derived-topic",
                                 "topic": "big-orders"}]


def test_derived_topic_has_its_own_discipline(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "orders", discipline="fifo")
    derived_topic(api, billing["token"], "latest", {"type": ["tick"]}, discipline="lifo")
    sub = subscribe(api, billing["token"], ["latest"])
    assert sub["discipline"] == "lifo"
    for n in range(3):
        publish(api, orders["token"], "orders", type="tick", data=n)
    assert [e["data"] for e in pull(api, billing["token"], sub["id"])] == [2, 1, 0]


def test_derived_topic_with_a_filtered_subscription_applies_both(api, two_services):
    orders, billing = two_services
    derived_topic(api, billing["token"], "big", BIG_ORDERS)
    sub = subscribe(api, billing["token"], ["big"], filter={"subject": [{"prefix": "eu-"}]})
    publish(api, orders["token"], data={"total": 200}, subject="us-1")
    wanted = publish(api, orders["token"], data={"total": 200}, subject="eu-1")
    publish(api, orders["token"], data={"total": 2}, subject="eu-2")
    assert [e["id"] for e in pull(api, billing["token"], sub["id"])] == [wanted]


def test_event_reaching_a_subscription_by_several_routes_is_delivered_once(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "orders")
    derived_topic(api, billing["token"], "big", BIG_ORDERS)
    both = subscribe(api, billing["token"], ["orders", "big"], filter={"type": ["order.created"]})
    plain = subscribe(api, billing["token"], ["orders", "big"])
    event_id = publish(api, orders["token"], "orders", data={"total": 1000})
    assert [e["id"] for e in pull(api, billing["token"], both["id"])] == [event_id]
    [event] = pull(api, billing["token"], plain["id"])
    assert event["topic"] == "orders"
    routes = event_record(api, orders["token"], event_id)["routes"]
    assert sorted(routes, key=lambda r: r["subscription"]) == sorted([
        {"subscription": both["id"], "via": "filter", "topic": "orders"},
        {"subscription": plain["id"], "via": "topic", "topic": "orders"}],
        key=lambda r: r["subscription"])


def test_derived_topic_subscribers_still_need_the_source_topics_permission(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "private", subscribers=["orders"])
    derived_topic(api, billing["token"], "everything", {"type": [{"exists": True}]})
    sub = subscribe(api, billing["token"], ["everything"])
    publish(api, orders["token"], "private")
    public = publish(api, orders["token"])
    assert [e["id"] for e in pull(api, billing["token"], sub["id"])] == [public]


def test_nobody_publishes_to_a_derived_topic(api, two_services):
    orders, billing = two_services
    derived_topic(api, billing["token"], "big", BIG_ORDERS)
    for path, body in (("/topics/big/events", {"type": "x", "data": 1}),
                       ("/events", {"topics": ["big"], "type": "x", "data": 1})):
        reply = api.call("POST", path, billing["token"], body)
        assert (reply.status, reply.body["code"]) == (409, "topic-is-derived")


@pytest.mark.parametrize("body, code, field", [
    ({"name": "d", "pattern": {"type": "x"}}, "invalid-pattern", "type"),
    ({"name": "d", "pattern": []}, "invalid-pattern", ""),
    ({"name": "d", "pattern": {"a": [{"numeric": ["<", 1e10]}]}}, "invalid-pattern",
     "a[0].numeric[1]"),
    ({"name": "d", "pattern": {"a": ["x"]}, "publishers": ["orders"]}, "validation-failed",
     "publishers"),
])
def test_invalid_derived_topic_is_a_400(api, two_services, body, code, field):
    orders, _ = two_services
    reply = api.call("POST", "/topics", orders["token"], body)
    assert (reply.status, reply.body["code"]) == (400, code), reply
    assert reply.body["errors"][0]["field"] == field
    assert api.call("GET", "/topics/d", orders["token"]).status == 404


def test_deleting_a_derived_topic_stops_its_routing(api, two_services):
    orders, billing = two_services
    derived_topic(api, billing["token"], "big", BIG_ORDERS)
    sub = subscribe(api, billing["token"], ["big"])
    assert api.call("DELETE", "/topics/big", billing["token"]).status == 204
    event_id = publish(api, orders["token"], data={"total": 500})
    assert event_record(api, orders["token"], event_id)["derived_topics"] == []
    assert pull(api, billing["token"], sub["id"]) == []


# ---------------------------------------------------------------- the routing table cache

def test_the_router_is_compiled_once_and_again_only_when_rules_change(api, two_services):
    orders, billing = two_services
    tables = get_bus().routing.tables
    subscribe(api, billing["token"], filter={"type": ["a"]})
    publish(api, orders["token"], type="a")
    built = tables.builds
    for _ in range(3):
        publish(api, orders["token"], type="a")
    assert tables.builds == built
    subscribe(api, billing["token"], filter={"type": ["b"]})
    publish(api, orders["token"], type="b")
    assert tables.builds == built + 1


def test_every_container_sees_rules_created_through_another(api, two_services):
    """Two buses on one store stand for two Lambda containers with their own caches;
    a container reads the routing version again at most every TLKS_CACHE_SECONDS / 5."""
    orders, billing = two_services
    first, second = get_bus(), build_bus(Settings.from_env())
    first.routing.tables.recheck_seconds = 0.2
    producer = Principal("service", orders["id"], "orders")
    consumer = Principal("service", billing["id"], "billing")
    first.publisher.multicast(producer, {"type": "x", "data": 0})     # first caches a table
    sub = second.subscriptions.create(consumer, {"filter": {"type": ["x"]}})
    time.sleep(0.25)
    event_id = first.publisher.multicast(producer, {"type": "x", "data": 1})["id"]
    assert [e["id"] for e in pull(api, billing["token"], sub["id"])] == [event_id]
    second.subscriptions.delete(consumer, sub["id"])
    time.sleep(0.25)
    again = first.publisher.multicast(producer, {"type": "x", "data": 2})["id"]
    assert first.publisher.get(producer, again)["routes"] == []


# ---------------------------------------------------------------- explain

def test_explain_names_the_routes_and_the_first_failed_condition(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "orders")
    derived_topic(api, billing["token"], "big", BIG_ORDERS)
    derived_topic(api, billing["token"], "eu", {"subject": [{"prefix": "eu-"}]})
    on_big = subscribe(api, billing["token"], ["big"])
    cheap = subscribe(api, billing["token"], filter={"data": {"total": [{"numeric": ["<", 10]}]}})
    body = {"event": {"type": "order.created", "data": {"total": 500}, "subject": "us-1"},
            "topics": ["orders"]}
    reply = api.call("POST", "/routing/explain", billing["token"], body)
    assert reply.status == 200, reply
    answer = reply.body
    assert answer["derived_topics"] == ["big"]
    assert answer["routes"] == [{"subscription": on_big["id"], "via": "derived-topic",
                                 "topic": "big"}]
    assert answer["event"]["topic"] == ["orders"] and answer["event"]["source"] == "billing"
    misses = {m.get("subscription") or m.get("derived_topic"): m["failed"]
              for m in answer["near_misses"]}
    assert misses["eu"] == {"path": "subject", "condition": [{"prefix": "eu-"}],
                            "reason": 'no value satisfies the condition (value "us-1")'}
    assert misses[cheap["id"]]["path"] == "data.total"
    assert "value 500" in misses[cheap["id"]]["reason"]
    assert pull(api, billing["token"], on_big["id"]) == []          # nothing was published


def test_explain_shows_a_service_only_its_own_subscriptions(api, two_services):
    orders, billing = two_services
    subscribe(api, billing["token"], filter={"type": ["x"]})
    subscribe(api, billing["token"], filter={"type": ["y"]})
    mine = subscribe(api, orders["token"], filter={"type": ["x"]})
    body = {"event": {"type": "x", "data": 1}}
    answer = api.call("POST", "/routing/explain", orders["token"], body).body
    assert answer["routes"] == [{"subscription": mine["id"], "via": "filter"}]
    assert answer["hidden_routes"] == 1 and answer["near_misses"] == []
    as_admin = api.call("POST", "/routing/explain", ADMIN, {**body, "topics": []}).body
    assert len(as_admin["routes"]) == 2 and len(as_admin["near_misses"]) == 1


def test_explain_reports_filters_that_access_lists_refuse(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "private", subscribers=["orders"])
    sub = subscribe(api, billing["token"], filter={"type": ["x"]})
    answer = api.call("POST", "/routing/explain", billing["token"],
                      {"event": {"type": "x", "data": 1}, "topics": ["private"]}).body
    assert answer["routes"] == []
    [miss] = answer["near_misses"]
    assert miss["subscription"] == sub["id"] and "subscribers" in miss["failed"]["reason"]


@pytest.mark.parametrize("body, status, code", [
    ({"event": {"type": "x"}}, 400, "validation-failed"),
    ({"event": {"type": "x", "data": 1}, "topics": "orders"}, 400, "validation-failed"),
    ({"event": {"type": "x", "data": 1}, "topics": ["nope"]}, 404, "topic-not-found"),
    ({"event": {"type": "x", "data": 1, "colour": "red"}}, 400, "validation-failed"),
    ({"event": {"type": "x", "data": "x" * 300_000}}, 413, "payload-too-large"),
    ({"event": {"type": "x", "data": json.loads("[" * 200 + "]" * 200)}}, 400,
     "validation-failed"),
    ([], 400, "validation-failed"),
])
def test_bad_explain_requests_are_problems(api, two_services, body, status, code):
    _, billing = two_services
    reply = api.call("POST", "/routing/explain", billing["token"], body)
    assert (reply.status, reply.body["code"]) == (status, code), reply


def test_explain_gives_up_politely_on_an_explosive_search(api, two_services):
    orders, billing = two_services
    pattern = {"data": {"a": [{"exists": True}], "b": [{"exists": True}],
                        "c": [{"exists": False}]}}
    subscribe(api, billing["token"], filter=pattern)
    data = {"a": list(range(3000)), "b": list(range(3000)), "c": 1}
    answer = api.call("POST", "/routing/explain", billing["token"],
                      {"event": {"type": "x", "data": data}}).body
    [miss] = answer["near_misses"]
    assert miss["failed"]["reason"].startswith("not explained")


# ---------------------------------------------------------------- /patterns/test

@pytest.mark.parametrize("pattern, event, expected", [
    ({"source": ["orders"]}, {"source": "orders"}, True),
    ({"detail": {"state": [{"anything-but": "done"}]}}, {"detail": {"state": "done"}}, False),
    ({"data": {"sku": [{"regex": "^A-[0-9]+$"}]}}, {"data": {"sku": "A-12"}}, True),
    ('{"a": [1]}', {"a": 1.0}, True),
])
def test_pattern_test_answers_match_true_or_false(api, pattern, event, expected):
    reply = api.call("POST", "/patterns/test", ADMIN, {"event": event, "pattern": pattern})
    assert (reply.status, reply.body) == (200, {"match": expected})


@pytest.mark.parametrize("body, code, field", [
    ({"event": {}, "pattern": {"a": [{"numeric": ["<"]}]}}, "invalid-pattern",
     "a[0].numeric[1]"),
    ({"event": {}, "pattern": {"a": [{"regex": "a{1001}"}]}}, "invalid-pattern", "a[0].regex"),
    ({"event": {}, "pattern": {"a": [{"jsonpath": "$[?"}]}}, "invalid-pattern", "a[0].jsonpath"),
    ({"event": {}, "pattern": {"a": ["x"] * 1000}}, "invalid-pattern", "a[512]"),
    ({"event": {}, "pattern": json.loads('{"a":' * 40 + "[1]" + "}" * 40)}, "invalid-pattern",
     None),
    ({"event": {}, "pattern": None}, "invalid-pattern", ""),
    ({"event": [], "pattern": {"a": [1]}}, "validation-failed", "event"),
    ({"event": "{}", "pattern": {"a": [1]}}, "validation-failed", "event"),
    ({"pattern": {"a": [1]}}, "validation-failed", "event"),             # missing
    ({"event": {}, "pattern": {"a": [1]}, "extra": 1}, "validation-failed", "extra"),  # unknown
    ({"event": json.loads('{"a":' * 200 + "1" + "}" * 200), "pattern": {"a": [1]}},
     "validation-failed", "event"),
])
def test_pattern_test_refuses_hostile_input_with_a_400(api, body, code, field):
    reply = api.call("POST", "/patterns/test", ADMIN, body)
    assert (reply.status, reply.body["code"]) == (400, code), reply
    assert reply.headers["Content-Type"] == "application/problem+json"
    if field is not None:
        assert reply.body["errors"][0]["field"] == field


def test_pattern_test_stays_fast_on_an_explosive_event(api):
    pattern = {"a": [{"exists": True}], "b": [{"exists": True}], "c": [{"exists": False}]}
    event = {"a": list(range(20_000)), "b": list(range(20_000)), "c": 1}
    reply = api.call("POST", "/patterns/test", ADMIN, {"event": event, "pattern": pattern})
    assert reply.body == {"match": False}


def test_pattern_test_needs_a_token(api):
    reply = api.call("POST", "/patterns/test", None, {"event": {}, "pattern": {"a": [1]}})
    assert (reply.status, reply.body["code"]) == (401, "missing-token")
