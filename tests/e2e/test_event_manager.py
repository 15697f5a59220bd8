"""The event manager over HTTP: synchronous request/reply and result callbacks,
through the real local server (DynamoDB emulator) and its push worker."""
import base64
import json
import threading
import time

from standardwebhooks.webhooks import Webhook

from tests.e2e.test_push_delivery import Client, wait_until
from tests.support.subscriber import Outage, Subscriber, confirm_challenge


def services(bus, prefix: str, topic_fields=None):
    admin = Client(bus.url, bus.admin_token)
    producer = Client(bus.url, admin("POST", "/services", {"name": f"{prefix}-p"})[1]["token"])
    responder = Client(bus.url, admin("POST", "/services", {"name": f"{prefix}-r"})[1]["token"])
    assert producer("POST", "/topics", {"name": prefix, **(topic_fields or {})})[0] == 201
    return producer, responder


def push_responder(client, topic, callback, **fields):
    status, sub = client("POST", "/subscriptions", {"topics": [topic], "mode": "push",
                                                    "callback": callback, **fields})
    assert status == 202, sub
    assert wait_until(lambda: client("GET", f"/subscriptions/{sub['id']}")[1]["status"]
                      == "active")
    return sub


def answering(request):
    """A push responder: confirms WebSub, answers each event with its data doubled."""
    if request.method == "GET":
        return confirm_challenge(request)
    event = json.loads(request.body)
    reply = {"specversion": "1.0", "id": "r-" + event["id"], "source": "pricing",
             "type": "price.quoted", "data": {"total": event["data"]["amount"] * 2}}
    return 200, json.dumps(reply).encode(), {"Content-Type": "application/cloudevents+json"}


def test_sync_publish_returns_the_push_responders_reply_in_one_call(live_bus):
    producer, responder = services(live_bus, "sync-push")
    with Subscriber(answering) as endpoint:
        push_responder(responder, "sync-push", endpoint.url, responder=True)
        response = producer.session.post(
            f"{live_bus.url}/topics/sync-push/events", headers={"Prefer": "wait=10"},
            json={"type": "price.requested", "data": {"amount": 21}}, timeout=30)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["type"] == "price.quoted" and reply["data"] == {"total": 42}
    assert reply["source"] == "sync-push-r" and reply["specversion"] == "1.0"
    event_id = reply["correlationid"]
    assert response.headers["Location"].endswith(f"/events/{event_id}")
    status, view = producer("GET", f"/events/{event_id}")
    assert view["status"] == "replied" and view["reply"]["id"] == reply["id"]


def test_a_slow_responder_gives_202_and_the_reply_appears_at_the_location(live_bus):
    producer, responder = services(live_bus, "sync-slow")
    status, sub = responder("POST", "/subscriptions", {"topics": ["sync-slow"],
                                                       "responder": True})
    assert status == 201
    response = producer.session.post(
        f"{live_bus.url}/topics/sync-slow/events", headers={"Prefer": "wait=1"},
        json={"type": "report.requested", "data": {"n": 1}}, timeout=30)
    assert response.status_code == 202, response.text
    location = response.headers["Location"]
    event_id = response.json()["id"]
    assert location.endswith(f"/events/{event_id}")

    status, pulled = responder("POST", f"/subscriptions/{sub['id']}/pull", {"max_messages": 1})
    [message] = pulled["messages"]
    assert message["event"]["replyto"].endswith(f"/events/{event_id}/reply")
    assert producer("GET", f"/events/{event_id}")[1]["status"] == "delivered"
    assert responder("POST", f"/events/{event_id}/reply",
                     {"type": "report.ready", "data": {"rows": 3}})[0] == 201
    assert responder("POST", f"/subscriptions/{sub['id']}/ack",
                     {"receipts": [message["receipt"]]})[1]["acked"]
    view = producer.session.get(location, params={"wait": 5}, timeout=30).json()
    assert view["status"] == "replied"
    assert view["reply"]["data"] == {"rows": 3}
    assert view["reply"]["correlationid"] == event_id
    assert "replied_at" in view and view["responder"] == "sync-slow-r"
    # the first reply wins
    status, problem = responder("POST", f"/events/{event_id}/reply", {"data": "again"})
    assert status == 409 and problem["code"] == "already-replied"


