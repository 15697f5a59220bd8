"""The e2e tests' HTTP client for the live bus: one call, JSON in and out."""
from __future__ import annotations

import requests


def call(bus, method: str, path: str, token: str | None = None, body=None):
    """``(status, parsed body or None)`` of one request to the live bus."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.request(method, bus.url + path, json=body, headers=headers, timeout=30)
    return response.status_code, (response.json() if response.content else None)


def ok(bus, method: str, path: str, token: str | None = None, body=None):
    """The parsed body of a request that must succeed (any 2xx)."""
    status, answer = call(bus, method, path, token, body)
    assert status < 300, (status, answer)
    return answer
