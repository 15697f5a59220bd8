"""Push subscriptions: WebSub verification, signed deliveries, retries, dead letters.

The subscriber is a real HTTP server on 127.0.0.1; the hub is the app in-process,
and the dispatcher is driven directly (the worker / stream do it in production).
"""
import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from standardwebhooks.webhooks import Webhook

from chalicelib.bootstrap import get_bus
from tests.support.subscriber import Outage, Subscriber, confirm_challenge

SECRET = "s3cr3t-shared-with-the-subscriber"


@pytest.fixture
def hub(api, monkeypatch):
    for name, value in {"TLKS_CALLBACK_ALLOW": "127.0.0.0/8", "TLKS_RETRY_BASE_SECONDS": "0.01",
                        "TLKS_DELIVERY_READ_TIMEOUT": "1", "TLKS_DELIVERY_CONNECT_TIMEOUT": "1",
                        "TLKS_BREAKER_THRESHOLD": "100"}.items():
        monkeypatch.setenv(name, value)
    get_bus.cache_clear()
    return api


def dispatch(rounds: int = 50, pause: float = 0.05) -> None:
    """Run the dispatcher until nothing more is due (retries included)."""
    for _ in range(rounds):
        get_bus().dispatcher.sweep()
        sizes = [get_bus().storage.queues.size(s["queue"])
                 for s in get_bus().dispatcher.push_subscriptions()]
        if all(size.total == 0 for size in sizes):
            return
        time.sleep(pause)


def push_subscribe(api, token, topics, callback, **fields):
    reply = api.call("POST", "/subscriptions", token,
                     {"topics": topics, "mode": "push", "callback": callback, **fields})
    assert reply.status == 202, reply
    return reply.body


def publish(api, token, topic, **event):
    reply = api.call("POST", f"/topics/{topic}/events", token,
                     {"type": event.pop("type", "order.created"), "data": event.pop("data", {}),
                      **event})
    assert reply.status == 202, reply
    return reply.body["id"]


def hub_form(api, token, form: dict):
    return api.call("POST", "/hub", token, raw=urlencode(form),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})


def status_of(api, token, sub_id):
    return api.call("GET", f"/subscriptions/{sub_id}", token).body


