"""The middleware pipeline: schema validation, producer identity, compression, metrics,
and what happens when a middleware fails."""
from __future__ import annotations

import json
import random
import string

import boto3
import pytest

from chalicelib.bootstrap import get_bus
from chalicelib.middleware import Middleware
from chalicelib.observability import metrics

ORDER_SCHEMA = {
    "type": "object",
    "required": ["order_id", "customer", "items"],
    "additionalProperties": False,
    "properties": {
        "order_id": {"type": "string", "pattern": "^ord-[0-9]+$"},
        "customer": {"type": "object", "required": ["email"],
                     "properties": {"email": {"type": "string", "format": "email",
                                              "pattern": "@"},
                                    "vip": {"type": "boolean"}}},
        "items": {"type": "array", "minItems": 1,
                  "items": {"type": "object", "required": ["sku", "qty"],
                            "properties": {"sku": {"type": "string"},
                                           "qty": {"type": "integer", "minimum": 1}}}},
        "total": {"type": "number", "minimum": 0},
    },
}
VALID = {"order_id": "ord-1", "customer": {"email": "a@b.c"},
         "items": [{"sku": "A", "qty": 2}], "total": 9.5}


def publish(api, token, topic, data, type_="order.created", **extra):
    return api.call("POST", f"/topics/{topic}/events", token,
                    {"type": type_, "data": data, **extra})


def pull_all(api, token, sub_id):
    reply = api.call("POST", f"/subscriptions/{sub_id}/pull", token, {"max_messages": 10})
    return [m["event"] for m in reply.body["messages"]]


@pytest.fixture
def shop(api):
    owner, consumer = api.register("orders"), api.register("billing")
    api.topic(owner["token"], "orders", schemas={"order.created": ORDER_SCHEMA})
    sub = api.subscribe(consumer["token"], ["orders"])
    return api, owner, consumer, sub


# ------------------------------------------------------------------ schema validation

def test_an_event_that_fits_its_schema_is_accepted(shop):
    api, owner, consumer, sub = shop
    assert publish(api, owner["token"], "orders", VALID).status == 202
    assert [e["data"] for e in pull_all(api, consumer["token"], sub["id"])] == [VALID]


def _without(key):
    return {k: v for k, v in VALID.items() if k != key}


@pytest.mark.parametrize("data, field", [
    (_without("order_id"), "data.order_id"),                          # required missing
    ({**VALID, "order_id": 17}, "data.order_id"),                    # wrong type
    ({**VALID, "order_id": "17"}, "data.order_id"),                  # pattern
    ({**VALID, "customer": {}}, "data.customer.email"),              # nested required
    ({**VALID, "customer": {"email": "nobody"}}, "data.customer.email"),
    ({**VALID, "customer": {"email": "a@b", "vip": "yes"}}, "data.customer.vip"),
    ({**VALID, "items": []}, "data.items"),                           # minItems
    ({**VALID, "items": [{"sku": "A", "qty": 0}]}, "data.items[0].qty"),
    ({**VALID, "total": -1}, "data.total"),
    ({**VALID, "coupon": "FREE"}, "data.coupon"),                     # additionalProperties
])
def test_each_invalid_event_is_refused_with_422_naming_the_field(shop, data, field):
    api, owner, consumer, sub = shop
    reply = publish(api, owner["token"], "orders", data)
    assert reply.status == 422, reply
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.body["code"] == "schema-violation" and reply.body["topic"] == "orders"
    assert field in [e["field"] for e in reply.body["errors"]]
    assert pull_all(api, consumer["token"], sub["id"]) == []      # nothing stored


def test_every_failing_path_is_listed(shop):
    api, owner, _, _ = shop
    reply = publish(api, owner["token"], "orders",
                    {"order_id": 1, "customer": {"email": 2}, "items": [{"qty": "x"}]})
    fields = {e["field"] for e in reply.body["errors"]}
    assert {"data.order_id", "data.customer.email", "data.items[0].sku",
            "data.items[0].qty"} <= fields


def test_a_misspelt_member_is_named_with_the_one_probably_meant(shop):
    api, owner, _, _ = shop
    data = {"ordr_id": "ord-1", "customer": {"email": "a@b.c"}, "items": [{"sku": "A", "qty": 1}]}
    reply = publish(api, owner["token"], "orders", data)
    assert reply.status == 422, reply
    assert reply.body["errors"] == [
        {"field": "data.order_id", "message": "missing required field 'order_id'"},
        {"field": "data.ordr_id", "message": "unknown field 'ordr_id': did you mean 'order_id'?"},
    ]


