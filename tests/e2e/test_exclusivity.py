"""Two consumers never hold the same message: 8 threads over HTTP on DynamoDB."""
import collections
import threading
import time

import requests

WORKERS = 8
MESSAGES = 1000


def test_eight_workers_lease_each_of_1000_messages_exactly_once(live_bus):
    session = requests.Session()
    worker = session.post(live_bus.url + "/services", json={"name": "e2e-excl"},
                          headers={"Authorization": f"Bearer {live_bus.admin_token}"},
                          timeout=30).json()
    auth = {"Authorization": f"Bearer {worker['token']}"}
    assert session.post(live_bus.url + "/queues", json={"name": "excl"}, headers=auth,
                        timeout=30).status_code == 201
    for start in range(0, MESSAGES, 100):
        batch = [{"body": n} for n in range(start, start + 100)]
        assert session.post(live_bus.url + "/queues/excl/messages", json={"messages": batch},
                            headers=auth, timeout=60).status_code == 201

    seen = collections.Counter()
    stale = []
    lock = threading.Lock()
    errors = []

    def consume():
        own = requests.Session()
        empty_in_a_row = 0
        try:
            while empty_in_a_row < 3:
                reply = own.post(live_bus.url + "/queues/excl/lease", headers=auth, timeout=60,
                                 json={"max_messages": 10, "visibility_timeout": 300})
                assert reply.status_code == 200, reply.text
                messages = reply.json()["messages"]
                if not messages:
                    empty_in_a_row += 1
                    continue
                empty_in_a_row = 0
                with lock:
                    seen.update(m["body"] for m in messages)
                acked = own.post(live_bus.url + "/queues/excl/ack", headers=auth, timeout=60,
                                 json={"receipts": [m["receipt"] for m in messages]}).json()
                with lock:
                    stale.extend(acked["stale"])
        except Exception as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=consume) for _ in range(WORKERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.perf_counter() - started
    assert not errors, errors[:3]
    assert sorted(seen) == list(range(MESSAGES))
    assert set(seen.values()) == {1}, [n for n, c in seen.items() if c > 1][:10]
    assert stale == []
    print(f"\n8 workers leased+acked {MESSAGES} messages in {elapsed:.1f} s "
          f"({MESSAGES / elapsed:.0f} msg/s)")


def test_unacked_message_returns_after_visibility_timeout_with_delivery_count_2(live_bus):
    worker = requests.post(live_bus.url + "/services", json={"name": "e2e-vt"}, timeout=30,
                           headers={"Authorization": f"Bearer {live_bus.admin_token}"}).json()
    auth = {"Authorization": f"Bearer {worker['token']}"}
    requests.post(live_bus.url + "/queues", json={"name": "vt"}, headers=auth, timeout=30)
    requests.post(live_bus.url + "/queues/vt/messages", json={"body": "again"}, headers=auth,
                  timeout=30)
    first = requests.post(live_bus.url + "/queues/vt/lease", headers=auth, timeout=30,
                          json={"visibility_timeout": 1}).json()["messages"]
    assert [m["delivery_count"] for m in first] == [1]
    assert requests.post(live_bus.url + "/queues/vt/lease", headers=auth, timeout=30,
                         json={}).json()["messages"] == []
    time.sleep(1.2)
    second = requests.post(live_bus.url + "/queues/vt/lease", headers=auth, timeout=30,
                           json={"wait_seconds": 2}).json()["messages"]
    assert [(m["body"], m["delivery_count"]) for m in second] == [("again", 2)]
