"""A deadline for a whole HTTP request, which urllib3 does not have.

urllib3's read timeout bounds each wait for data and restarts with every byte
received, so a callback that drips its answer a byte at a time could hold a
delivery for as long as it liked - outliving the delivery's lease (another
dispatcher would deliver the event again meanwhile) and tying up a delivery
thread.  ``Deadlines`` is one daemon thread that shuts the socket of any request
still running when its deadline passes; the blocked read then fails at once.

A request is watched from the moment its connection starts sending (pools built
with ``WatchedHTTPConnection`` / ``WatchedHTTPSConnection`` report it) until the
caller has read the answer and calls ``finish`` - before the connection goes
back to its pool, so a late shutdown can never hit the next request on a reused
connection.  The thread exists only while some request is watched.
"""
from __future__ import annotations

import itertools
import socket
import threading
import time
from heapq import heappop, heappush
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection

_current = threading.local()      # the Watch of the request this thread is making


class Watch:
    """One request's deadline; ``expired`` once its socket was shut."""

    __slots__ = ("deadline", "connection", "finished", "expired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.connection: Any = None
        self.finished = False
        self.expired = False


class Deadlines:
    """Shuts the sockets of requests that outlive their deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def start(self, seconds: float) -> Watch:
        """Watch the request this thread is about to make (see the module docstring)."""
        watch = Watch(time.monotonic() + seconds)
        with self._cond:
            earliest = self._heap[0][0] if self._heap else None
            heappush(self._heap, (watch.deadline, next(self._order), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="request-deadlines",
                                                daemon=True)
                self._thread.start()
            elif earliest is not None and watch.deadline < earliest:
                self._cond.notify()
        _current.watch = watch
        return watch

    def finish(self, watch: Watch) -> None:
        """The request is over: its connection may be reused."""
        with self._cond:
            watch.finished = True
        _current.watch = None

    def pending(self) -> int:
        """Requests watched and not finished (for tests and diagnostics)."""
        with self._cond:
            return sum(1 for _, _, watch in self._heap if not watch.finished)

    def _run(self) -> None:
        with self._cond:
            heap = self._heap
            while True:
                now = time.monotonic()
                while heap and (heap[0][2].finished or heap[0][0] <= now):
                    watch = heappop(heap)[2]
                    if not watch.finished:
                        self._expire(watch)
                if not heap:
                    self._thread = None      # the next start() starts another
                    return
                self._cond.wait(heap[0][0] - now)

    @staticmethod
    def _expire(watch: Watch) -> None:
        watch.expired = True
        sock = getattr(watch.connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass                 # already closed


def current_expired() -> bool:
    """Whether the request this thread is making has been cut off at its deadline."""
    watch = getattr(_current, "watch", None)
    return watch is not None and watch.expired


class _Reporting:
    """A connection that tells the current Watch it carries the request."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.connection = self
        return super().request(*args, **kwargs)  # type: ignore[misc]


class WatchedHTTPConnection(_Reporting, HTTPConnection):
    pass


class WatchedHTTPSConnection(_Reporting, HTTPSConnection):
    pass
