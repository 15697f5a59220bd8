"""Named queues: FIFO, LIFO and priority, leases, peek, purge, dead letters."""
import time

import pytest


def push(api, token, queue, *bodies, **fields):
    for body in bodies:
        reply = api.call("POST", f"/queues/{queue}/messages", token, {"body": body, **fields})
        assert reply.status == 201, reply


def lease(api, token, queue, **options):
    reply = api.call("POST", f"/queues/{queue}/lease", token, options)
    assert reply.status == 200, reply
    return reply.body["messages"]


@pytest.mark.parametrize("discipline, expected", [
    ("fifo", ["a", "b", "c"]), ("lifo", ["c", "b", "a"])])
def test_queue_hands_out_messages_in_discipline_order(api, discipline, expected):
    worker = api.register()
    api.call("POST", "/queues", worker["token"], {"name": "jobs", "discipline": discipline})
    push(api, worker["token"], "jobs", "a", "b", "c")
    assert [m["body"] for m in lease(api, worker["token"], "jobs", max_messages=10)] == expected


def test_priority_queue_gives_highest_first_and_fifo_within_a_priority(api):
    worker = api.register()
    api.call("POST", "/queues", worker["token"], {"name": "jobs", "discipline": "priority"})
    reply = api.call("POST", "/queues/jobs/messages", worker["token"], {"messages": [
        {"body": "low-1", "priority": 1}, {"body": "high-1", "priority": 7},
        {"body": "low-2", "priority": 1}, {"body": "high-2", "priority": 7},
        {"body": "top", "priority": 9}]})
    assert reply.status == 201 and len(reply.body["ids"]) == 5
    got = [m["body"] for m in lease(api, worker["token"], "jobs", max_messages=10)]
    assert got == ["top", "high-1", "high-2", "low-1", "low-2"]


def test_peek_shows_without_leasing_and_size_counts(api):
    worker = api.register()
    api.call("POST", "/queues", worker["token"], {"name": "jobs"})
    push(api, worker["token"], "jobs", 1, 2, 3)
    peeked = api.call("GET", "/queues/jobs/messages?limit=2", worker["token"]).body["messages"]
    assert [m["body"] for m in peeked] == [1, 2]
    lease(api, worker["token"], "jobs")
    info = api.call("GET", "/queues/jobs", worker["token"]).body
    assert info["size"] == {"visible": 2, "in_flight_or_delayed": 1, "total": 3}


def test_delayed_message_is_not_leased_before_its_delay(api):
    worker = api.register()
    api.call("POST", "/queues", worker["token"], {"name": "jobs"})
    push(api, worker["token"], "jobs", "later", delay_seconds=60)
    push(api, worker["token"], "jobs", "now")
    assert [m["body"] for m in lease(api, worker["token"], "jobs", max_messages=10)] == ["now"]


def test_ack_removes_and_nack_returns_a_message(api):
    worker = api.register()
    api.call("POST", "/queues", worker["token"], {"name": "jobs"})
    push(api, worker["token"], "jobs", "x", "y")
    first, second = lease(api, worker["token"], "jobs", max_messages=2)
    api.call("POST", "/queues/jobs/ack", worker["token"], {"receipts": [first["receipt"]]})
    api.call("POST", "/queues/jobs/nack", worker["token"], {"receipts": [second["receipt"]]})
    [again] = lease(api, worker["token"], "jobs", max_messages=10)
    assert again["body"] == "y" and again["delivery_count"] == 2


def test_extend_keeps_a_leased_message_from_coming_back(api):
    worker = api.register()
    api.call("POST", "/queues", worker["token"], {"name": "jobs"})
    push(api, worker["token"], "jobs", "long job")
    [job] = lease(api, worker["token"], "jobs", visibility_timeout=1)
    reply = api.call("POST", "/queues/jobs/extend", worker["token"],
                     {"receipts": [job["receipt"]], "visibility_timeout": 60})
    assert reply.body == {"extended": [job["receipt"]], "stale": []}
    time.sleep(1.2)
    assert lease(api, worker["token"], "jobs", max_messages=10) == []


def test_purge_and_delete_are_for_the_owner(api, two_services):
    owner, other = two_services
    api.call("POST", "/queues", owner["token"], {"name": "jobs"})
    push(api, owner["token"], "jobs", 1)
    assert api.call("DELETE", "/queues/jobs/messages", other["token"]).status == 403
    assert api.call("DELETE", "/queues/jobs/messages", owner["token"]).status == 204
    assert api.call("GET", "/queues/jobs", owner["token"]).body["size"]["total"] == 0
    assert api.call("DELETE", "/queues/jobs", owner["token"]).status == 204
    assert api.call("GET", "/queues/jobs", owner["token"]).status == 404


def test_queue_dead_letters_collect_exhausted_messages(api):
    worker = api.register()
    api.call("POST", "/queues", worker["token"], {"name": "jobs", "max_deliveries": 1})
    push(api, worker["token"], "jobs", "poison")
    lease(api, worker["token"], "jobs", visibility_timeout=0)
    assert lease(api, worker["token"], "jobs") == []
    dead = api.call("GET", "/queues/jobs/dead-letters", worker["token"]).body["dead_letters"]
    assert [d["body"] for d in dead] == ["poison"]
