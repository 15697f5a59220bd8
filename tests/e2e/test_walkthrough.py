"""The README's walkthrough, over real HTTP against the local server on DynamoDB (moto)."""
import requests

from tests.e2e.client import call


def test_register_topic_subscribe_publish_pull_ack(live_bus):
    status, orders = call(live_bus, "POST", "/services", live_bus.admin_token,
                          {"name": "e2e-orders"})
    assert status == 201
    status, billing = call(live_bus, "POST", "/services", live_bus.admin_token,
                           {"name": "e2e-billing"})
    assert status == 201
    assert call(live_bus, "POST", "/topics", orders["token"],
                {"name": "e2e-orders", "discipline": "fifo"})[0] == 201
    status, sub = call(live_bus, "POST", "/subscriptions", billing["token"],
                       {"topics": ["e2e-orders"], "mode": "pull"})
    assert status == 201
    status, published = call(live_bus, "POST", "/topics/e2e-orders/events", orders["token"],
                             {"type": "order.created", "data": {"order_id": 42}})
    assert status == 202
    status, pulled = call(live_bus, "POST", f"/subscriptions/{sub['id']}/pull", billing["token"],
                          {"max_messages": 10, "wait_seconds": 2})
    assert status == 200
    [message] = pulled["messages"]
    assert message["event"]["id"] == published["id"]
    assert message["event"]["data"] == {"order_id": 42}
    status, acked = call(live_bus, "POST", f"/subscriptions/{sub['id']}/ack", billing["token"],
                         {"receipts": [message["receipt"]]})
    assert status == 200 and acked["acked"] == [message["receipt"]]


def test_one_queue_of_each_discipline(live_bus):
    _, worker = call(live_bus, "POST", "/services", live_bus.admin_token, {"name": "e2e-worker"})
    token = worker["token"]
    expected = {"fifo": ["a", "b", "c"], "lifo": ["c", "b", "a"], "priority": ["b", "c", "a"]}
    for discipline, order in expected.items():
        name = f"e2e-{discipline}"
        assert call(live_bus, "POST", "/queues", token,
                    {"name": name, "discipline": discipline})[0] == 201
        messages = [{"body": "a", "priority": 1}, {"body": "b", "priority": 5},
                    {"body": "c", "priority": 5}]
        assert call(live_bus, "POST", f"/queues/{name}/messages", token,
                    {"messages": messages})[0] == 201
        _, leased = call(live_bus, "POST", f"/queues/{name}/lease", token, {"max_messages": 10})
        assert [m["body"] for m in leased["messages"]] == order, discipline


def test_problem_json_over_the_wire(live_bus):
    response = requests.post(live_bus.url + "/topics", data=b"{oops",
                             headers={"Authorization": f"Bearer {live_bus.admin_token}",
                                      "Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "malformed-json"
