"""``make run`` keeps what was made across restarts (runtime/snapshot.py), and forgets it
with ``--fresh`` (``make run FRESH=1``).

Each runner here starts its own moto server on a free port, so the only way anything
survives a restart is the snapshot in the state directory, a temporary folder (never the
developer's ``.tlks/``).
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import time
import uuid

import pytest

from tests.e2e.client import call, ok
from tests.e2e.conftest import _free_port, _reap_moto, local_bus


def _admin_token(log) -> str:
    return re.search(r"^\s*admin token\s+(\S+)$", log.read_text(), re.MULTILINE).group(1)


@contextlib.contextmanager
def runner(folder, name: str, stop_with: int = signal.SIGTERM, flags=(), **env):
    """A runner on DynamoDB (its own moto) keeping its state in ``folder/state``."""
    log, aws_port = folder / f"{name}.log", _free_port()
    env = {"TLKS_STATE_DIR": str(folder / "state"), "TLKS_TABLE_PREFIX": "tlks-e2e-kept",
           "TLKS_ADMIN_TOKEN": "", **env}
    try:
        with local_bus(log, "dynamodb", aws_port, flags, **env) as (bus, proc):
            bus = type(bus)(url=bus.url, admin_token=_admin_token(log), log=log)
            yield bus, proc
            if proc.poll() is None:   # not killed by the test
                proc.send_signal(stop_with)
                assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        _reap_moto(log, aws_port)


@pytest.fixture(scope="module")
def made_before_a_restart(tmp_path_factory):
    """A service, its topic, a pull subscription and one unacked event, made by a runner
    stopped with Ctrl-C (SIGINT)."""
    folder = tmp_path_factory.mktemp("kept_state")
    with runner(folder, "first", stop_with=signal.SIGINT) as (bus, _):
        token = ok(bus, "POST", "/services", bus.admin_token, {"name": "keeper"})["token"]
        ok(bus, "POST", "/topics", token, {"name": "kept"})
        sub = ok(bus, "POST", "/subscriptions", token, {"topics": ["kept"]})["id"]
        event = ok(bus, "POST", "/topics/kept/events", token, {"type": "kept.v1", "data": {"n": 1}})
        admin = bus.admin_token
    return {"folder": folder, "token": token, "subscription": sub, "event": event["id"],
            "admin": admin}


def test_the_admin_token_is_kept_in_the_state_directory_readable_by_its_owner_only(
        made_before_a_restart):
    path = made_before_a_restart["folder"] / "state" / "admin-token"
    assert path.read_text().strip() == made_before_a_restart["admin"]
    assert os.stat(path).st_mode & 0o777 == 0o600
    [snapshot] = (made_before_a_restart["folder"] / "state").glob("dynamodb-*.json")
    assert os.stat(snapshot).st_mode & 0o777 == 0o600


def test_a_restart_keeps_services_topics_subscriptions_unacked_events_and_the_admin_token(
        made_before_a_restart):
    made = made_before_a_restart
    with runner(made["folder"], "second", stop_with=signal.SIGTERM) as (bus, _):
        assert bus.admin_token == made["admin"]
        assert ok(bus, "GET", "/topics/kept", made["token"])["name"] == "kept"
        pulled = ok(bus, "POST", f"/subscriptions/{made['subscription']}/pull", made["token"],
                    {"max_messages": 10})["messages"]
        assert [m["event"]["id"] for m in pulled] == [made["event"]]
        assert [s["name"] for s in ok(bus, "GET", "/services", bus.admin_token)["services"]] \
            == ["keeper"]
    # stopped with SIGTERM: the lease taken above was saved too, and a third start sees it
    with runner(made["folder"], "third") as (bus, _):
        assert call(bus, "GET", "/topics/kept", made["token"])[0] == 200


def test_fresh_forgets_the_saved_state_and_the_admin_token(made_before_a_restart):
    made = made_before_a_restart
    with runner(made["folder"], "fresh", flags=["--fresh"]) as (bus, _):
        assert bus.admin_token != made["admin"]
        assert call(bus, "GET", "/topics/kept", made["token"])[0] == 401
        assert ok(bus, "GET", "/services", bus.admin_token)["services"] == []
    assert (made["folder"] / "state" / "admin-token").read_text().strip() == bus.admin_token


def test_a_killed_runner_keeps_what_the_last_periodic_snapshot_saved(tmp_path):
    snapshots = tmp_path / "state"

    def saved(name: str) -> bool:
        return any(name in p.read_text() for p in snapshots.glob("dynamodb-*.json"))

    with runner(tmp_path, "killed", TLKS_SNAPSHOT_SECONDS="0.2") as (bus, proc):
        name = f"k-{uuid.uuid4().hex[:6]}"
        token = ok(bus, "POST", "/services", bus.admin_token, {"name": name})["token"]
        for _ in range(600):   # until a periodic snapshot holds the service (not a timing claim)
            if saved(name):
                break
            time.sleep(0.05)
        proc.kill()   # kill -9: no last snapshot
        proc.wait()
    with runner(tmp_path, "after-kill") as (bus, _):
        assert call(bus, "GET", "/topics", token)[0] == 200


def test_a_user_endpoint_is_reused_and_nothing_is_saved_for_it(tmp_path):
    """With something already answering on the AWS port (here: the first runner's moto),
    a second runner reuses it and writes no snapshot of its own."""
    aws_port = _free_port()
    first_log, second_log = tmp_path / "owner.log", tmp_path / "guest.log"
    env = {"TLKS_TABLE_PREFIX": "tlks-e2e-shared", "TLKS_ADMIN_TOKEN": "shared-admin-token"}
    try:
        with local_bus(first_log, "dynamodb", aws_port,
                       TLKS_STATE_DIR=str(tmp_path / "owner"), **env):
            with local_bus(second_log, "dynamodb", aws_port,
                           TLKS_STATE_DIR=str(tmp_path / "guest"), **env) as (guest, _):
                ok(guest, "POST", "/services", "shared-admin-token", {"name": "guest"})
                assert "already running, reused" in second_log.read_text()
            assert list((tmp_path / "guest").glob("dynamodb-*.json")) == []
    finally:
        _reap_moto(first_log, aws_port)
