"""A real HTTP subscriber on 127.0.0.1 for push tests: records what the hub sends.

``behaviour(request) -> (status, body, headers)`` decides each answer; the
default confirms WebSub challenges and answers 204 to deliveries.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    at: float = field(default_factory=time.time)


def confirm_challenge(request: Received):
    if request.method == "GET":
        return 200, request.query.get("hub.challenge", [""])[0].encode(), {}
    return 204, b"", {}


class Outage:
    """A behaviour: confirms challenges, answers deliveries 500 until ``recover()``."""

    def __init__(self, body: bytes = b"") -> None:
        self.body = body
        self.healthy = False

    def recover(self) -> None:
        self.healthy = True

    def __call__(self, request: Received):
        if request.method == "GET":
            return confirm_challenge(request)
        return (204, b"", {}) if self.healthy else (500, self.body, {})


class Subscriber:
    def __init__(self, behaviour=confirm_challenge) -> None:
        self.behaviour = behaviour
        self.received: list[Received] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True     # no 40 ms delayed-ACK stalls on keep-alive

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Received(self.command, parts.path, parse_qs(parts.query),
                                   dict(self.headers), body)
                with owner.lock:
                    owner.received.append(request)
                status, payload, headers = owner.behaviour(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Subscriber":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def posts(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.method == "POST"]

    def gets(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.method == "GET"]

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate(self):
                return True
            time.sleep(0.02)
        return predicate(self)
