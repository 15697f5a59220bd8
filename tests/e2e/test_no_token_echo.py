"""The local server never echoes a credential, and a client hanging up is one quiet line.

``chalice local`` answers an unknown route that carries an ``Authorization`` header with a
403 quoting the header; the bus answers the same 404 problem as without one
(runtime/gateway.py), and no answer or log line holds the token (observability.scrub).
"""
from __future__ import annotations

import socket
import struct
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.client import ok


def _token() -> str:
    return f"tlks_{uuid.uuid4().hex}"


def _answer(bus, method: str, path: str, headers: dict | None = None):
    response = requests.request(method, bus.url + path, headers=headers or {}, timeout=10)
    return response.status_code, response.headers.get("Content-Type"), response.text


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_an_unknown_route_with_a_bearer_token_is_the_same_404_problem_as_without(live_bus,
                                                                                method):
    token = _token()
    bare = _answer(live_bus, method, "/no/such/route")
    with_token = _answer(live_bus, method, "/no/such/route", {"Authorization": f"Bearer {token}"})
    assert bare[:2] == (404, "application/problem+json")
    assert with_token == bare
    assert token not in with_token[2] and token not in live_bus.log.read_text()


@pytest.mark.parametrize("path", ["/topics", "/services", "/no/such/route?x=1"])
def test_no_answer_or_log_line_holds_a_refused_token(live_bus, path):
    token = _token()
    for scheme in ("Bearer ", "bearer ", "", "Basic "):
        status, _, text = _answer(live_bus, "GET", path, {"Authorization": scheme + token})
        assert status in (401, 404) and token not in text
    # a service's token on a route only the admin may use: 403
    service = ok(live_bus, "POST", "/services", live_bus.admin_token,
                 {"name": f"echo-{uuid.uuid4().hex[:6]}"})["token"]
    status, _, text = _answer(live_bus, "POST", "/services", {"Authorization": f"Bearer {service}"})
    assert status == 403 and service not in text
    # the start banner shows the admin token (that is its job); no log line does
    log = "\n".join(line for line in live_bus.log.read_text().splitlines()
                    if not line.startswith("  admin token"))
    assert token not in log
    assert service not in log
    assert live_bus.admin_token not in log


def test_a_client_resetting_the_connection_mid_request_is_one_quiet_line(live_bus):
    url = urlsplit(live_bus.url)
    before = live_bus.log.read_text()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(b"POST /topics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000\r\n\r\n{\"name\": ")
        time.sleep(0.2)   # the server is now reading the body
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # closed with SO_LINGER 0: a reset, not a polite FIN
    deadline = time.monotonic() + 20
    while "went away mid-request" not in live_bus.log.read_text()[len(before):]:
        assert time.monotonic() < deadline, live_bus.log.read_text()[len(before):]
        time.sleep(0.05)
    assert requests.get(live_bus.url + "/health", timeout=10).status_code == 200
    after = live_bus.log.read_text()[len(before):]
    assert [line for line in after.splitlines() if "went away" in line] != []
    assert len([line for line in after.splitlines() if "went away" in line]) == 1
    assert "Traceback" not in after and "Exception occurred" not in after
    assert "ConnectionResetError:" not in after
