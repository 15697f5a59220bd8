"""Scheduled events: the tick fires each occurrence once, at the right instant,
reading only what is due.  A controllable clock drives it (no sleeping)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from chalicelib.bootstrap import build_bus
from chalicelib.config import Settings
from chalicelib.domain import disciplines
from chalicelib.errors import ValidationFailed
from chalicelib.services.auth import ADMIN
from chalicelib.services.schedules import FIRE_QUEUE
from chalicelib.storage import open_storage
from chalicelib.storage.base import StoredItem
from chalicelib.storage.dynamodb import count_requests
from infra.tables import ensure_tables

UTC = timezone.utc


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta).total_seconds()


def memory_bus(clock):
    return build_bus(Settings(storage="memory", admin_token="admin"), clock=clock)


def owner_of(bus, topic="ticks"):
    service = bus.services.register(ADMIN, {"name": f"svc-{topic}"})
    me = bus.auth.authenticate(f"Bearer {service['token']}")
    bus.topics.create(me, {"name": topic})
    sub = bus.subscriptions.create(me, {"topics": [topic]})
    return me, sub


def started(at: datetime):
    """A memory bus on a clock at ``at``, a service, its topic ``ticks`` and a pull
    subscription to it: (clock, bus, principal, subscription)."""
    clock = Clock(at)
    bus = memory_bus(clock)
    me, sub = owner_of(bus)
    return clock, bus, me, sub


def drain(bus, me, sub) -> list[dict]:
    events = []
    while True:
        pulled = bus.subscriptions.pull(me, sub["id"], {"max_messages": 10})["messages"]
        if not pulled:
            return events
        events += [m["event"] for m in pulled]
        bus.subscriptions.ack(me, sub["id"], {"receipts": [m["receipt"] for m in pulled]})


def run_minutes(bus, clock, minutes: int) -> None:
    """Tick once a minute (as the scheduled lambda does) for ``minutes``."""
    for _ in range(minutes):
        clock.advance(minutes=1)
        bus.schedules.fire_due()


def fire_times(events) -> list[str]:
    return [e["scheduledtime"] for e in events]


def schedule(bus, me, name, expression, tz="UTC", **fields):
    return bus.schedules.create(me, {"name": name, "expression": expression, "timezone": tz,
                                     "target": {"topic": "ticks", "type": "tick",
                                                "data": {"n": name}}, **fields})


# ------------------------------------------------------------------ firing at the right instants

def test_cron_every_15_minutes_fires_on_the_quarter_hours_of_a_day():
    clock, bus, me, sub = started(datetime(2026, 3, 10, 0, 0, 30, tzinfo=UTC))
    schedule(bus, me, "quarterly", "cron(0/15 * * * ? *)")
    run_minutes(bus, clock, 24 * 60)
    times = fire_times(drain(bus, me, sub))
    expected = [(datetime(2026, 3, 10, tzinfo=UTC) + timedelta(minutes=15 * n))
                .isoformat(timespec="milliseconds").replace("+00:00", "Z")
                for n in range(1, 24 * 4 + 1)]     # through 00:00 the next day
    assert times == expected


def test_weekday_cron_in_new_york_follows_the_dst_change_across_a_month():
    clock, bus, me, sub = started(datetime(2026, 3, 1, 0, 0, tzinfo=UTC))
    schedule(bus, me, "standup", "cron(0 9 ? * MON-FRI *)", tz="America/New_York")
    run_minutes(bus, clock, 31 * 24 * 60)
    times = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in
             fire_times(drain(bus, me, sub))]
    assert len(times) == 22                        # the weekdays of March 2026
    assert all(t.weekday() < 5 for t in times)
    before = [t.hour for t in times if t < datetime(2026, 3, 8, tzinfo=UTC)]
    after = [t.hour for t in times if t > datetime(2026, 3, 9, tzinfo=UTC)]
    assert set(before) == {14} and set(after) == {13}     # EST, then EDT


def test_rate_fires_every_period_from_its_creation():
    clock, bus, me, sub = started(datetime(2026, 5, 1, 12, 0, 20, tzinfo=UTC))
    schedule(bus, me, "every5", "rate(5 minutes)")
    run_minutes(bus, clock, 60)
    times = fire_times(drain(bus, me, sub))
    assert times[:2] == ["2026-05-01T12:05:20.000Z", "2026-05-01T12:10:20.000Z"]
    assert len(times) == 12


def test_at_fires_once_and_the_schedule_completes():
    clock, bus, me, sub = started(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    schedule(bus, me, "once", "at(2026-06-01T10:30:00)", tz="Europe/Berlin")
    run_minutes(bus, clock, 24 * 60)
    assert fire_times(drain(bus, me, sub)) == ["2026-06-01T08:30:00.000Z"]
    view = bus.schedules.get(me, "once")
    assert view["status"] == "completed" and view["next_fire_times"] == []


def test_fired_events_carry_the_schedule_id_and_the_scheduled_time():
    clock, bus, me, sub = started(datetime(2026, 7, 1, 0, 0, tzinfo=UTC))
    schedule(bus, me, "hourly", "cron(0 * * * ? *)")
    clock.advance(hours=1, seconds=40)             # the tick runs late: the time is exact
    bus.schedules.fire_due()
    [event] = drain(bus, me, sub)
    assert event["scheduleid"] == "hourly"
    assert event["scheduledtime"] == "2026-07-01T01:00:00.000Z"
    assert event["type"] == "tick" and event["data"] == {"n": "hourly"}
    fire_ms = int(datetime(2026, 7, 1, 1, tzinfo=UTC).timestamp() * 1000)
    assert event["id"] == f"sch-hourly-{fire_ms}"


def test_get_shows_the_next_five_fire_times_in_the_schedules_zone():
    clock, bus, me, _ = started(datetime(2026, 10, 23, 12, 0, tzinfo=UTC))
    schedule(bus, me, "berlin", "cron(30 2 * * ? *)", tz="Europe/Berlin")
    view = bus.schedules.get(me, "berlin")
    assert view["next_fire_times"] == [
        "2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00",   # the repeat fires once
        "2026-10-26T02:30:00+01:00", "2026-10-27T02:30:00+01:00", "2026-10-28T02:30:00+01:00"]


def test_a_queue_target_gets_a_message_with_the_schedule_and_time():
    clock, bus, me, _ = started(datetime(2026, 7, 1, 0, 0, tzinfo=UTC))
    bus.queues.create(me, {"name": "jobs"})
    bus.schedules.create(me, {"name": "nightly", "expression": "cron(0 2 * * ? *)",
                              "target": {"queue": "jobs", "body": {"job": "report"}}})
    run_minutes(bus, clock, 3 * 60)
    [message] = bus.queues.lease(me, "jobs", {"max_messages": 10})["messages"]
    assert message["body"] == {"schedule_id": "nightly", "body": {"job": "report"},
                               "scheduled_time": "2026-07-01T02:00:00.000Z"}


# ------------------------------------------------------------------ changes and downtime

def test_pause_stops_firing_and_resume_continues_from_now():
    clock, bus, me, sub = started(datetime(2026, 8, 1, 0, 0, tzinfo=UTC))
    schedule(bus, me, "m", "rate(1 minute)")
    run_minutes(bus, clock, 5)
    bus.schedules.update(me, "m", {"state": "paused"})
    run_minutes(bus, clock, 10)
    assert len(drain(bus, me, sub)) == 5
    assert bus.schedules.get(me, "m")["status"] == "paused"
    bus.schedules.update(me, "m", {"state": "enabled"})
    run_minutes(bus, clock, 3)
    assert len(drain(bus, me, sub)) == 3


def test_changing_the_expression_replaces_the_pending_fire():
    clock, bus, me, sub = started(datetime(2026, 8, 1, 0, 0, tzinfo=UTC))
    schedule(bus, me, "c", "cron(0 * * * ? *)")
    bus.schedules.update(me, "c", {"expression": "cron(30 * * * ? *)"})
    run_minutes(bus, clock, 120)
    assert fire_times(drain(bus, me, sub)) == ["2026-08-01T00:30:00.000Z",
                                               "2026-08-01T01:30:00.000Z"]


def test_a_deleted_schedule_never_fires():
    clock, bus, me, sub = started(datetime(2026, 8, 1, 0, 0, tzinfo=UTC))
    schedule(bus, me, "d", "rate(1 minute)")
    bus.schedules.delete(me, "d")
    run_minutes(bus, clock, 5)
    assert drain(bus, me, sub) == []


@pytest.mark.parametrize("missed, fired", [("fire-once", 1), ("skip", 0)])
def test_after_downtime_missed_occurrences_follow_the_schedules_policy(missed, fired):
    clock, bus, me, sub = started(datetime(2026, 9, 1, 0, 0, tzinfo=UTC))
    schedule(bus, me, "p", "rate(1 minute)", missed=missed)
    clock.advance(hours=3)                        # the bus was down for three hours
    bus.schedules.fire_due()
    assert len(drain(bus, me, sub)) == fired
    run_minutes(bus, clock, 2)                    # then it carries on from now
    assert len(drain(bus, me, sub)) == 2


# ------------------------------------------------------------------ concurrency

def test_two_concurrent_ticks_fire_each_occurrence_once():
    clock = Clock(datetime(2026, 9, 1, 0, 0, tzinfo=UTC))
    storage = open_storage(Settings(storage="memory"), clock=clock)
    first = build_bus(Settings(storage="memory", admin_token="admin"), storage, clock=clock)
    second = build_bus(Settings(storage="memory", admin_token="admin"), storage, clock=clock)
    me, sub = owner_of(first)
    for n in range(40):
        schedule(first, me, f"s{n}", "rate(1 minute)")
    for _ in range(5):
        clock.advance(minutes=1)
        ticks = [threading.Thread(target=bus.schedules.fire_due) for bus in (first, second)]
        for tick in ticks:
            tick.start()
        for tick in ticks:
            tick.join()
    events = drain(first, me, sub)
    assert len(events) == 200
    assert len({e["id"] for e in events}) == 200


@pytest.fixture
def dynamodb_bus():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        ensure_tables(client, "sched", streams=False)
        # in-process moto is not thread-safe; one request at a time, as the embedded
        # endpoint of `make run` serves them (chalicelib/runtime/emulator.py)
        lock, call = threading.Lock(), client._make_api_call

        def serialized(*args, **kwargs):
            with lock:
                return call(*args, **kwargs)
        client._make_api_call = serialized
        clock = Clock(datetime(2026, 9, 1, 0, 0, tzinfo=UTC))
        settings = Settings(storage="dynamodb", table_prefix="sched", admin_token="admin")
        storage = open_storage(settings, clock=clock, dynamodb_client=client)
        yield build_bus(settings, storage, clock=clock), clock, client


def test_a_tick_over_10000_schedules_with_5_due_reads_only_the_due_ones(dynamodb_bus):
    bus, clock, client = dynamodb_bus
    me, sub = owner_of(bus)
    for n in range(5):
        schedule(bus, me, f"due{n}", "cron(0 * * * ? *)")
    # 9,995 more schedules' fire jobs, due over the coming weeks (only the index is read by
    # a tick, so the jobs are what matter; their documents are never touched)
    start_ms = int(clock() * 1000) + 2 * 3600 * 1000
    later = [StoredItem(key=disciplines.time_key(start_ms + n * 60_000, f"later{n}.1"),
                        id=f"later{n}", payload="{}", visible_at=start_ms + n * 60_000)
             for n in range(9995)]
    for chunk in range(0, len(later), 500):
        bus.storage.queues.push(FIRE_QUEUE, later[chunk:chunk + 500])
    index_reads, scanned = [], []       # Queries of the schedule index, and items each read

    def asked(params, **_):
        index_reads.append(params.get("ExpressionAttributeValues", {}).get(":q") ==
                           {"S": FIRE_QUEUE})

    def answered(parsed, **_):
        if index_reads[-1]:
            scanned.append(parsed.get("ScannedCount", 0))
    client.meta.events.register("provide-client-params.dynamodb.Query", asked)
    client.meta.events.register("after-call.dynamodb.Query", answered)
    counter = count_requests(client)
    clock.advance(hours=1)
    assert bus.schedules.fire_due()["schedules_fired"] == 5
    counter.stop()
    # the due jobs, then the empty read that ends the tick: 5 items of 10,000
    assert scanned == [5, 0]
    # per fire: the schedule and its run state read, the event published (its own calls),
    # the next job written, the lease settled; nothing grows with the 9,995 others
    assert counter.total < 5 * 20, counter.by_operation
    assert len(drain(bus, me, sub)) == 5


def test_two_concurrent_ticks_on_dynamodb_fire_each_occurrence_once(dynamodb_bus):
    bus, clock, client = dynamodb_bus
    second = build_bus(bus.settings, bus.storage, clock=clock)
    me, sub = owner_of(bus)
    for n in range(10):
        schedule(bus, me, f"s{n}", "rate(1 minute)")
    clock.advance(minutes=1)
    with ThreadPoolExecutor(2) as pool:
        fired = [f.result() for f in [pool.submit(b.schedules.fire_due) for b in (bus, second)]]
    assert sum(f["schedules_fired"] for f in fired) == 10
    events = drain(bus, me, sub)
    assert sorted(e["scheduleid"] for e in events) == sorted(f"s{n}" for n in range(10))


# ------------------------------------------------------------------ over HTTP

@pytest.mark.parametrize("expression, field", [
    ("cron(0 10 * * * *)", "expression.day-of-week"),       # neither day field is ?
    ("cron(61 * * * ? *)", "expression.minutes"),
    ("cron(0 25 * * ? *)", "expression.hours"),
    ("cron(0 0 ? 13 MON *)", "expression.month"),
    ("cron(0 0 ? * 8 *)", "expression.day-of-week"),
    ("cron(0 0 1 * ? 1969)", "expression.year"),
    ("cron(0 0 * * ?)", "expression"),
    ("rate(1 minutes)", "expression.rate"),
    ("rate(0 hours)", "expression.rate"),
    ("at(2026-02-30T10:00:00)", "expression.at"),
    ("every day", "expression"),
])
def test_invalid_expressions_are_refused_naming_the_field(api, expression, field):
    owner = api.register()
    api.topic(owner["token"], "ticks")
    reply = api.call("POST", "/schedules", owner["token"], {
        "name": "bad", "expression": expression,
        "target": {"topic": "ticks", "type": "t", "data": {}}})
    assert reply.status == 400, reply
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.body["code"] == "invalid-schedule"
    assert field in [e["field"] for e in reply.body["errors"]]


def test_an_unknown_time_zone_is_refused(api):
    owner = api.register()
    api.topic(owner["token"], "ticks")
    reply = api.call("POST", "/schedules", owner["token"], {
        "name": "tz", "expression": "rate(1 hour)", "timezone": "Mars/Olympus",
        "target": {"topic": "ticks", "type": "t", "data": {}}})
    assert reply.status == 400 and reply.body["errors"][0]["field"] == "timezone"


@pytest.mark.parametrize("target", [
    {"topic": "ticks"},                                       # no type / data
    {"topic": "ticks", "queue": "q", "type": "t", "data": 1},
    {"queue": "q"},
    {"topic": "ticks", "type": "t", "data": 1, "body": 2},
    {},
])
def test_malformed_targets_are_refused(api, target):
    owner = api.register()
    api.topic(owner["token"], "ticks")
    reply = api.call("POST", "/schedules", owner["token"], {
        "name": "x", "expression": "rate(1 hour)", "target": target})
    assert reply.status == 400 and reply.body["errors"][0]["field"] == "target", reply


def test_schedule_crud_over_http(api):
    owner, other = api.register(), api.register()
    api.topic(owner["token"], "ticks")
    body = {"name": "nightly", "expression": "cron(0 2 * * ? *)", "timezone": "Europe/Paris",
            "target": {"topic": "ticks", "type": "report.due", "data": {}}}
    created = api.call("POST", "/schedules", owner["token"], body)
    assert created.status == 201 and created.body["state"] == "enabled"
    assert len(created.body["next_fire_times"]) == 5
    assert api.call("POST", "/schedules", owner["token"], body).body["code"] == "schedule-exists"
    assert [s["name"] for s in api.call("GET", "/schedules", owner["token"])
            .body["schedules"]] == ["nightly"]
    assert api.call("GET", "/schedules", other["token"]).body["schedules"] == []
    assert api.call("GET", "/schedules/nightly", other["token"]).status == 403
    paused = api.call("PATCH", "/schedules/nightly", owner["token"], {"state": "paused"})
    assert paused.body["state"] == "paused" and paused.body["next_fire_times"] == []
    assert api.call("PATCH", "/schedules/nightly", owner["token"], {"nope": 1}).status == 400
    assert api.call("DELETE", "/schedules/nightly", owner["token"]).status == 204
    assert api.call("GET", "/schedules/nightly", owner["token"]).status == 404


def test_a_schedule_may_only_target_a_topic_its_owner_may_publish_to(api):
    owner, other = api.register(), api.register()
    api.topic(owner["token"], "private", publishers=[owner["name"]])
    reply = api.call("POST", "/schedules", other["token"], {
        "name": "sneaky", "expression": "rate(1 hour)",
        "target": {"topic": "private", "type": "t", "data": {}}})
    assert reply.status == 403 and reply.body["code"] == "not-a-publisher"


def test_validation_failed_is_the_error_class_of_a_bad_expression():
    with pytest.raises(ValidationFailed):
        from chalicelib.domain.schedule_expressions import parse
        parse("cron(* * * * * *)")


def test_a_schedule_made_again_under_a_deleted_ones_name_keeps_only_its_own_times():
    clock, bus, me, sub = started(datetime(2026, 8, 1, 0, 0, tzinfo=UTC))
    schedule(bus, me, "r", "cron(10 * * * ? *)")
    bus.schedules.delete(me, "r")
    schedule(bus, me, "r", "cron(40 * * * ? *)")
    run_minutes(bus, clock, 60)
    assert fire_times(drain(bus, me, sub)) == ["2026-08-01T00:40:00.000Z"]


def test_a_fire_that_fails_is_shown_and_tried_again():
    clock, bus, me, sub = started(datetime(2026, 8, 1, 0, 0, tzinfo=UTC))
    schedule(bus, me, "lost", "rate(1 hour)")
    bus.topics.delete(me, "ticks")
    clock.advance(hours=1)
    bus.schedules.fire_due()
    assert bus.schedules.get(me, "lost")["last_error"]["code"] == "topic-not-found"
    bus.topics.create(me, {"name": "ticks"})
    sub = bus.subscriptions.create(me, {"topics": ["ticks"]})
    clock.advance(minutes=2)
    bus.schedules.fire_due()
    assert fire_times(drain(bus, me, sub)) == ["2026-08-01T01:00:00.000Z"]
    assert "last_error" not in bus.schedules.get(me, "lost")


def test_a_target_too_large_to_fire_is_refused_when_the_schedule_is_made(api):
    owner = api.register()
    api.topic(owner["token"], "ticks")
    reply = api.call("POST", "/schedules", owner["token"], {
        "name": "huge", "expression": "rate(1 hour)",
        "target": {"topic": "ticks", "type": "t", "data": "x" * 300_000}})
    assert reply.status == 413 and reply.body["code"] == "payload-too-large"
