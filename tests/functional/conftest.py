"""Functional tests: the Chalice app in-process (chalice.test.Client) on moto.

Each test gets a fresh bus on fresh moto tables; ``api`` speaks HTTP to it
through Chalice's test client, exactly as API Gateway would invoke it.
``module_api`` shares one bus across a module, for many calls that leave no
state behind (the pattern conformance cases through ``/patterns/test``).
"""
from __future__ import annotations

import contextlib
import json
import uuid

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.bootstrap import get_bus
from infra.tables import ensure_tables

ADMIN = "admin-secret-token"


class Api:
    """A thin HTTP client over chalice.test.Client returning (status, body, headers)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(self, method: str, path: str, token: str | None = None, json_body=None,
             raw: bytes | str | None = None, headers: dict | None = None):
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else (
            json.dumps(json_body) if json_body is not None else None)
        response = getattr(self.client.http, method.lower())(path, headers=hdrs, body=payload)
        try:
            parsed = json.loads(response.body) if response.body else None
        except ValueError:
            parsed = response.body
        return Reply(response.status_code, parsed, response.headers)

    def register(self, name: str | None = None) -> dict:
        reply = self.call("POST", "/services", ADMIN, {"name": name or f"svc-{uuid.uuid4().hex[:8]}"})
        assert reply.status == 201, reply
        return reply.body

    def topic(self, token: str, name: str | None = None, **fields) -> dict:
        reply = self.call("POST", "/topics", token, {"name": name or f"t-{uuid.uuid4().hex[:8]}",
                                                     **fields})
        assert reply.status == 201, reply
        return reply.body

    def subscribe(self, token: str, topics: list[str], **fields) -> dict:
        reply = self.call("POST", "/subscriptions", token, {"topics": topics, **fields})
        assert reply.status == 201, reply
        return reply.body


class Reply:
    def __init__(self, status: int, body, headers) -> None:
        self.status, self.body, self.headers = status, body, headers

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body!r})"


def _set_aws_env(monkeypatch) -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def aws_env(monkeypatch):
    _set_aws_env(monkeypatch)


@pytest.fixture
def api(aws_env, monkeypatch):
    with _serving(monkeypatch) as served:
        yield served


@pytest.fixture(scope="module")
def module_api():
    with pytest.MonkeyPatch.context() as monkeypatch:
        _set_aws_env(monkeypatch)
        with _serving(monkeypatch) as served:
            yield served


@contextlib.contextmanager
def _serving(monkeypatch):
    from app import app
    with mock_aws():
        ensure_tables(boto3.client("dynamodb", region_name="us-east-1"), "tlks-test",
                      streams=False)
        # the Client applies a stage's environment from .chalice/config.json around every
        # request; "test" is no stage there, so only the shared variables apply
        with Client(app, stage_name="test") as client:
            monkeypatch.setenv("TLKS_STAGE", "test")
            monkeypatch.setenv("TLKS_STORAGE", "dynamodb")
            monkeypatch.setenv("TLKS_TABLE_PREFIX", "tlks-test")
            monkeypatch.setenv("TLKS_ADMIN_TOKEN", ADMIN)
            get_bus.cache_clear()
            yield Api(client)
        get_bus.cache_clear()


@pytest.fixture
def two_services(api):
    return api.register("orders"), api.register("billing")
