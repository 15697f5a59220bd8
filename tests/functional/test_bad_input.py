"""Hostile and mistaken requests: each is a 4xx problem+json with a stable code.

Never a 500, never a half-stored effect.
"""
import json

import pytest

from tests.functional.conftest import ADMIN

BIG = "x" * (256 * 1024 + 1)

# (name, method, path, who, body | raw bytes, extra headers, status, code)
CASES = [
    ("no token", "GET", "/topics", None, None, {}, 401, "missing-token"),
    ("basic auth scheme", "GET", "/topics", "basic", None, {}, 401, "bad-auth-scheme"),
    ("unknown token", "GET", "/topics", "bogus", None, {}, 401, "invalid-token"),
    ("service registers a service", "POST", "/services", "billing", {"name": "x"}, {}, 403,
     "admin-only"),
    ("admin publishes", "POST", "/topics/t/events", "admin", {"type": "x", "data": 1}, {}, 403,
     "service-only"),
    ("malformed json", "POST", "/topics", "orders", b'{"name": "t2",', {}, 400,
     "malformed-json"),
    ("NaN is not JSON", "POST", "/topics/t/events", "orders", b'{"type":"x","data":NaN}', {},
     400, "malformed-json"),
    ("lone surrogate in data", "POST", "/topics/t/events", "orders",
     b'{"type":"x","data":{"note":"\\ud800"}}', {}, 400, "malformed-json"),
    ("lone low surrogate in a key", "POST", "/queues/jobs/messages", "orders",
     b'{"body":{"\\udc00x":1}}', {}, 400, "malformed-json"),
    ("body is a list", "POST", "/topics", "orders", [1, 2], {}, 400, "validation-failed"),
    ("missing name", "POST", "/topics", "orders", {"discipline": "fifo"}, {}, 400,
     "validation-failed"),
    ("bad discipline", "POST", "/topics", "orders", {"name": "z", "discipline": "random"}, {},
     400, "validation-failed"),
    ("bad topic name", "POST", "/topics", "orders", {"name": "../etc"}, {}, 400,
     "validation-failed"),
    ("unknown field", "POST", "/topics", "orders", {"name": "z", "colour": "red"}, {}, 400,
     "validation-failed"),
    ("wrong type for publishers", "POST", "/topics", "orders", {"name": "z", "publishers": "a"},
     {}, 400, "validation-failed"),
    ("duplicate topic", "POST", "/topics", "orders", {"name": "t"}, {}, 409, "topic-exists"),
    ("publish to unknown topic", "POST", "/topics/nope/events", "orders",
     {"type": "x", "data": 1}, {}, 404, "topic-not-found"),
    ("event without type", "POST", "/topics/t/events", "orders", {"data": 1}, {}, 400,
     "validation-failed"),
    ("event type not a string", "POST", "/topics/t/events", "orders", {"type": 5, "data": 1}, {},
     400, "validation-failed"),
    ("priority out of range", "POST", "/topics/t/events", "orders",
     {"type": "x", "data": 1, "priority": 10}, {}, 400, "validation-failed"),
    ("oversize payload", "POST", "/topics/t/events", "orders", {"type": "x", "data": BIG}, {},
     413, "payload-too-large"),
    ("batch over 100", "POST", "/topics/t/events", "orders",
     {"events": [{"type": "x", "data": 1}] * 101}, {}, 400, "validation-failed"),
    ("empty batch", "POST", "/topics/t/events", "orders", {"events": []}, {}, 400,
     "validation-failed"),
    ("id with spaces", "POST", "/topics/t/events", "orders", {"type": "x", "data": 1, "id": "a b"},
     {}, 400, "validation-failed"),
    ("multicast topics not a list", "POST", "/events", "orders",
     {"topics": "t", "type": "x", "data": 1}, {}, 400, "validation-failed"),
    ("unknown event", "GET", "/events/nope", "orders", None, {}, 404, "event-not-found"),
    ("subscribe to unknown topic", "POST", "/subscriptions", "billing", {"topics": ["nope"]}, {},
     404, "topic-not-found"),
    ("push mode not yet accepted here", "POST", "/subscriptions", "billing",
     {"topics": ["t"], "mode": "carrier-pigeon"}, {}, 400, "validation-failed"),
    ("mixed disciplines", "POST", "/subscriptions", "billing", {"topics": ["t", "p"]}, {}, 409,
     "discipline-mismatch"),
    ("unknown subscription", "POST", "/subscriptions/sub_nope/pull", "billing", {}, {}, 404,
     "subscription-not-found"),
    ("pull too many", "POST", "/subscriptions/{sub}/pull", "billing", {"max_messages": 11}, {}, 400,
     "validation-failed"),
    ("wait too long", "POST", "/subscriptions/{sub}/pull", "billing", {"wait_seconds": 21}, {}, 400,
     "validation-failed"),
    ("garbage receipt", "POST", "/subscriptions/{sub}/ack", "billing",
     {"receipts": ["not-a-receipt!!"]}, {}, 400, "invalid-receipt"),
    ("receipts not a list", "POST", "/subscriptions/{sub}/ack", "billing", {"receipts": "r"}, {},
     400, "validation-failed"),
    ("someone else's subscription", "POST", "/subscriptions/{sub}/pull", "orders", {}, {}, 403,
     "not-your-subscription"),
    ("unknown queue", "POST", "/queues/nope/messages", "orders", {"body": 1}, {}, 404,
     "queue-not-found"),
    ("queue message without body", "POST", "/queues/jobs/messages", "orders", {"priority": 1}, {},
     400, "validation-failed"),
    ("negative delay", "POST", "/queues/jobs/messages", "orders", {"body": 1, "delay_seconds": -1},
     {}, 400, "validation-failed"),
    ("peek limit not a number", "GET", "/queues/jobs/messages?limit=lots", "orders", None, {}, 400,
     "validation-failed"),
    ("duplicate queue", "POST", "/queues", "orders", {"name": "jobs"}, {}, 409, "queue-exists"),
    ("purge someone else's queue", "DELETE", "/queues/jobs/messages", "billing", None, {}, 403,
     "not-queue-owner"),
    ("unsupported media type", "POST", "/topics", "orders", b"name=t", 
     {"Content-Type": "text/plain"}, 415, "unsupported-media-type"),
    ("method not allowed", "PUT", "/topics", "orders", {}, {}, 405, "method-not-allowed"),
    ("unknown service", "GET", "/services/svc_nope", "admin", None, {}, 404, "service-not-found"),
    ("patch unknown field", "PATCH", "/services/{billing_id}", "billing", {"name": "renamed"}, {},
     400, "validation-failed"),
    ("delete someone else's topic", "DELETE", "/topics/t", "billing", None, {}, 403,
     "not-topic-owner"),
]


