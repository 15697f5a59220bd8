"""Short-lived, process-local caches for what every publish reads and rarely changes.

A publish reads the caller's token, the topic, the routing version and the
topic's fan-out index before it writes anything; caching them briefly
(``TLKS_CACHE_SECONDS``, 5 by default; 0 turns caching off) takes four reads
off the hot path.  The price is bounded staleness *across processes* (Lambda
containers), as with EventBridge rules: a revoked token or a deleted topic is
still honoured for up to 5 s by a warm container that saw it before, and a
subscription made through another container starts receiving within 1 s (a
fifth of it).  The process that makes a change forgets its own copy at once,
so one process (``make run``) never sees stale state.
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, Hashable, TypeVar

from cachetools import TTLCache

V = TypeVar("V")
_MISSING = object()


class Recent(Generic[V]):
    """``get(key, load)``: the value loaded at most ``seconds`` ago (thread-safe)."""

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self._cache: TTLCache | None = TTLCache(size, seconds) if seconds > 0 else None
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], V],
            keep: Callable[[V], bool] = lambda value: True) -> V:
        """The cached value, else ``load()`` (kept when not None and ``keep(value)``)."""
        if self._cache is None:
            return load()
        with self._lock:
            found = self._cache.get(key, _MISSING)
        if found is not _MISSING:
            return found
        value = load()
        if value is not None and keep(value):   # absence is never cached: a new one shows at once
            with self._lock:
                self._cache[key] = value
        return value

    def forget(self, key: Hashable) -> None:
        if self._cache is not None:
            with self._lock:
                self._cache.pop(key, None)
