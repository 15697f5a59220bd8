"""The callback HTTP client bounds a whole request, not just each wait for data.

urllib3's read timeout restarts with every byte received, so a callback that
drips its answer a byte at a time would hold a delivery (and outlive its lease)
for as long as it liked.  The servers here are raw sockets on 127.0.0.1.
"""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

from chalicelib.delivery.callbacks import Target
from chalicelib.delivery.webhook import WebhookClient

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


@contextmanager
def server(answer):
    """A one-connection-at-a-time server; ``answer(connection)`` writes the response."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                try:
                    while connection.recv(65536).count(b"\r\n\r\n") == 0:
                        pass
                    answer(connection)
                except OSError:
                    pass            # the client gave up: what this test wants to see

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield Target(url="", scheme="http", host="127.0.0.1",
                     port=listener.getsockname()[1], address="127.0.0.1", path="/hook")
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def drip(data: bytes, every: float):
    def answer(connection):
        for at in range(len(data)):
            connection.sendall(data[at:at + 1])
            time.sleep(every)
    return answer


def timed(client: WebhookClient, target: Target):
    started = time.monotonic()
    outcome = client.request("POST", target, body=b"{}")
    return outcome, time.monotonic() - started


def test_a_callback_dripping_its_status_line_is_cut_off_at_the_deadline():
    # The whole answer would take 66 bytes x 0.2 s = 13 s; no single wait exceeds 0.2 s.
    with server(drip(RESPONSE, 0.2)) as target:
        outcome, took = timed(WebhookClient(connect_timeout=0.5, read_timeout=1.0), target)
    assert outcome.status is None and outcome.error.startswith("timeout")
    assert took < 4


def test_a_callback_dripping_its_body_is_cut_off_at_the_deadline():
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n"

    def answer(connection):
        connection.sendall(head)
        drip(b"x" * 60, 0.2)(connection)
    with server(answer) as target:
        outcome, took = timed(WebhookClient(connect_timeout=0.5, read_timeout=1.0), target)
    assert outcome.status is None and outcome.error.startswith("timeout")
    assert took < 4


def test_a_prompt_callback_is_answered_and_its_connection_reused_after_a_cut_off():
    client = WebhookClient(connect_timeout=0.5, read_timeout=1.0)
    with server(drip(RESPONSE, 0.2)) as slow:
        assert timed(client, slow)[0].status is None
    with server(lambda connection: connection.sendall(RESPONSE)) as prompt:
        answers = [client.request("POST", prompt, body=b"{}") for _ in range(3)]
    assert [(a.status, a.body) for a in answers] == [(200, b"ok")] * 3


def test_many_requests_leave_no_watch_behind():
    client = WebhookClient(connect_timeout=0.5, read_timeout=1.0)
    with server(lambda connection: connection.sendall(RESPONSE)) as prompt:
        for _ in range(20):
            assert client.request("POST", prompt, body=b"{}").status == 200
    assert client.watching() == 0


def test_a_subscriber_closing_each_keep_alive_connection_costs_no_failed_request():
    # It promises keep-alive, then closes the connection after every answer (as a server
    # dropping idle connections does): the next request on the pooled connection may be
    # sent into a closed socket; it goes again on a fresh connection.
    client = WebhookClient(connect_timeout=0.5, read_timeout=1.0)
    with server(lambda connection: connection.sendall(RESPONSE)) as closing:
        answers = [client.request("POST", closing, body=b"{}") for _ in range(30)]
    assert [(a.status, a.error) for a in answers] == [(200, None)] * 30
