"""Push delivery through the real local server and its worker, to real subscribers."""
import base64
import collections
import hashlib
import hmac
import json
import random
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import ADMIN_TOKEN, ROOT, _free_port, local_bus
from tests.support.subscriber import Subscriber, confirm_challenge

SECRET = "e2e-secret"


@pytest.fixture(scope="module")
def memory_bus(tmp_path_factory):
    """The local runner on the memory driver: delivery logic without moto's per-call cost."""
    with local_bus(tmp_path_factory.mktemp("memory_bus") / "server.log", "memory") as (bus, _):
        yield bus


class Client:
    def __init__(self, url: str, token: str) -> None:
        self.url, self.session = url, requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, path: str, body=None, **kwargs):
        response = self.session.request(method, self.url + path, json=body, timeout=60, **kwargs)
        return response.status_code, (response.json() if response.content else None)


def setup(url: str, admin: str, prefix: str):
    admin_client = Client(url, admin)
    producer = Client(url, admin_client("POST", "/services", {"name": f"{prefix}-p"})[1]["token"])
    consumer = Client(url, admin_client("POST", "/services", {"name": f"{prefix}-c"})[1]["token"])
    assert producer("POST", "/topics", {"name": prefix})[0] == 201
    return producer, consumer


def wait_until(predicate, timeout=30.0, every=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def test_websub_round_trip_with_signed_content(live_bus):
    producer, consumer = setup(live_bus.url, live_bus.admin_token, "ws")
    with Subscriber() as subscriber:
        form = {"hub.mode": "subscribe", "hub.topic": f"{live_bus.url}/topics/ws",
                "hub.callback": subscriber.url, "hub.secret": SECRET}
        status, body = consumer("POST", "/hub", data=form)
        assert status == 202
        sub_id = body["id"]
        assert wait_until(lambda: consumer("GET", f"/subscriptions/{sub_id}")[1]["status"]
                          == "active")
        status, published = producer("POST", "/topics/ws/events", {"type": "t", "data": 1})
        assert wait_until(lambda: subscriber.posts())
        post = subscriber.posts()[0]
        headers = {k.lower(): v for k, v in post.headers.items()}
        assert headers["x-hub-signature"] == "sha256=" + hmac.new(
            SECRET.encode(), post.body, hashlib.sha256).hexdigest()
        Webhook(base64.b64encode(SECRET.encode()).decode()).verify(post.body, headers)
        assert json.loads(post.body)["id"] == published["id"]
        form["hub.mode"] = "unsubscribe"
        assert consumer("POST", "/hub", data=form)[0] == 202
        assert wait_until(lambda: consumer("GET", f"/subscriptions/{sub_id}")[0] == 404)
        assert subscriber.gets()[-1].query["hub.mode"] == ["unsubscribe"]


def test_a_subscription_without_a_secret_is_signed_with_the_one_it_was_shown(live_bus):
    producer, consumer = setup(live_bus.url, live_bus.admin_token, "gen")
    with Subscriber() as subscriber:
        status, sub = consumer("POST", "/subscriptions", {"topics": ["gen"], "mode": "push",
                                                          "callback": subscriber.url})
        assert status == 202 and sub["secret"].startswith("whsec_")
        assert wait_until(lambda: consumer("GET", f"/subscriptions/{sub['id']}")[1]["status"]
                          == "active")
        assert subscriber.gets()[0].query["hub.lease_seconds"] == ["31536000"]
        status, published = producer("POST", "/topics/gen/events", {"type": "t", "data": 1})
        assert wait_until(lambda: subscriber.posts())
        post = subscriber.posts()[0]
    assert Webhook(sub["secret"]).verify(post.body, post.headers)["id"] == published["id"]
    assert "secret" not in consumer("GET", f"/subscriptions/{sub['id']}")[1]


def test_a_topic_url_tells_a_token_less_subscriber_where_the_hub_is(live_bus):
    setup(live_bus.url, live_bus.admin_token, "disc")
    response = requests.get(f"{live_bus.url}/topics/disc", timeout=10)
    assert response.status_code == 401
    assert response.links["hub"]["url"] == f"{live_bus.url}/hub"
    assert response.links["self"]["url"] == f"{live_bus.url}/topics/disc"


def test_wrong_challenge_echo_leaves_the_subscription_inactive(live_bus):
    _, consumer = setup(live_bus.url, live_bus.admin_token, "wrong")
    with Subscriber(lambda r: (200, b"nope", {})) as subscriber:
        status, sub = consumer("POST", "/subscriptions", {"topics": ["wrong"], "mode": "push",
                                                          "callback": subscriber.url})
        assert status == 202
        assert wait_until(lambda: consumer("GET", f"/subscriptions/{sub['id']}")[1]["status"]
                          == "denied")


def test_flaky_subscriber_gets_every_one_of_2000_events_acked_once(memory_bus):
    producer, consumer = setup(memory_bus.url, memory_bus.admin_token, "flaky")
    rng = random.Random(7)
    delivered = collections.Counter()
    lock = threading.Lock()

    def flaky(request):
        if request.method == "GET":
            return confirm_challenge(request)
        roll = rng.random()
        if roll < 0.2:
            return 500, b"flaky", {}
        if roll < 0.3:
            time.sleep(0.8)            # past the bus's 0.5 s read timeout
            return 204, b"", {}
        with lock:
            delivered[request.headers["webhook-id"]] += 1
        return 204, b"", {}

    total = 2000
    with Subscriber(flaky) as subscriber:
        status, sub = consumer("POST", "/subscriptions", {
            "topics": ["flaky"], "mode": "push", "callback": subscriber.url, "secret": SECRET,
            "max_deliveries": 50})
        assert wait_until(lambda: consumer("GET", f"/subscriptions/{sub['id']}")[1]["status"]
                          == "active")
        started = time.time()
        ids = []
        for start in range(0, total, 100):
            status, body = producer("POST", "/topics/flaky/events", {"events": [
                {"type": "t", "data": n, "id": f"flaky-{n}"} for n in range(start, start + 100)]})
            assert status == 202
            ids += [e["id"] for e in body["events"]]
        assert wait_until(lambda: len(delivered) == total, timeout=240, every=0.5), \
            f"{len(delivered)} of {total} delivered"
        elapsed = time.time() - started
        failures = len(subscriber.posts()) - total
    timed_out = [d for d in consumer("GET", f"/subscriptions/{sub['id']}/deliveries?limit=1000")[1]
                 ["deliveries"] if d["status"] is None]
    assert set(delivered) == set(ids)
    assert set(delivered.values()) == {1}, "an event was acknowledged twice"
    assert timed_out and all("timeout" in d["error"] for d in timed_out)
    print(f"\n{total} events, {failures} failed attempts, all delivered in {elapsed:.1f} s")


def test_worker_killed_mid_delivery_loses_nothing(tmp_path):
    aws_port = _free_port()
    emulator = subprocess.Popen([sys.executable, "-m", "chalicelib.runtime.emulator", "-H",
                                 "127.0.0.1", "-p", str(aws_port)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prefix = f"tlks-crash-{uuid.uuid4().hex[:6]}"      # both servers share the tables

    def start(name):
        return local_bus(tmp_path / f"{name}.log", "dynamodb", aws_port,
                         TLKS_TABLE_PREFIX=prefix, TLKS_DELIVERY_READ_TIMEOUT="2",
                         TLKS_DELIVERY_CONNECT_TIMEOUT="1")

    first_post = threading.Event()
    mode = {"hang": True}

    def endpoint(request):
        if request.method == "GET":
            return confirm_challenge(request)
        if mode["hang"]:
            first_post.set()
            time.sleep(5)
            return 500, b"", {}
        return 204, b"", {}

    try:
        with Subscriber(endpoint) as subscriber:
            with start("a") as (bus_a, worker_a):
                producer, consumer = setup(bus_a.url, ADMIN_TOKEN, "crash")
                status, sub = consumer("POST", "/subscriptions", {
                    "topics": ["crash"], "mode": "push", "callback": subscriber.url})
                assert wait_until(lambda: consumer("GET", f"/subscriptions/{sub['id']}")[1]
                                  ["status"] == "active")
                _, published = producer("POST", "/topics/crash/events",
                                        {"type": "t", "data": "x"})
                assert first_post.wait(20)
                worker_a.send_signal(signal.SIGKILL)     # mid-delivery: no answer, no ack
                worker_a.wait()
            mode["hang"] = False
            with start("b"):
                assert wait_until(lambda: any(json.loads(p.body)["id"] == published["id"]
                                              for p in subscriber.posts()[1:]), timeout=40)
    finally:
        emulator.terminate()
        emulator.wait(10)