def test_subscription_is_active_only_after_the_callback_echoes_the_challenge(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber() as subscriber:
        sub = push_subscribe(hub, billing["token"], ["orders"], subscriber.url, secret=SECRET)
        assert sub["status"] == "pending" and "secret" not in sub and sub["has_secret"]
        get_bus().dispatcher.run_verifications()
        [check] = subscriber.gets()
        assert check.query["hub.mode"] == ["subscribe"]
        assert check.query["hub.topic"][0].endswith("/topics/orders")
        assert len(check.query["hub.challenge"][0]) >= 20
    assert status_of(hub, billing["token"], sub["id"])["status"] == "active"


def test_a_wrong_echo_leaves_the_subscription_denied(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber(lambda r: (200, b"not-the-challenge", {})) as subscriber:
        sub = push_subscribe(hub, billing["token"], ["orders"], subscriber.url)
        get_bus().dispatcher.run_verifications()
        publish(hub, orders["token"], "orders")
        dispatch(rounds=2)
        assert subscriber.posts() == []
    shown = status_of(hub, billing["token"], sub["id"])
    assert shown["status"] == "denied" and "challenge" in shown["status_reason"]


def test_delivery_is_a_signed_structured_cloudevent(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber() as subscriber:
        push_subscribe(hub, billing["token"], ["orders"], subscriber.url, secret=SECRET)
        get_bus().dispatcher.run_verifications()
        event_id = publish(hub, orders["token"], "orders", data={"order": 7})
        dispatch()
        [post] = subscriber.posts()
    headers = {k.lower(): v for k, v in post.headers.items()}
    assert headers["content-type"] == "application/cloudevents+json"
    assert 'rel="hub"' in headers["link"] and '/topics/orders>; rel="self"' in headers["link"]
    expected = "sha256=" + hmac.new(SECRET.encode(), post.body, hashlib.sha256).hexdigest()
    assert headers["x-hub-signature"] == expected
    verified = Webhook(base64.b64encode(SECRET.encode()).decode()).verify(post.body, headers)
    assert verified["id"] == event_id and headers["webhook-id"] == event_id
    event = JSONFormat().read(CloudEvent, post.body)
    assert event.get_id() == event_id and event.get_data() == {"order": 7}
    assert event.get_type() == "order.created" and event.get_source() == "orders"


def test_a_subscription_made_without_a_secret_gets_one_shown_once_that_verifies_deliveries(
        hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber() as subscriber:
        sub = push_subscribe(hub, billing["token"], ["orders"], subscriber.url)
        secret = sub["secret"]
        get_bus().dispatcher.run_verifications()
        event_id = publish(hub, orders["token"], "orders")
        dispatch()
        [post] = subscriber.posts()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    headers = {k.lower(): v for k, v in post.headers.items()}
    assert Webhook(secret).verify(post.body, headers)["id"] == event_id
    key = base64.b64decode(secret[6:])
    assert headers["x-hub-signature"] == \
        "sha256=" + hmac.new(key, post.body, hashlib.sha256).hexdigest()
    shown = status_of(hub, billing["token"], sub["id"])
    listed = hub.call("GET", "/subscriptions", billing["token"]).body["subscriptions"]
    assert shown["has_secret"] and "secret" not in shown
    assert [s for s in listed if s["id"] == sub["id"]][0]["has_secret"]
    assert secret not in json.dumps([shown, listed])


def test_a_hub_subscription_made_without_a_secret_gets_one_in_the_answer(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber() as subscriber:
        reply = hub_form(hub, billing["token"], {"hub.mode": "subscribe", "hub.topic": "orders",
                                                 "hub.callback": subscriber.url})
        assert reply.status == 202 and reply.body["secret"].startswith("whsec_"), reply
        get_bus().dispatcher.run_verifications()
        publish(hub, orders["token"], "orders")
        dispatch()
        [post] = subscriber.posts()
        Webhook(reply.body["secret"]).verify(post.body, post.headers)
        renewal = hub_form(hub, billing["token"], {"hub.mode": "subscribe", "hub.topic": "orders",
                                                   "hub.callback": subscriber.url})
    assert renewal.body["renewal"] and "secret" not in renewal.body     # the secret is kept
    doc = get_bus().storage.docs.get("subscription", reply.body["id"])
    assert doc["secret"] == reply.body["secret"]


def signatures(post) -> list[str]:
    return {k.lower(): v for k, v in post.headers.items()}["webhook-signature"].split(" ")


def signed_by(secret: str, post) -> bool:
    """Whether one of the post's Standard Webhooks signatures is ``secret``'s (at any time)."""
    headers = {k.lower(): v for k, v in post.headers.items()}
    stamp = datetime.fromtimestamp(int(headers["webhook-timestamp"]), timezone.utc)
    return Webhook(secret).sign(headers["webhook-id"], stamp, post.body) in signatures(post)


def test_after_a_rotation_both_secrets_verify_during_the_overlap_and_only_the_new_after(
        hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber() as subscriber:
        sub = push_subscribe(hub, billing["token"], ["orders"], subscriber.url)
        old = sub["secret"]
        get_bus().dispatcher.run_verifications()
        rotated = hub.call("POST", f"/subscriptions/{sub['id']}/secret", billing["token"],
                           {"overlap_seconds": 3600})
        assert rotated.status == 200, rotated
        new = rotated.body["secret"]
        assert new.startswith("whsec_") and new != old and rotated.body["previous_secret_expires_at"]
        publish(hub, orders["token"], "orders")
        dispatch()
        [during] = subscriber.posts()
        headers = {k.lower(): v for k, v in during.headers.items()}
        assert len(signatures(during)) == 2
        Webhook(old).verify(during.body, headers)
        Webhook(new).verify(during.body, headers)
        assert headers["x-hub-signature"] == "sha256=" + hmac.new(
            base64.b64decode(new[6:]), during.body, hashlib.sha256).hexdigest()
        get_bus().dispatcher.clock = lambda: time.time() + 3601      # the overlap is over
        publish(hub, orders["token"], "orders")
        dispatch()
        after = subscriber.posts()[1]
    assert signed_by(new, after) and not signed_by(old, after) and len(signatures(after)) == 1
    assert old not in json.dumps(status_of(hub, billing["token"], sub["id"]))
    assert new not in json.dumps(status_of(hub, billing["token"], sub["id"]))


def test_a_rotation_to_a_chosen_secret_without_overlap_signs_with_it_alone(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber() as subscriber:
        sub = push_subscribe(hub, billing["token"], ["orders"], subscriber.url, secret=SECRET)
        get_bus().dispatcher.run_verifications()
        rotated = hub.call("POST", f"/subscriptions/{sub['id']}/secret", billing["token"],
                           {"secret": "the-next-one", "overlap_seconds": 0})
        assert rotated.body == {"id": sub["id"], "secret": "the-next-one",
                                "previous_secret_expires_at": None}
        publish(hub, orders["token"], "orders")
        dispatch()
        [post] = subscriber.posts()
    assert signatures(post) == [Webhook(base64.b64encode(b"the-next-one").decode()).sign(
        post.headers["webhook-id"], datetime.fromtimestamp(
            int(post.headers["webhook-timestamp"]), timezone.utc), post.body)]


def test_only_the_owner_rotates_a_push_subscriptions_secret(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    push = push_subscribe(hub, billing["token"], ["orders"], "http://127.0.0.1:9/x")
    pull = hub.subscribe(billing["token"], ["orders"])
    path = f"/subscriptions/{push['id']}/secret"
    assert hub.call("POST", path, orders["token"]).body["code"] == "not-your-subscription"
    assert hub.call("POST", path, "admin-secret-token").status == 403
    assert hub.call("POST", f"/subscriptions/{pull['id']}/secret",
                    billing["token"]).body["code"] == "not-a-push-subscription"
    for bad in ({"overlap_seconds": -1}, {"overlap_seconds": 10 ** 9}, {"secret": ""},
                {"secret": "€" * 100}, {"other": 1}):
        reply = hub.call("POST", path, billing["token"], bad)
        assert (reply.status, reply.body["code"]) == (400, "validation-failed"), bad


def test_a_secret_is_limited_to_200_utf8_bytes_not_characters(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    body = {"topics": ["orders"], "mode": "push", "callback": "http://127.0.0.1:9/x"}
    refused = hub.call("POST", "/subscriptions", billing["token"], {**body, "secret": "€" * 100})
    assert (refused.status, refused.body["code"]) == (400, "validation-failed"), refused
    assert refused.body["errors"][0]["field"] == "secret" and "300" in refused.body["detail"]
    assert hub.call("POST", "/subscriptions", billing["token"],
                    {**body, "secret": "a" * 200}).status == 202
    form = {"hub.mode": "subscribe", "hub.topic": "orders", "hub.callback": "http://127.0.0.1:9/y"}
    refused = hub_form(hub, billing["token"], {**form, "hub.secret": "€" * 67})    # 201 bytes
    assert (refused.status, refused.body["errors"][0]["field"]) == (400, "hub.secret"), refused
    assert hub_form(hub, billing["token"], {**form, "hub.secret": "€" * 66}).status == 202
    event = {"type": "t", "data": {}, "callback": "http://127.0.0.1:9/z", "callback_secret": "€" * 100}
    refused = hub.call("POST", "/topics/orders/events", orders["token"], event)
    assert (refused.status, refused.body["errors"][0]["field"]) == (400, "callback_secret")


@pytest.mark.parametrize("fields, lease", [({}, "31536000"), ({"lease_seconds": 3600}, "3600")])
def test_a_rest_subscriptions_verification_always_carries_hub_lease_seconds(
        hub, two_services, fields, lease):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber() as subscriber:
        push_subscribe(hub, billing["token"], ["orders"], subscriber.url, **fields)
        get_bus().dispatcher.run_verifications()
        [check] = subscriber.gets()
    assert check.query["hub.lease_seconds"] == [lease]


def test_pubsubhubbub_parameters_the_hub_does_not_know_are_ignored(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber() as subscriber:
        reply = hub_form(hub, billing["token"], {
            "hub.mode": "subscribe", "hub.topic": "orders", "hub.callback": subscriber.url,
            "hub.verify": "sync", "hub.verify_token": "x", "utm_source": "feed"})
        assert reply.status == 202, reply
        get_bus().dispatcher.run_verifications()
    assert status_of(hub, billing["token"], reply.body["id"])["status"] == "active"


def test_a_topic_url_is_discoverable_with_hub_and_self_links_even_without_a_token(
        hub, two_services):
    orders, _ = two_services
    hub.topic(orders["token"], "orders")
    expected = ['<http://localhost/hub>; rel="hub"', '<http://localhost/topics/orders>; rel="self"']
    shown = hub.call("GET", "/topics/orders", orders["token"])
    assert shown.status == 200 and shown.headers["Link"].split(", ") == expected
    for token in (None, "not-a-token"):
        anonymous = hub.call("GET", "/topics/orders", token)
        assert anonymous.status == 401 and anonymous.headers["Link"].split(", ") == expected
        assert "orders" not in json.dumps({k: v for k, v in anonymous.body.items()
                                           if k != "instance"})
    # the links say nothing about which topics exist
    assert hub.call("GET", "/topics/nothing-here").headers["Link"].endswith(
        '<http://localhost/topics/nothing-here>; rel="self"')


@pytest.mark.parametrize("topic", ["https://evil.example/topics/orders",
                                   "http://localhost.evil.example/topics/orders",
                                   "http://localhost:8080/topics/orders"])
def test_a_hub_topic_on_another_host_is_refused(hub, two_services, topic):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    reply = hub_form(hub, billing["token"], {"hub.mode": "subscribe", "hub.topic": topic,
                                             "hub.callback": "http://127.0.0.1:9/x"})
    assert (reply.status, reply.body["code"]) == (400, "foreign-topic-url"), reply
    assert reply.body["errors"][0]["field"] == "hub.topic"
    assert get_bus().storage.docs.list("subscription") == []


@pytest.mark.parametrize("topic", ["orders", "http://localhost/topics/orders",
                                   "https://bus.example.com/topics/orders",
                                   "https://BUS.example.com:443/topics/orders"])
def test_a_hub_topic_on_this_bus_or_a_bare_name_is_accepted(hub, two_services, monkeypatch,
                                                            topic):
    monkeypatch.setenv("TLKS_PUBLIC_URL", "https://bus.example.com")
    get_bus.cache_clear()
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    reply = hub_form(hub, billing["token"], {"hub.mode": "subscribe", "hub.topic": topic,
                                             "hub.callback": "http://127.0.0.1:9/x"})
    assert reply.status == 202, reply
    doc = get_bus().storage.docs.get("subscription", reply.body["id"])
    assert doc["topics"] == ["orders"]
    assert doc["topic_urls"] == {"orders": "https://bus.example.com/topics/orders"}


def test_a_hub_topic_url_that_is_not_a_topic_path_is_refused(hub, two_services):
    _, billing = two_services
    for topic in ("http://localhost/queues/orders", "http://localhost/topics/orders?x=1",
                  "http://localhost/topics/a/b", "http://localhost:99999/topics/orders"):
        reply = hub_form(hub, billing["token"], {"hub.mode": "subscribe", "hub.topic": topic,
                                                 "hub.callback": "http://127.0.0.1:9/x"})
        assert (reply.status, reply.body["code"]) == (400, "validation-failed"), (topic, reply)


def test_failures_are_retried_until_delivered_and_every_attempt_is_logged(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    answers = iter([500, 502, 204])

    def flaky(request):
        if request.method == "GET":
            return confirm_challenge(request)
        return next(answers), b"oops", {}

    with Subscriber(flaky) as subscriber:
        sub = push_subscribe(hub, billing["token"], ["orders"], subscriber.url)
        get_bus().dispatcher.run_verifications()
        event_id = publish(hub, orders["token"], "orders")
        dispatch()
        assert len(subscriber.posts()) == 3
    log = hub.call("GET", f"/subscriptions/{sub['id']}/deliveries", billing["token"]).body
    attempts = sorted(log["deliveries"], key=lambda a: a["attempt"])
    assert [(a["event_id"], a["attempt"], a["status"]) for a in attempts] == \
        [(event_id, 1, 500), (event_id, 2, 502), (event_id, 3, 204)]
    assert attempts[0]["response_snippet"] == "oops" and attempts[0]["latency_ms"] >= 0


def test_always_failing_endpoint_dead_letters_then_redrive_delivers(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    outage = Outage(b"down")

    with Subscriber(outage) as subscriber:
        sub = push_subscribe(hub, billing["token"], ["orders"], subscriber.url, max_deliveries=3)
        get_bus().dispatcher.run_verifications()
        event_id = publish(hub, orders["token"], "orders")
        dispatch()
        assert len(subscriber.posts()) == 3
        dead = hub.call("GET", f"/subscriptions/{sub['id']}/dead-letters", billing["token"]).body
        [letter] = dead["dead_letters"]
        assert letter["id"] == event_id
        assert [a["status"] for a in letter["attempts"]] == [500, 500, 500]
        outage.recover()
        redriven = hub.call("POST", f"/subscriptions/{sub['id']}/dead-letters/redrive",
                            billing["token"], {})
        assert redriven.body == {"redriven": 1}
        dispatch()
        assert len(subscriber.posts()) == 4 and subscriber.posts()[-1].headers
    dead = hub.call("GET", f"/subscriptions/{sub['id']}/dead-letters", billing["token"]).body
    assert dead["dead_letters"] == []


def test_gone_removes_the_subscription(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber(lambda r: confirm_challenge(r) if r.method == "GET" else (410, b"", {})) \
            as subscriber:
        sub = push_subscribe(hub, billing["token"], ["orders"], subscriber.url)
        get_bus().dispatcher.run_verifications()
        publish(hub, orders["token"], "orders")
        dispatch(rounds=2)
        assert len(subscriber.posts()) == 1
    assert hub.call("GET", f"/subscriptions/{sub['id']}", billing["token"]).status == 404


def test_retry_after_is_honoured(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber(lambda r: confirm_challenge(r) if r.method == "GET"
                    else (429, b"", {"Retry-After": "120"})) as subscriber:
        sub = push_subscribe(hub, billing["token"], ["orders"], subscriber.url)
        get_bus().dispatcher.run_verifications()
        publish(hub, orders["token"], "orders")
        dispatch(rounds=3)
        assert len(subscriber.posts()) == 1
    backlog = status_of(hub, billing["token"], sub["id"])["backlog"]
    assert backlog == {"visible": 0, "in_flight_or_delayed": 1}
    item = get_bus().storage.queues.head(sub["queue"])
    assert item.visible_at / 1000 - time.time() > 100


def test_breaker_pauses_a_failing_endpoint_and_nothing_is_dropped(hub, two_services,
                                                                  monkeypatch):
    monkeypatch.setenv("TLKS_BREAKER_THRESHOLD", "3")
    monkeypatch.setenv("TLKS_BREAKER_PROBE_SECONDS", "0.2")
    get_bus.cache_clear()
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    outage = Outage()

    with Subscriber(outage) as subscriber:
        sub = push_subscribe(hub, billing["token"], ["orders"], subscriber.url,
                             max_deliveries=100)
        get_bus().dispatcher.run_verifications()
        for n in range(5):
            publish(hub, orders["token"], "orders", data=n)
        for _ in range(5):
            get_bus().dispatcher.sweep()
        shown = status_of(hub, billing["token"], sub["id"])
        assert shown["status"] == "paused" and "circuit open" in shown["status_reason"]
        assert shown["backlog"]["visible"] + shown["backlog"]["in_flight_or_delayed"] == 5
        outage.recover()
        time.sleep(0.5)
        dispatch(rounds=200, pause=0.1)
        assert status_of(hub, billing["token"], sub["id"])["status"] == "active"
        delivered = sorted(json.loads(p.body)["data"] for p in subscriber.posts()
                           if json.loads(p.body)["data"] is not None)
    assert set(delivered) == {0, 1, 2, 3, 4}


def test_manual_pause_stops_delivery_and_resume_restarts_it(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber() as subscriber:
        sub = push_subscribe(hub, billing["token"], ["orders"], subscriber.url)
        get_bus().dispatcher.run_verifications()
        paused = hub.call("POST", f"/subscriptions/{sub['id']}/pause", billing["token"])
        assert paused.body["status"] == "paused"
        publish(hub, orders["token"], "orders")
        get_bus().dispatcher.sweep()
        assert subscriber.posts() == []
        assert hub.call("POST", f"/subscriptions/{sub['id']}/resume",
                        billing["token"]).body["status"] == "active"
        dispatch()
        assert len(subscriber.posts()) == 1


def test_ordered_subscription_delivers_in_order_despite_a_retry(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders", discipline="fifo")
    failed_once = set()

    def endpoint(request):
        if request.method == "GET":
            return confirm_challenge(request)
        n = json.loads(request.body)["data"]
        if n == 1 and n not in failed_once:
            failed_once.add(n)
            return 500, b"", {}
        return 204, b"", {}

    with Subscriber(endpoint) as subscriber:
        push_subscribe(hub, billing["token"], ["orders"], subscriber.url, ordered=True)
        get_bus().dispatcher.run_verifications()
        for n in range(5):
            publish(hub, orders["token"], "orders", data=n)
        dispatch(rounds=100)
        order = [json.loads(p.body)["data"] for p in subscriber.posts()]
    assert order == [0, 1, 1, 2, 3, 4]


def test_ordered_needs_a_fifo_topic(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "stack", discipline="lifo")
    reply = hub.call("POST", "/subscriptions", billing["token"],
                     {"topics": ["stack"], "mode": "push", "callback": "http://127.0.0.1:9/x",
                      "ordered": True})
    assert (reply.status, reply.body["code"]) == (409, "ordered-needs-fifo")


def test_websub_hub_subscribe_and_unsubscribe_are_verified(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber() as subscriber:
        form = (f"hub.mode=subscribe&hub.topic=http%3A%2F%2Flocalhost%2Ftopics%2Forders"
                f"&hub.callback={subscriber.url}&hub.secret={SECRET}&hub.lease_seconds=3600")
        reply = hub.call("POST", "/hub", billing["token"], raw=form,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert reply.status == 202, reply
        get_bus().dispatcher.run_verifications()
        shown = status_of(hub, billing["token"], reply.body["id"])
        assert shown["status"] == "active" and shown["lease_seconds"] == 3600
        assert shown["expires_at"]
        publish(hub, orders["token"], "orders")
        dispatch()
        assert len(subscriber.posts()) == 1
        form = (f"hub.mode=unsubscribe&hub.topic=orders&hub.callback={subscriber.url}")
        assert hub.call("POST", "/hub", billing["token"], raw=form, headers={
            "Content-Type": "application/x-www-form-urlencoded"}).status == 202
        get_bus().dispatcher.run_verifications()
        assert subscriber.gets()[-1].query["hub.mode"] == ["unsubscribe"]
    assert hub.call("GET", f"/subscriptions/{reply.body['id']}", billing["token"]).status == 404


def test_expired_lease_stops_delivery(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber() as subscriber:
        sub = push_subscribe(hub, billing["token"], ["orders"], subscriber.url,
                             lease_seconds=60)
        get_bus().dispatcher.run_verifications()
        doc = get_bus().storage.docs.get("subscription", sub["id"])
        doc["expires_epoch"] = time.time() - 1
        get_bus().storage.docs.put("subscription", sub["id"], doc)
        publish(hub, orders["token"], "orders")
        get_bus().dispatcher.sweep()
        assert subscriber.posts() == []
    assert status_of(hub, billing["token"], sub["id"])["status"] == "expired"


def test_a_delivery_that_waited_for_a_thread_renews_its_lease_before_the_attempt(
        hub, two_services, monkeypatch):
    monkeypatch.setenv("TLKS_DELIVERY_READ_TIMEOUT", "3")
    get_bus.cache_clear()
    orders, billing = two_services
    hub.topic(orders["token"], "orders")

    def slow(request):
        if request.method == "GET":
            return confirm_challenge(request)
        time.sleep(1.5)
        return 204, b"", {}
    with Subscriber(slow) as subscriber:
        sub = push_subscribe(hub, billing["token"], ["orders"], subscriber.url)
        get_bus().dispatcher.run_verifications()
        sub = get_bus().storage.docs.get("subscription", sub["id"])
        publish(hub, orders["token"], "orders")
        queues = get_bus().storage.queues
        # as if it had sat in the pool until 1 s of its lease was left
        [lease] = queues.lease(sub["queue"], 1, 1)
        taken_meanwhile = []
        timer = threading.Timer(1.2, lambda: taken_meanwhile.extend(
            queues.lease(sub["queue"], 1, 30)))
        timer.start()
        assert get_bus().dispatcher._deliver(sub, lease) is True
        timer.join()
        assert taken_meanwhile == []                 # the renewed lease still held it
        assert len(subscriber.posts()) == 1 and queues.size(sub["queue"]).total == 0


@pytest.mark.parametrize("callback", [
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/hook", "http://[::1]/hook",
    "http://localhost/hook", "http://127.0.0.1:8080/hook", "ftp://example.com/x",
    "http://user:pw@example.com/x", "not a url",
])
def test_callbacks_to_internal_addresses_are_refused_outside_local(api, two_services, callback):
    orders, billing = two_services
    api.topic(orders["token"], "orders")
    reply = api.call("POST", "/subscriptions", billing["token"],
                     {"topics": ["orders"], "mode": "push", "callback": callback})
    assert reply.status == 400, reply
    assert reply.body["code"] in ("callback-not-allowed", "validation-failed")


def test_push_options_on_a_pull_subscription_are_refused(api, two_services):
    orders, billing = two_services
    api.topic(orders["token"], "orders")
    reply = api.call("POST", "/subscriptions", billing["token"],
                     {"topics": ["orders"], "callback": "http://example.com/x"})
    assert (reply.status, reply.body["code"]) == (400, "validation-failed")


def test_content_only_push_subscription_is_verified_and_delivered(hub, two_services):
    orders, billing = two_services
    hub.topic(orders["token"], "orders")
    with Subscriber() as subscriber:
        sub = push_subscribe(hub, billing["token"], [], subscriber.url,
                             filter={"type": ["order.shipped"]})
        get_bus().dispatcher.run_verifications()
        [check] = subscriber.gets()
        assert check.query["hub.topic"][0].endswith(f"/subscriptions/{sub['id']}")
        assert status_of(hub, billing["token"], sub["id"])["status"] == "active"
        publish(hub, orders["token"], "orders", type="order.created")
        publish(hub, orders["token"], "orders", type="order.shipped")
        dispatch()
        assert [json.loads(p.body)["type"] for p in subscriber.posts()] == ["order.shipped"]
        assert 'rel="self"' in subscriber.posts()[0].headers["Link"]
