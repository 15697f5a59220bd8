"""HTTP compression on the running bus, as API Gateway does it on AWS: compressed
request bodies are read, large responses are gzipped for clients that accept it."""
from __future__ import annotations

import gzip
import json
import uuid
import zlib

import pytest
import requests

from tests.e2e.client import ok


@pytest.fixture(scope="module")
def producer(live_bus):
    name = f"zip-{uuid.uuid4().hex[:6]}"
    token = ok(live_bus, "POST", "/services", live_bus.admin_token, {"name": name})["token"]
    ok(live_bus, "POST", "/topics", token, {"name": name})
    sub = ok(live_bus, "POST", "/subscriptions", token, {"topics": [name]})
    return {"token": token, "topic": name, "sub": sub["id"]}


def post(live_bus, producer, path, raw: bytes, **headers):
    return requests.post(live_bus.url + path, data=raw, timeout=30, headers={
        "Authorization": f"Bearer {producer['token']}", "Content-Type": "application/json",
        **headers})


def test_a_gzipped_or_deflated_publish_is_read_and_a_large_pull_answer_comes_gzipped(live_bus,
                                                                                   producer):
    event = json.dumps({"type": "report", "data": {"rows": ["row %d" % n for n in range(300)]}})
    events = f"/topics/{producer['topic']}/events"
    assert post(live_bus, producer, events, gzip.compress(event.encode()),
                **{"Content-Encoding": "gzip"}).status_code == 202
    assert post(live_bus, producer, events, zlib.compress(event.encode()),
                **{"Content-Encoding": "deflate"}).status_code == 202
    pull = f"/subscriptions/{producer['sub']}/pull"
    answer = requests.post(live_bus.url + pull, json={"max_messages": 10}, timeout=30,
                           headers={"Authorization": f"Bearer {producer['token']}",
                                    "Accept-Encoding": "gzip"}, stream=True)
    assert answer.headers["Content-Encoding"] == "gzip"
    assert answer.headers["Vary"] == "Accept-Encoding"
    wire = answer.raw.read(decode_content=False)
    messages = json.loads(gzip.decompress(wire))["messages"]
    assert [len(m["event"]["data"]["rows"]) for m in messages] == [300, 300]
    assert len(wire) * 5 < len(gzip.decompress(wire))


def test_small_answers_and_clients_that_do_not_ask_get_plain_json(live_bus, producer):
    small = requests.get(live_bus.url + "/health", timeout=10,
                         headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers
    refused = requests.get(live_bus.url + "/topics", timeout=10, headers={
        "Authorization": f"Bearer {producer['token']}", "Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers and refused.json()["topics"]


@pytest.mark.parametrize("raw, coding, status, code", [
    (b"\x1f\x8b not really gzip", "gzip", 400, "malformed-json"),
    (gzip.compress(b'{"type": "x", "data": {}}')[:-12], "gzip", 400, "malformed-json"),
    (b"{}", "br", 415, "unsupported-content-encoding"),
    (gzip.compress(b" " * (7 * 1024 * 1024)), "gzip", 413, "request-too-large"),
])
def test_a_body_that_does_not_decompress_is_a_problem(live_bus, producer, raw, coding, status,
                                                      code):
    answer = post(live_bus, producer, f"/topics/{producer['topic']}/events", raw,
                  **{"Content-Encoding": coding})
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] == code
