"""The HTTP client that talks to subscribers' callbacks.

Each request goes to the address the callback policy checked (no second DNS
lookup), with the callback's host name in ``Host`` and, for https, in SNI and
certificate verification.  Connections are pooled per (scheme, address,
port, host) so a busy subscription reuses them.  Nothing here raises for a
subscriber's failure: every request ends in an ``Outcome``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import ProtocolError
from urllib3.util.retry import Retry

from chalicelib.delivery.callbacks import Target
from chalicelib.delivery.deadlines import (
    Deadlines, WatchedHTTPConnection, WatchedHTTPSConnection, current_expired,
)

SNIPPET_CHARS = 512
MAX_BODY_BYTES = 256 * 1024


@dataclass
class Outcome:
    status: int | None             # None: no HTTP answer (timeout, connection error)
    latency_ms: float
    body: bytes = b""
    error: str | None = None
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def snippet(self) -> str:
        return self.body[:SNIPPET_CHARS * 4].decode("utf-8", "replace")[:SNIPPET_CHARS]


class _OnceMoreOnAFreshConnection(Retry):
    """Send again, at once, when the connection dropped before any answer came.

    That is what a pooled keep-alive connection does when the subscriber closed it
    just as we sent on it (servers drop idle connections after a few seconds:
    Node's default is 5 s): without this, an ordinary idle timeout would count as
    a failed delivery and wait out a backoff.  Never after a timeout, nor once the
    attempt's deadline has cut it off; in the rare case that the subscriber had got
    the first request after all, it sees the event twice, with the same
    ``webhook-id`` to dedupe by (deliveries are at least once anyway).
    """

    def increment(self, method=None, url=None, response=None, error=None, _pool=None,
                  _stacktrace=None):
        if response is None and isinstance(error, ProtocolError) and not current_expired():
            return super().increment(method, url, response, error, _pool, _stacktrace)
        if error is not None:
            raise error.with_traceback(_stacktrace)
        return super().increment(method, url, response, error, _pool, _stacktrace)


RETRY = _OnceMoreOnAFreshConnection(total=1, connect=0, read=1, redirect=False, status=0,
                                    other=0, allowed_methods=None, raise_on_redirect=False,
                                    raise_on_status=False, respect_retry_after_header=False)


class WebhookClient:
    def __init__(self, connect_timeout: float = 10.0, read_timeout: float = 10.0,
                 user_agent: str = "tlks-bus/1 (+https://tlks.io)") -> None:
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        # the whole request, not each wait for data (see chalicelib.delivery.deadlines)
        self.deadline_seconds = connect_timeout + read_timeout
        self._deadlines = Deadlines()
        self.user_agent = user_agent
        self._pools: dict[tuple, urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()

    def _pool(self, target: Target) -> urllib3.HTTPConnectionPool:
        key = (target.scheme, target.address, target.port, target.host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                if target.scheme == "https":
                    pool = urllib3.HTTPSConnectionPool(
                        target.address, target.port, maxsize=8, block=False,
                        server_hostname=target.host, assert_hostname=target.host,
                        cert_reqs="CERT_REQUIRED", retries=RETRY)
                    pool.ConnectionCls = WatchedHTTPSConnection
                else:
                    pool = urllib3.HTTPConnectionPool(target.address, target.port, maxsize=8,
                                                      block=False, retries=RETRY)
                    pool.ConnectionCls = WatchedHTTPConnection
                self._pools[key] = pool
            return pool

    def request(self, method: str, target: Target, *, path: str | None = None,
                body: bytes | None = None, headers: dict | None = None) -> Outcome:
        default_port = 443 if target.scheme == "https" else 80
        host = target.host if target.port == default_port else f"{target.host}:{target.port}"
        if ":" in target.host and not target.host.startswith("["):
            host = f"[{target.host}]" + ("" if target.port == default_port else f":{target.port}")
        all_headers = {"Host": host, "User-Agent": self.user_agent, **(headers or {})}
        started = time.perf_counter()
        watch = self._deadlines.start(self.deadline_seconds)
        try:
            response = self._pool(target).urlopen(
                method, path or target.path, body=body, headers=all_headers,
                timeout=self.timeout, redirect=False, preload_content=False)
            try:
                data = response.read(MAX_BODY_BYTES)
            finally:
                self._deadlines.finish(watch)      # before the connection can be reused
                response.release_conn()
            if watch.expired:       # cut off: what was read may be a truncated answer
                return self._late(started)
            return Outcome(response.status, _ms(started), data,
                           retry_after=response.headers.get("Retry-After"))
        except urllib3.exceptions.TimeoutError as exc:
            return Outcome(None, _ms(started), error=f"timeout: {type(exc).__name__}")
        except urllib3.exceptions.HTTPError as exc:
            if watch.expired:
                return self._late(started)
            return Outcome(None, _ms(started), error=f"connection error: {exc}"[:300])
        finally:
            self._deadlines.finish(watch)

    def _late(self, started: float) -> Outcome:
        return Outcome(None, _ms(started),
                       error=f"timeout: no complete answer within {self.deadline_seconds:g} s")

    def watching(self) -> int:
        """Requests under way (their deadlines still watched)."""
        return self._deadlines.pending()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