@pytest.fixture
def world(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "t")
    api.topic(orders["token"], "p", discipline="priority")
    sub = api.subscribe(billing["token"], ["t"])
    api.call("POST", "/queues", orders["token"], {"name": "jobs"})
    tokens = {"orders": orders["token"], "billing": billing["token"], "admin": ADMIN,
              "bogus": "tlks_bogus", None: None}
    return tokens, {"sub": sub["id"], "billing_id": billing["id"]}


@pytest.mark.parametrize("name, method, path, who, payload, headers, status, code", CASES,
                         ids=[c[0] for c in CASES])
def test_bad_request_gets_a_problem(api, world, name, method, path, who, payload, headers,
                                    status, code):
    tokens, ids = world
    headers = dict(headers)
    if who == "basic":
        headers["Authorization"] = "Basic dXNlcjpwYXNz"
    raw = payload if isinstance(payload, bytes) else None
    reply = api.call(method, path.format(**ids), tokens.get(who), None if raw else payload,
                     raw=raw, headers=headers)
    assert reply.status == status, reply
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.body["code"] == code
    assert reply.body["status"] == status
    assert {"type", "title", "detail", "correlation_id"} <= set(reply.body)


# (route, who, body, the missing field, the unknown field, what it probably meant)
MISSPELT = [
    ("POST /topics/t/events", "orders", {"type": "x", "dat": 1}, "data", "dat", "data"),
    ("POST /events", "orders", {"topics": ["t"], "typ": "x", "data": 1}, "type", "typ", "type"),
    ("POST /services", "admin", {"nmae": "x"}, "name", "nmae", "name"),
    ("POST /topics", "orders", {"nam": "z"}, "name", "nam", "name"),
    ("POST /subscriptions", "billing", {"topics": ["t"], "mod": "pull"}, None, "mod", "mode"),
    ("POST /queues", "orders", {"nme": "q2"}, "name", "nme", "name"),
    ("POST /queues/jobs/messages", "orders", {"bdy": 1}, "body", "bdy", "body"),
    ("POST /subscriptions/{sub}/ack", "billing", {"receipt": ["r"]}, "receipts", "receipt",
     "receipts"),
    ("POST /schedules", "orders", {"name": "s", "expresion": "rate(1 hour)",
                                   "target": {"topic": "t", "type": "x", "data": {}}},
     "expression", "expresion", "expression"),
]


