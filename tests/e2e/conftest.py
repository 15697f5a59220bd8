"""End-to-end fixtures: the real local server, ``python -m chalicelib.runtime.local``, over HTTP.

One server per test session, exactly as ``make run`` starts it, but on free ports with its
own moto server and table prefix, so a developer's ``make run`` on 8000 / 4566 is never
touched.  Its output goes to a file, not a pipe: a pipe nobody drains would block the server
once full.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "e2e-admin-token"
READY_SECONDS = 60
# fast retries and short timeouts, so that push tests with failing subscribers finish quickly
PUSH_SETTINGS = {"TLKS_RETRY_BASE_SECONDS": "0.05", "TLKS_DELIVERY_CONNECT_TIMEOUT": "1",
                 "TLKS_DELIVERY_READ_TIMEOUT": "0.5", "TLKS_BREAKER_THRESHOLD": "1000"}


@dataclass(frozen=True)
class LiveBus:
    """A running local bus: its base URL, admin token and the file holding its output."""

    url: str
    admin_token: str
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_ready(proc: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        found = re.search(r"^READY (\S+)$", log.read_text(errors="replace"), re.MULTILINE)
        if found:
            return found.group(1)
        if proc.poll() is not None:
            pytest.fail(f"local server exited ({proc.returncode}) before READY:\n"
                        f"{log.read_text(errors='replace')}", pytrace=False)
        time.sleep(0.1)
    _stop(proc)
    pytest.fail(f"local server not READY within {READY_SECONDS}s:\n"
                f"{log.read_text(errors='replace')}", pytrace=False)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _reap_moto(log: Path, aws_port: int) -> None:
    """Kill the moto server the runner reported starting, should it have outlived the runner."""
    found = re.search(r"moto server pid (\d+)", log.read_text(errors="replace"))
    if not found:
        return
    pid = int(found.group(1))
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return  # gone (or no /proc: the runner's own cleanup is all we have)
    if b"chalicelib.runtime.emulator" in cmdline and str(aws_port).encode() in cmdline:
        os.kill(pid, signal.SIGKILL)


def bus_env(**extra: str) -> dict[str, str]:
    """The runner's environment: none of the developer's AWS/TLKS settings, ours on top."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("AWS_", "TLKS_")) and name != "PORT"}
    env.update(TLKS_ADMIN_TOKEN=ADMIN_TOKEN, TLKS_TABLE_PREFIX=f"tlks-e2e-{uuid.uuid4().hex[:8]}",
               **PUSH_SETTINGS)
    env.update(extra)
    return env


@contextlib.contextmanager
def local_bus(log: Path, storage: str, aws_port: int | None = None, flags: Sequence[str] = (),
              **extra_env: str) -> Iterator[tuple[LiveBus, subprocess.Popen]]:
    """Start ``python -m chalicelib.runtime.local`` on a free port; stop it on exit.

    Its state directory (snapshot, admin token, moto log) is a folder next to ``log``
    unless ``TLKS_STATE_DIR`` is given: never the developer's ``.tlks/``.
    """
    extra_env.setdefault("TLKS_STATE_DIR", str(log.parent / "tlks-state"))
    command = [sys.executable, "-m", "chalicelib.runtime.local", "--host", "127.0.0.1",
               "--port", "0", "--storage", storage]
    if aws_port:
        command += ["--aws-port", str(aws_port)]
    command += list(flags)
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=bus_env(**extra_env),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield LiveBus(url=_wait_until_ready(proc, log), admin_token=ADMIN_TOKEN, log=log), proc
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def live_bus(tmp_path_factory) -> Iterator[LiveBus]:
    """The bus served by the local runner on DynamoDB (a moto server of its own)."""
    log = tmp_path_factory.mktemp("live_bus") / "server.log"
    aws_port = _free_port()
    try:
        with local_bus(log, "dynamodb", aws_port) as (bus, _):
            yield bus
    finally:
        _reap_moto(log, aws_port)


@pytest.fixture(scope="session")
def minute_schedule(live_bus) -> dict:
    """A ``rate(1 minute)`` schedule on the live bus, its owner's token and pull subscription."""
    from tests.e2e.client import ok

    token = ok(live_bus, "POST", "/services", live_bus.admin_token, {"name": "cron-live"})["token"]
    ok(live_bus, "POST", "/topics", token, {"name": "cron-live"})
    sub = ok(live_bus, "POST", "/subscriptions", token, {"topics": ["cron-live"]})
    created_at = time.time()
    schedule = ok(live_bus, "POST", "/schedules", token, {
        "name": "every-minute", "expression": "rate(1 minute)",
        "target": {"topic": "cron-live", "type": "heartbeat", "data": {"beat": True}}})
    return {"token": token, "subscription": sub["id"], "created_at": created_at,
            "schedule": schedule}


@pytest.fixture(scope="session", autouse=True)
def _minute_schedule_made_early(request):
    """The minute-schedule test needs a minute of real time: make its schedule when the
    session starts, so the minute passes while the other tests run (nothing is hooked)."""
    if any("minute_schedule" in getattr(item, "fixturenames", ())
           for item in request.session.items):
        request.getfixturevalue("minute_schedule")
