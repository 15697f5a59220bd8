"""``make run`` fires a ``rate(1 minute)`` schedule for real: the local server's
schedule loop on its own clock, nothing hooked.  The schedule is made when the
session starts (``minute_schedule``), so the minute passes while other tests run."""
import time
from datetime import datetime

from tests.e2e.test_push_delivery import Client, wait_until


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_the_local_server_fires_a_rate_1_minute_schedule_a_minute_after_it_is_made(
        live_bus, minute_schedule):
    owner = Client(live_bus.url, minute_schedule["token"])
    created_at = minute_schedule["created_at"]
    first = _epoch(minute_schedule["schedule"]["next_fire_times"][0])
    assert 59 <= first - created_at <= 61
    deadline = max(created_at + 80, time.time() + 5)     # the session may be past it already
    messages = []
    while not messages and time.time() < deadline:
        messages = owner("POST", f"/subscriptions/{minute_schedule['subscription']}/pull",
                         {"max_messages": 10, "wait_seconds": 5})[1]["messages"]
    assert messages, "no scheduled event within 80 s of making the schedule"
    events = [m["event"] for m in messages]
    assert all(e["type"] == "heartbeat" and e["scheduleid"] == "every-minute" for e in events)
    scheduled = [_epoch(e["scheduledtime"]) for e in events]
    assert abs(scheduled[0] - first) < 0.01                 # the first occurrence, exactly
    assert all(abs(b - a - 60) < 0.01 for a, b in zip(scheduled, scheduled[1:]))
    published = _epoch(events[0]["time"])                   # when the bus fired it
    assert 0 <= published - scheduled[0] <= 3
    # the run state is written just after the publish
    assert wait_until(lambda: owner("GET", "/schedules/every-minute")[1].get("fired_count", 0)
                      >= len(events))
    view = owner("GET", "/schedules/every-minute")[1]
    assert _epoch(view["next_fire_at"]) > scheduled[-1]
