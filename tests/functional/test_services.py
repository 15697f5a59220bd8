"""Registration: only registered services use the bus; tokens are shown once."""
import time

from tests.functional.conftest import ADMIN


def test_registering_a_service_returns_its_token_once(api):
    reply = api.call("POST", "/services", ADMIN, {"name": "orders", "description": "Orders"})
    assert reply.status == 201
    assert reply.body["token"].startswith("tlks_")
    assert reply.body["id"].startswith("svc_")
    fetched = api.call("GET", f"/services/{reply.body['id']}", ADMIN)
    assert fetched.status == 200 and "token" not in fetched.body
    assert "token_hash" not in fetched.body


def test_a_registered_token_authenticates(api):
    orders = api.register("orders")
    assert api.call("GET", "/topics", orders["token"]).status == 200


def test_service_names_are_unique(api):
    api.register("orders")
    reply = api.call("POST", "/services", ADMIN, {"name": "orders"})
    assert (reply.status, reply.body["code"]) == (409, "service-exists")


def test_a_service_may_update_its_own_profile_but_not_another(api, two_services):
    orders, billing = two_services
    mine = api.call("PATCH", f"/services/{orders['id']}", orders["token"],
                    {"description": "new", "metadata": {"team": "a"}})
    assert mine.status == 200 and mine.body["metadata"] == {"team": "a"}
    theirs = api.call("PATCH", f"/services/{billing['id']}", orders["token"], {"description": "x"})
    assert (theirs.status, theirs.body["code"]) == (403, "not-your-service")


def test_rotating_a_token_revokes_the_old_one(api):
    orders = api.register("orders")
    rotated = api.call("POST", f"/services/{orders['id']}/token", orders["token"])
    assert rotated.status == 200 and rotated.body["token"] != orders["token"]
    assert api.call("GET", "/topics", orders["token"]).status == 401
    assert api.call("GET", "/topics", rotated.body["token"]).status == 200


def test_deregistering_stops_the_token_at_once_and_removes_subscriptions(api, two_services):
    orders, billing = two_services
    topic = api.topic(orders["token"])
    sub = api.subscribe(billing["token"], [topic["name"]])
    assert api.call("DELETE", f"/services/{billing['id']}", ADMIN).status == 204
    assert api.call("GET", "/topics", billing["token"]).status == 401
    assert api.call("GET", f"/subscriptions/{sub['id']}", ADMIN).status == 404
    published = api.call("POST", f"/topics/{topic['name']}/events", orders["token"],
                         {"type": "t", "data": {}})
    assert published.status == 202
    assert api.call("GET", f"/events/{published.body['id']}", orders["token"]) \
        .body["subscriptions"] == 0


def test_only_the_admin_registers_and_deregisters(api, two_services):
    orders, billing = two_services
    assert api.call("POST", "/services", orders["token"], {"name": "x"}).status == 403
    assert api.call("DELETE", f"/services/{billing['id']}", orders["token"]).status == 403


def test_a_deregistered_name_can_be_registered_again(api):
    orders = api.register("orders")
    api.call("DELETE", f"/services/{orders['id']}", ADMIN)
    assert api.call("POST", "/services", ADMIN, {"name": "orders"}).status == 201


def test_health_needs_no_token_and_reports_storage(api):
    reply = api.call("GET", "/health")
    assert reply.status == 200 and reply.body["status"] == "ok"
    assert reply.body["storage"] == "dynamodb"


def test_created_resources_answer_with_their_location(api):
    svc = api.call("POST", "/services", ADMIN, {"name": "located"})
    assert svc.headers["Location"].endswith(f"/services/{svc.body['id']}")
    token = svc.body["token"]
    topic = api.call("POST", "/topics", token, {"name": "located"})
    assert topic.headers["Location"].endswith("/topics/located")
    sub = api.call("POST", "/subscriptions", token, {"topics": ["located"]})
    assert sub.headers["Location"].endswith(f"/subscriptions/{sub.body['id']}")
    queue = api.call("POST", "/queues", token, {"name": "located"})
    assert queue.headers["Location"].endswith("/queues/located")
    event = api.call("POST", "/topics/located/events", token, {"type": "t", "data": 1})
    assert event.status == 202
    assert event.headers["Location"].endswith(f"/events/{event.body['id']}")


def test_health_is_503_with_retry_after_when_storage_does_not_answer(api, monkeypatch):
    from chalicelib.bootstrap import get_bus
    from chalicelib.errors import StorageUnavailable

    def down():
        raise StorageUnavailable("the table does not answer")
    monkeypatch.setattr(get_bus().storage.docs, "ping", down)
    reply = api.call("GET", "/health")
    assert reply.status == 503 and reply.body["status"] == "unavailable"
    assert reply.headers["Retry-After"] == "5"


def test_services_and_subscriptions_are_listed_oldest_first(api):
    names = []
    for n in range(6):
        names.append(api.register(f"svc-{n}")["name"])
        time.sleep(0.002)                  # creation times have millisecond precision
    listed = [s["name"] for s in api.call("GET", "/services", ADMIN).body["services"]]
    assert [n for n in listed if n in names] == names
