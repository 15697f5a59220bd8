"""Push delivery end to end: publish -> delivered to a webhook, through the local server.

For each driver (memory, DynamoDB on the embedded endpoint) it starts the real
local server (``python -m chalicelib.runtime.local``), a webhook subscriber on
127.0.0.1 and a push subscription, publishes N events one after another and
records when each reaches the webhook.  Printed next to it, measured in the
same run: the floor of the unavoidable work per event - two plain HTTP round
trips on loopback (publish in, webhook out) plus the raw storage calls of one
delivery on the same backend (write, lease, ack: a dict insert/pop for memory;
PutItem + Query + UpdateItem + DeleteItem for DynamoDB).  Target: >= 50 % of
the floor.  Run: ``.venv/bin/python bench/delivery_bench.py [--events N]``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.subscriber import Subscriber, confirm_challenge  # noqa: E402

ADMIN = "bench-admin"


def start_server(storage: str, log: Path, aws_port: int | None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TLKS_"))}
    env.update(TLKS_ADMIN_TOKEN=ADMIN, TLKS_TABLE_PREFIX=f"bench-{uuid.uuid4().hex[:6]}",
               POWERTOOLS_LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "chalicelib.runtime.local", "--port", "0",
               "--storage", storage]
    if aws_port:
        command += ["--aws-port", str(aws_port)]
    out = open(log, "wb")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("READY "):
                return proc, line.split()[1]
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start:\n{log.read_text(errors='replace')}")


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_bus(url: str, events: int, with_ids: bool = False) -> dict:
    session = requests.Session()
    admin = {"Authorization": f"Bearer {ADMIN}"}
    producer = session.post(f"{url}/services", json={"name": "bench-producer"}, headers=admin,
                            timeout=30).json()["token"]
    consumer = session.post(f"{url}/services", json={"name": "bench-consumer"}, headers=admin,
                            timeout=30).json()["token"]
    p_auth, c_auth = ({"Authorization": f"Bearer {t}"} for t in (producer, consumer))
    session.post(f"{url}/topics", json={"name": "bench"}, headers=p_auth, timeout=30)
    arrived: dict[int, float] = {}
    lock = threading.Lock()

    def webhook(request):
        if request.method == "GET":
            return confirm_challenge(request)
        with lock:
            arrived[json.loads(request.body)["data"]["n"]] = time.perf_counter()
        return 204, b"", {}

    with Subscriber(webhook) as subscriber:
        sub = session.post(f"{url}/subscriptions", headers=c_auth, timeout=30, json={
            "topics": ["bench"], "mode": "push", "callback": subscriber.url,
            "secret": "bench"}).json()
        while session.get(f"{url}/subscriptions/{sub['id']}", headers=c_auth,
                          timeout=30).json()["status"] != "active":
            time.sleep(0.05)
        sent: dict[int, float] = {}
        started = time.perf_counter()
        for n in range(events):
            # no "id": most producers let the bus choose it (a producer-chosen id buys
            # idempotent retries for one more write; --with-ids measures that)
            event = {"type": "bench", "data": {"n": n}}
            if with_ids:
                event["id"] = f"bench-{n}"
            sent[n] = time.perf_counter()
            reply = session.post(f"{url}/topics/bench/events", headers=p_auth, timeout=30,
                                 json=event)
            assert reply.status_code == 202, reply.text
        deadline = time.time() + 120
        while len(arrived) < events and time.time() < deadline:
            time.sleep(0.01)
        finished = max(arrived.values()) if arrived else time.perf_counter()
    latencies = sorted((arrived[i] - sent[i]) * 1000 for i in arrived)
    return {"rate": len(arrived) / (finished - started), "delivered": len(arrived),
            "p50": statistics.median(latencies),
            "p99": latencies[int(len(latencies) * 0.99) - 1]}


def http_round_trip_seconds(samples: int = 300) -> float:
    with Subscriber(lambda r: (204, b"", {})) as target:
        session = requests.Session()
        body = json.dumps({"specversion": "1.0", "id": "x", "type": "bench", "data": {"n": 1}})
        started = time.perf_counter()
        for _ in range(samples):
            session.post(target.url, data=body, timeout=10)
        return (time.perf_counter() - started) / samples


def raw_storage_seconds(storage: str, aws_port: int | None, samples: int = 200) -> float:
    if storage == "memory":
        queue: dict[str, str] = {}
        started = time.perf_counter()
        for n in range(samples):
            queue[f"{n:020d}"] = "payload"
            key = min(queue)
            queue.pop(key)
        return (time.perf_counter() - started) / samples
    import boto3
    client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{aws_port}",
                          region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    table = "bench-raw"
    if table not in client.list_tables()["TableNames"]:
        client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "q", "AttributeType": "S"},
                                                  {"AttributeName": "k", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "q", "KeyType": "HASH"},
                                       {"AttributeName": "k", "KeyType": "RANGE"}])
    started = time.perf_counter()
    for n in range(samples):
        key = {"q": {"S": "raw"}, "k": {"S": f"{n:020d}"}}
        client.put_item(TableName=table, Item={**key, "p": {"S": "payload"}})
        client.query(TableName=table, KeyConditionExpression="q = :q", Limit=1,
                     ExpressionAttributeValues={":q": {"S": "raw"}})
        client.update_item(TableName=table, Key=key, UpdateExpression="SET l = :l",
                           ExpressionAttributeValues={":l": {"S": "lease"}})
        client.delete_item(TableName=table, Key=key)
    return (time.perf_counter() - started) / samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--with-ids", action="store_true",
                        help="publish with producer-chosen event ids (idempotent publishing)")
    args = parser.parse_args()
    rtt = http_round_trip_seconds()
    print(f"loopback HTTP round trip: {rtt * 1000:.2f} ms")
    print(f"{'driver':9} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'floor/s':>9} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for storage in ("memory", "dynamodb"):
            aws_port = free_port() if storage == "dynamodb" else None
            proc, url = start_server(storage, Path(tmp) / f"{storage}.log", aws_port)
            try:
                result = run_bus(url, args.events, args.with_ids)
                floor = 1 / (2 * rtt + raw_storage_seconds(storage, aws_port))
            finally:
                proc.terminate()
                proc.wait(30)
            print(f"{storage:9} {result['rate']:>9.0f} {result['p50']:>8.1f} "
                  f"{result['p99']:>8.1f} {floor:>9.0f} {result['rate'] / floor:>6.2f}"
                  + ("" if result["delivered"] == args.events else
                     f"  ({result['delivered']}/{args.events} delivered!)"))


if __name__ == "__main__":
    main()
