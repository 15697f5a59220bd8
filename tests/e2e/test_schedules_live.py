"""``make run`` fires a ``rate(1 minute)`` schedule for real: the local server's
schedule loop, its clock, no test hooks.  (Takes a minute by nature.)"""
import time
from datetime import datetime

from tests.e2e.test_push_delivery import Client, wait_until


def test_the_local_server_fires_a_rate_1_minute_schedule_within_about_a_minute(live_bus):
    admin = Client(live_bus.url, live_bus.admin_token)
    owner = Client(live_bus.url, admin("POST", "/services", {"name": "cron-live"})[1]["token"])
    assert owner("POST", "/topics", {"name": "cron-live"})[0] == 201
    status, sub = owner("POST", "/subscriptions", {"topics": ["cron-live"]})
    created_at = time.time()
    status, schedule = owner("POST", "/schedules", {
        "name": "every-minute", "expression": "rate(1 minute)",
        "target": {"topic": "cron-live", "type": "heartbeat", "data": {"beat": True}}})
    assert status == 201, schedule
    first = datetime.fromisoformat(schedule["next_fire_times"][0]).timestamp()
    assert 59 <= first - created_at <= 61
    messages = []
    while not messages and time.time() - created_at < 80:
        messages = owner("POST", f"/subscriptions/{sub['id']}/pull",
                         {"max_messages": 1, "wait_seconds": 5})[1]["messages"]
    assert messages, "no scheduled event within 80 s"
    received = time.time()
    event = messages[0]["event"]
    assert event["type"] == "heartbeat" and event["scheduleid"] == "every-minute"
    assert 58 <= received - created_at <= 70
    # the run state is written just after the publish
    assert wait_until(lambda: owner("GET", "/schedules/every-minute")[1].get("fired_count") == 1)
    view = owner("GET", "/schedules/every-minute")[1]
    assert view["last_occurrence"] == event["scheduledtime"]
    assert view["next_fire_at"] > event["scheduledtime"]