def test_other_event_types_and_a_star_schema(shop):
    api, owner, _, _ = shop
    assert publish(api, owner["token"], "orders", {"anything": 1}, "order.noted").status == 202
    assert api.call("PUT", "/topics/orders/schemas", owner["token"],
                    {"schemas": {"*": {"type": "object"}}}).status == 200
    assert publish(api, owner["token"], "orders", [1, 2], "order.noted").status == 422


def test_schemas_are_checked_when_set_and_only_the_owner_sets_them(shop):
    api, owner, consumer, _ = shop
    reply = api.call("POST", "/topics", owner["token"],
                     {"name": "bad", "schemas": {"t": {"type": "no-such-type"}}})
    assert reply.status == 400 and reply.body["code"] == "invalid-schema"
    assert reply.body["errors"][0]["field"] == "schemas.t"
    reply = api.call("PUT", "/topics/orders/schemas", consumer["token"], {"schemas": {}})
    assert reply.status == 403 and reply.body["code"] == "not-topic-owner"


# ------------------------------------------------------------------ producer identity

def test_a_producer_claiming_another_identity_is_delivered_with_its_own(api):
    orders, billing = api.register("orders"), api.register("billing")
    api.topic(orders["token"], "payments")
    sub = api.subscribe(billing["token"], ["payments"])
    reply = publish(api, orders["token"], "payments", {"amount": 5}, "payment.made",
                    source="billing", producer="billing")
    assert reply.status == 202
    [event] = pull_all(api, billing["token"], sub["id"])
    assert event["source"] == "orders" and event["producer"] == "orders"
    assert event["producerid"] == orders["id"]


# ------------------------------------------------------------------ compression

