"""A throwaway ``redis-server`` for the tests and the benchmark.

``throwaway_redis()`` starts one on a free port of 127.0.0.1 with no persistence
(``--save '' --appendonly no``) in a temporary folder, and stops it on the way
out whatever happened; the kernel stops it too should this process be killed
(Linux).  The ``redis_server`` fixture wraps it for a pytest session: where no
``redis-server`` is installed, the Redis tests skip with how to install it -
except under ``CI=true``, where they fail, so CI cannot pass without them.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from chalicelib.runtime.local import stop_process

INSTALL_HINT = ("redis-server not found: install it (Debian/Ubuntu: "
                "`sudo apt-get install -y redis-server`; macOS: `brew install redis`) "
                "to run the Redis tests; .ci/run installs it")
START_SECONDS = 10.0


@dataclass(frozen=True)
class RedisServer:
    port: int
    pid: int
    log: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent():
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def throwaway_redis(binary: str | None = None, port: int | None = None) -> Iterator[RedisServer]:
    """A running ``redis-server`` on ``port`` (default: a free one), stopped on exit.

    Raises:
        FileNotFoundError: no ``redis-server`` on PATH.
        RuntimeError: it did not come up (the message holds its log).
    """
    binary = binary or shutil.which("redis-server")
    if not binary:
        raise FileNotFoundError(INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="tlks-redis-") as folder:
        log = Path(folder) / "redis.log"
        wanted = port
        for _ in range(3):   # another process may take the free port first
            port = wanted or _free_port()
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", folder, "--daemonize", "no"],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent())
            deadline = time.monotonic() + START_SECONDS
            while proc.poll() is None and not _answers(port) and time.monotonic() < deadline:
                time.sleep(0.02)
            if proc.poll() is None and _answers(port):
                break
            stop_process(proc)
        else:
            raise RuntimeError(f"redis-server did not start:\n{log.read_text(errors='replace')}")
        try:
            yield RedisServer(port=port, pid=proc.pid, log=log)
        finally:
            stop_process(proc)


def no_redis_server() -> None:
    """Skip the calling test for want of redis-server - or fail it under ``CI=true``."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{INSTALL_HINT} (CI=true: the Redis tests may not be skipped)",
                    pytrace=False)
    pytest.skip(INSTALL_HINT)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A throwaway redis-server for the session (skips without one, fails under CI)."""
    try:
        with throwaway_redis() as server:
            yield server
    except FileNotFoundError:
        no_redis_server()