@pytest.mark.parametrize("route, who, body, missing, unknown, meant", MISSPELT,
                         ids=[c[0] for c in MISSPELT])
def test_a_misspelt_field_is_named_with_the_field_probably_meant(api, world, route, who, body,
                                                                  missing, unknown, meant):
    tokens, ids = world
    method, path = route.split(" ")
    reply = api.call(method, path.format(**ids), tokens[who], body)
    assert (reply.status, reply.body["code"]) == (400, "validation-failed"), reply
    assert reply.headers["Content-Type"] == "application/problem+json"
    expected = [{"field": unknown,
                 "message": f"unknown field {unknown!r}: did you mean {meant!r}?"}]
    if missing:
        expected.insert(0, {"field": missing, "message": f"missing required field {missing!r}"})
    assert reply.body["errors"] == expected
    assert reply.body["detail"] == "; ".join(e["message"] for e in expected)


def test_a_misspelt_hub_form_field_is_named(api, world):
    tokens, _ = world
    form = "hub.mode=subscribe&hub.topik=t&hub.callback=http%3A%2F%2F127.0.0.1%3A9%2Fx"
    reply = api.call("POST", "/hub", tokens["billing"], raw=form,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (reply.status, reply.body["code"]) == (400, "validation-failed"), reply
    assert reply.body["errors"] == [
        {"field": "hub.topic", "message": "missing required field 'hub.topic'"},
        {"field": "hub.topik", "message": "unknown field 'hub.topik': did you mean 'hub.topic'?"},
    ]


def test_there_are_at_least_25_bad_input_cases():
    assert len(CASES) >= 25


def test_an_emoji_escaped_as_a_surrogate_pair_is_delivered_intact(api, world):
    tokens, ids = world
    raw = b'{"type":"x","data":{"mood":"\\ud83d\\ude00 and a literal \\\\ud800"}}'
    assert api.call("POST", "/topics/t/events", tokens["orders"], raw=raw).status == 202
    pulled = api.call("POST", f"/subscriptions/{ids['sub']}/pull", tokens["billing"], {})
    [message] = pulled.body["messages"]
    assert message["event"]["data"] == {"mood": "\U0001F600 and a literal \\ud800"}


def test_a_rejected_batch_stores_nothing(api, world):
    tokens, ids = world
    batch = {"events": [{"type": "ok", "data": 1}, {"type": "big", "data": BIG}]}
    assert api.call("POST", "/topics/t/events", tokens["orders"], batch).status == 413
    pulled = api.call("POST", f"/subscriptions/{ids['sub']}/pull", tokens["billing"],
                      {"max_messages": 10})
    assert pulled.body["messages"] == []


def test_unexpected_failure_is_a_500_problem_without_a_stack_trace(api, world, monkeypatch):
    tokens, _ = world
    from chalicelib.bootstrap import get_bus

    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(get_bus().topics, "list", explode)
    reply = api.call("GET", "/topics", tokens["orders"])
    assert reply.status == 500 and reply.body["code"] == "internal-error"
    assert "secret" not in json.dumps(reply.body) and reply.body["correlation_id"]
    assert reply.headers["X-Correlation-Id"] == reply.body["correlation_id"]


def test_a_problem_names_the_path_requested_not_the_route(api):
    svc = api.register()
    reply = api.call("GET", "/topics/no-such-topic", svc["token"])
    assert reply.status == 404 and reply.body["instance"] == "/topics/no-such-topic"


def test_chalices_own_errors_get_readable_titles(api):
    svc = api.register()
    reply = api.call("PATCH", "/topics", svc["token"], {})
    assert reply.status == 405 and reply.body["title"] == "Method not allowed"
    reply = api.call("POST", "/topics", svc["token"], raw="name=x",
                     headers={"Content-Type": "text/plain"})
    assert reply.status == 415 and reply.body["title"] == "Unsupported media type"