def _stored_sizes(prefix="tlks-test"):
    """Every stored payload's size in bytes, straight from the tables."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    sizes = {}
    for table in (f"{prefix}-state", f"{prefix}-queue"):
        for item in client.scan(TableName=table)["Items"]:
            for name, value in item.items():
                if "S" in value and len(value["S"]) > 1000:
                    sizes[(table, name)] = max(sizes.get((table, name), 0), len(value["S"]))
    return sizes


def test_a_large_compressible_payload_is_stored_small_and_delivered_intact(api):
    orders, billing = api.register("orders"), api.register("billing")
    api.topic(orders["token"], "reports")
    sub = api.subscribe(billing["token"], ["reports"])
    # a typical report: repetitive JSON rows with a few varying values
    notes = ["delivered on time", "late by a day", "returned unopened", "signed by neighbour"]
    rng = random.Random(2400)       # the same report every run: its size is checked below
    rows = [{"row": n, "region": rng.choice(["north", "south", "east", "west"]),
             "note": rng.choice(notes), "amount": rng.randint(1, 99999),
             "sku": "".join(rng.choices(string.ascii_uppercase, k=6))}
            for n in range(2400)]
    data = {"rows": rows}
    size = len(json.dumps(data, separators=(",", ":")))
    assert 200 * 1024 <= size <= 240 * 1024
    saved_before = metrics.totals["StoredBytesSaved"]
    reply = publish(api, orders["token"], "reports", data, "report.ready")
    assert reply.status == 202
    stored = _stored_sizes()
    assert stored and max(stored.values()) < size / 4, stored    # event record and queue item
    [event] = pull_all(api, billing["token"], sub["id"])
    assert event["data"] == data
    assert api.call("GET", f"/events/{reply.body['id']}", orders["token"]).body["event"][
        "data"] == data
    assert metrics.totals["StoredBytesSaved"] - saved_before > size


# ------------------------------------------------------------------ failures and metrics

class Exploding(Middleware):
    name = "exploding"

    def before_publish(self, ctx):
        raise RuntimeError("boom")


class BrokenAfter(Middleware):
    name = "broken-after"

    def after_publish(self, ctx):
        raise RuntimeError("boom")


def test_a_failing_middleware_is_a_clear_problem_and_stores_nothing(api):
    orders, billing = api.register("orders"), api.register("billing")
    api.topic(orders["token"], "t")
    sub = api.subscribe(billing["token"], ["t"])
    get_bus().publisher.pipeline.middleware.append(Exploding())
    reply = publish(api, orders["token"], "t", {}, id="never")
    assert reply.status == 500 and reply.body["code"] == "middleware-failed"
    assert reply.body["middleware"] == "exploding"
    get_bus().publisher.pipeline.middleware.pop()
    assert api.call("GET", "/events/never", orders["token"]).status == 404
    assert pull_all(api, billing["token"], sub["id"]) == []


def test_a_middleware_failing_after_publish_does_not_undo_it(api):
    orders, billing = api.register("orders"), api.register("billing")
    api.topic(orders["token"], "t")
    sub = api.subscribe(billing["token"], ["t"])
    get_bus().publisher.pipeline.middleware.append(BrokenAfter())
    try:
        assert publish(api, orders["token"], "t", {"n": 1}).status == 202
    finally:
        get_bus().publisher.pipeline.middleware.pop()
    assert len(pull_all(api, billing["token"], sub["id"])) == 1


def test_publishes_are_counted_in_the_metrics(api):
    orders = api.register("orders")
    api.topic(orders["token"], "t")
    before = metrics.totals["EventsPublished"]
    for n in range(3):
        publish(api, orders["token"], "t", {"n": n})
    assert metrics.totals["EventsPublished"] - before == 3


# ------------------------------------------------------------------ logging rules (HTTP)

def test_logging_rules_are_admin_only_validated_and_shown(api):
    from tests.functional.conftest import ADMIN
    svc = api.register()
    rules = {"rules": [{"topic": "orders", "level": "DEBUG", "payloads": "log"},
                       {"consumer": "billing", "level": "DEBUG", "sample_rate": 0.5}]}
    assert api.call("PUT", "/logging", svc["token"], rules).status == 403
    assert api.call("PUT", "/logging", ADMIN, {"rules": [{"level": "LOUD"}]}).status == 400
    assert api.call("PUT", "/logging", ADMIN, {"rules": [{"topic": "t"}]}).status == 400
    put = api.call("PUT", "/logging", ADMIN, rules)
    assert put.status == 200 and put.body["rules"] == rules["rules"]
    assert api.call("GET", "/logging", ADMIN).body["rules"] == rules["rules"]


def test_pulled_and_dead_lettered_events_are_counted(api):
    orders, billing = api.register("orders"), api.register("billing")
    api.topic(orders["token"], "t")
    sub = api.subscribe(billing["token"], ["t"], max_deliveries=1)
    delivered, dead = metrics.totals["EventsDelivered"], metrics.totals["EventsDeadLettered"]
    publish(api, orders["token"], "t", {"n": 1})
    pull = {"max_messages": 10, "visibility_timeout": 0}
    assert len(api.call("POST", f"/subscriptions/{sub['id']}/pull", billing["token"], pull)
               .body["messages"]) == 1
    assert api.call("POST", f"/subscriptions/{sub['id']}/pull", billing["token"], pull) \
        .body["messages"] == []                  # its second delivery would pass max_deliveries
    assert metrics.totals["EventsDelivered"] - delivered == 1
    assert metrics.totals["EventsDeadLettered"] - dead == 1


@pytest.mark.parametrize("schema, why", [
    ({"type": "string", "pattern": "(a"}, "regex"),                        # not a regex at all
    ({"type": "string", "pattern": r"(\w)\1"}, "pattern"),                 # backreference
    ({"type": "string", "pattern": "a" * 300}, "longer"),
    ({"patternProperties": {"^x": {}}, "unevaluatedProperties": False}, "unevaluated"),
])
def test_schemas_with_regexes_re2_cannot_run_are_refused(api, schema, why):
    owner = api.register()
    reply = api.call("POST", "/topics", owner["token"], {"name": "t", "schemas": {"e": schema}})
    assert reply.status == 400 and reply.body["code"] == "invalid-schema", reply
    assert why in reply.body["detail"]


def test_a_catastrophic_pattern_cannot_stall_publishing(api):
    import time
    owner = api.register()
    api.topic(owner["token"], "t", schemas={"e": {"type": "object", "properties": {
        "s": {"type": "string", "pattern": "^(a+)+$"}},
        "patternProperties": {"^(x+x+)+y$": {"type": "string"}},
        "additionalProperties": False}})
    evil = "a" * 40 + "!"                  # Python's re would backtrack for hours
    started = time.monotonic()
    reply = publish(api, owner["token"], "t", {"s": evil, "x" * 40: 1}, "e")
    assert time.monotonic() - started < 5
    assert reply.status == 422
    assert {e["field"] for e in reply.body["errors"]} == {"data.s", "data." + "x" * 40}