def test_a_pull_responders_reply_completes_a_waiting_sync_request(live_bus):
    producer, responder = services(live_bus, "sync-pull")
    status, sub = responder("POST", "/subscriptions", {"topics": ["sync-pull"],
                                                       "responder": True})

    def consume():
        deadline = time.time() + 20
        while time.time() < deadline:
            _, pulled = responder("POST", f"/subscriptions/{sub['id']}/pull",
                                  {"max_messages": 1, "wait_seconds": 1})
            for message in pulled["messages"]:
                event = message["event"]
                responder("POST", f"/events/{event['id']}/reply",
                          {"data": {"echo": event["data"]}})
                responder("POST", f"/subscriptions/{sub['id']}/ack",
                          {"receipts": [message["receipt"]]})
                return
    worker = threading.Thread(target=consume)
    worker.start()
    response = producer.session.post(f"{live_bus.url}/topics/sync-pull/events",
                                     json={"type": "q", "data": 7, "mode": "sync"}, timeout=30)
    worker.join()
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"echo": 7}


def test_sync_publish_without_a_responder_is_refused_and_stores_nothing(live_bus):
    producer, responder = services(live_bus, "sync-none")
    assert responder("POST", "/subscriptions", {"topics": ["sync-none"]})[0] == 201
    status, problem = producer("POST", "/topics/sync-none/events",
                               {"id": "never-stored", "type": "q", "data": 1, "mode": "sync"})
    assert status == 409 and problem["code"] == "no-responder"
    assert producer("GET", "/events/never-stored")[0] == 404


def test_a_failing_push_responder_gives_the_producer_a_problem_saying_why(live_bus):
    producer, responder = services(live_bus, "sync-fail")
    with Subscriber(Outage(b"pricing is down")) as endpoint:
        push_responder(responder, "sync-fail", endpoint.url, responder=True, max_deliveries=2)
        response = producer.session.post(
            f"{live_bus.url}/topics/sync-fail/events", headers={"Prefer": "wait=5"},
            json={"type": "price.requested", "data": {"amount": 1}}, timeout=30)
    assert response.status_code == 502, response.text
    problem = response.json()
    assert response.headers["Content-Type"] == "application/problem+json"
    assert problem["code"] in ("responder-failed", "responder-error")
    assert "500" in problem["detail"]
    # not silently discarded: the responder's dead letters hold it
    sub_id = responder("GET", "/subscriptions")[1]["subscriptions"][0]["id"]
    assert wait_until(lambda: responder("GET", f"/subscriptions/{sub_id}/dead-letters")[1]
                      ["dead_letters"])
    status, view = producer("GET", f"/events/{problem['event_id']}")
    assert view["status"] == "failed" and "500" in view["reason"]


def test_the_producer_callback_gets_one_signed_result_per_event_with_each_outcome(live_bus):
    producer, acker = services(live_bus, "async-cb")
    admin = Client(live_bus.url, live_bus.admin_token)
    failer = Client(live_bus.url, admin("POST", "/services", {"name": "async-cb-f"})[1]["token"])
    secret = "producer-callback-secret"
    with Subscriber() as good, Subscriber(Outage()) as bad, Subscriber() as results:
        ok_sub = push_responder(acker, "async-cb", good.url)
        bad_sub = push_responder(failer, "async-cb", bad.url, max_deliveries=2)
        ids = []
        for n in range(3):
            status, body = producer("POST", "/topics/async-cb/events", {
                "type": "order.created", "data": {"n": n}, "callback": results.url,
                "callback_secret": secret})
            assert status == 202, body
            ids.append(body["id"])
        assert wait_until(lambda: len(results.posts()) >= 3, timeout=60)
        time.sleep(0.5)                       # nothing more may come
        posts = results.posts()
    assert len(posts) == 3
    signer = Webhook(base64.b64encode(secret.encode()).decode())
    by_event = {}
    for post in posts:
        headers = {k.lower(): v for k, v in post.headers.items()}
        signer.verify(post.body, headers)      # raises on a bad signature
        result = json.loads(post.body)
        assert result["type"] == "bus.event.result"
        by_event[result["data"]["event_id"]] = result["data"]
    assert sorted(by_event) == sorted(ids)
    for data in by_event.values():
        outcomes = {o["subscription"]: o for o in data["outcomes"]}
        assert outcomes[ok_sub["id"]]["outcome"] == "acked"
        assert outcomes[bad_sub["id"]]["outcome"] == "dead-lettered"
        assert "500" in outcomes[bad_sub["id"]]["reason"]
        assert data["status"] == "partially-failed"


def test_a_callback_without_a_secret_gets_one_generated_and_returned(live_bus):
    producer, _ = services(live_bus, "async-gen")
    with Subscriber() as results:
        status, body = producer("POST", "/topics/async-gen/events",
                                {"type": "t", "data": 1, "callback": results.url})
        assert status == 202 and body["callback_secret"].startswith("whsec_")
        assert wait_until(lambda: results.posts())       # no subscribers: done at once
        post = results.posts()[0]
    headers = {k.lower(): v for k, v in post.headers.items()}
    Webhook(body["callback_secret"]).verify(post.body, headers)     # a Standard Webhooks secret
    assert json.loads(post.body)["data"]["outcomes"] == []
