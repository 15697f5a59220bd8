"""How many of the bus's files and stack frames one push delivery passes through.

    .venv/bin/python bench/delivery_hops.py

A reader who follows one event holds this many modules in mind: the figure the restructure of
issue #14 is meant to bring down.  It runs the app in-process on DynamoDB (moto, in-process) with a real
subscriber on 127.0.0.1, publishes one event over the Chalice test client, then lets the
dispatcher deliver it, tracing every call made in ``chalicelib/`` and ``app.py``:

* files: distinct modules of the bus entered on the path;
* frames: the deepest stack of the bus's own frames (library frames skipped) at any point.

The delivery is counted from the dispatcher's entry (``drain_queue``), the publish from the
HTTP request; the figures are structure, not speed, so one run says it all.
"""
from __future__ import annotations

import json
import os
import sys
from concurrent.futures import Future
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update(TLKS_STAGE="hops", TLKS_ADMIN_TOKEN="admin", TLKS_CALLBACK_ALLOW="127.0.0.0/8",
                  TLKS_TABLE_PREFIX="tlks-hops", POWERTOOLS_METRICS_DISABLED="true",
                  AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")

from chalice.test import Client  # noqa: E402

from tests.support.subscriber import Subscriber  # noqa: E402

OURS = (str(ROOT / "chalicelib"), str(ROOT / "app.py"))


class InlinePool:
    """The dispatcher's delivery pool, run inline: the trace then follows one logical stack."""

    def submit(self, fn, *args):
        future = Future()
        future.set_result(fn(*args))
        return future


class Tracer:
    def __init__(self) -> None:
        self.files: dict[str, int] = {}
        self.depth = self.deepest = 0

    def __call__(self, frame, event, arg):
        if not frame.f_code.co_filename.startswith(OURS):
            return
        if event == "call":
            self.depth += 1
            self.deepest = max(self.deepest, self.depth)
            name = os.path.relpath(frame.f_code.co_filename, ROOT)
            self.files[name] = self.files.get(name, 0) + 1
        elif event == "return":
            self.depth -= 1

    def run(self, fn):
        sys.setprofile(self)
        try:
            return fn()
        finally:
            sys.setprofile(None)


def call(client, method, path, token, body=None):
    response = getattr(client.http, method.lower())(
        path, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body=json.dumps(body) if body is not None else None)
    return json.loads(response.body) if response.body else None


def main() -> None:
    import boto3
    from moto import mock_aws

    import app
    from chalicelib.bootstrap import get_bus
    from infra.tables import ensure_tables
    with mock_aws(), Subscriber() as subscriber:
        ensure_tables(boto3.client("dynamodb"), "tlks-hops", streams=False)
        with Client(app.app, stage_name="hops") as client:     # no such stage: shared env only
            orders = call(client, "POST", "/services", "admin", {"name": "orders"})["token"]
            billing = call(client, "POST", "/services", "admin", {"name": "billing"})["token"]
            call(client, "POST", "/topics", orders, {"name": "orders"})
            sub = call(client, "POST", "/subscriptions", billing,
                       {"topics": ["orders"], "mode": "push", "callback": subscriber.url})
            bus = get_bus()
            bus.dispatcher.sweep()                       # the WebSub verification
            queue = bus.subscriptions.load(sub["id"])["queue"]
            bus.dispatcher.pool = InlinePool()
            publish, deliver = Tracer(), Tracer()
            publish.run(lambda: call(client, "POST", "/topics/orders/events", orders,
                                     {"type": "order.created", "data": {"n": 1}}))
            deliver.run(lambda: bus.dispatcher.drain_queue(queue, float("inf")))
        assert [r for r in subscriber.received if r.method == "POST"], "nothing was delivered"
    for name, tracer in (("publish (HTTP request)", publish), ("push delivery", deliver)):
        print(f"{name}: {len(tracer.files)} files, {tracer.deepest} frames deep")
        for path, calls in sorted(tracer.files.items()):
            print(f"    {path}  ({calls} calls)")


if __name__ == "__main__":
    main()
