"""Logging rules change what a running server logs, with no restart."""
import json

from tests.e2e.test_push_delivery import Client, wait_until


def debug_lines(log, topic: str) -> list[dict]:
    lines = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"DEBUG"' in line:
            record = json.loads(line)
            if record.get("topic") == topic:
                lines.append(record)
    return lines


def test_a_debug_rule_for_one_topic_logs_that_topic_only_until_removed(live_bus):
    admin = Client(live_bus.url, live_bus.admin_token)
    producer = Client(live_bus.url, admin("POST", "/services", {"name": "log-p"})[1]["token"])
    consumer = Client(live_bus.url, admin("POST", "/services", {"name": "log-c"})[1]["token"])
    for topic in ("log-a", "log-b"):
        assert producer("POST", "/topics", {"name": topic})[0] == 201
    _, sub = consumer("POST", "/subscriptions", {"topics": ["log-a", "log-b"]})

    def publish_both(n):
        for topic in ("log-a", "log-b"):
            assert producer("POST", f"/topics/{topic}/events",
                            {"type": "t", "data": {"secret": f"s{n}"}})[0] == 202
        consumer("POST", f"/subscriptions/{sub['id']}/pull", {"max_messages": 10})

    publish_both(0)
    assert admin("PUT", "/logging", {"rules": [{"topic": "log-a", "level": "DEBUG"}]})[0] == 200
    publish_both(1)
    assert wait_until(lambda: len(debug_lines(live_bus.log, "log-a")) >= 2, timeout=10)
    lines = debug_lines(live_bus.log, "log-a")
    assert {line["message"] for line in lines} >= {"event published", "event delivering"}
    assert all(line["payload"] == "[redacted]" for line in lines)
    assert all(line.get("correlation_id") for line in lines
               if line["message"] == "event published")
    assert debug_lines(live_bus.log, "log-b") == []

    assert admin("PUT", "/logging", {"rules": []})[0] == 200
    seen = len(debug_lines(live_bus.log, "log-a"))
    publish_both(2)
    assert admin("GET", "/logging")[1]["rules"] == []
    assert len(debug_lines(live_bus.log, "log-a")) == seen
    assert debug_lines(live_bus.log, "log-b") == []
