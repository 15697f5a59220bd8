"""Short-lived, process-local caches for what every publish reads and rarely changes.

A publish reads the caller's token, the topic and the routing version before
it writes anything; caching them for a few seconds (``TLKS_CACHE_SECONDS``,
5 by default; 0 turns caching off) takes three reads off the hot path.  The
price is bounded staleness *across processes* (Lambda containers): a revoked
token or a deleted topic is still honoured for up to that long by a warm
container that saw it before, and a filter subscribed elsewhere starts routing
within a fifth of it.  The process that makes a change forgets its own copy
at once.
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

    def get(self, key: Hashable, load: Callable[[], V]) -> V:
        if self._cache is None:
            return load()
        with self._lock:
            found = self._cache.get(key, _MISSING)
        if found is not _MISSING:
            return found
        value = load()
        if value is not None:         # absence is never cached: a new one must show at once
            with self._lock:
                self._cache[key] = value
        return value

    def forget(self, key: Hashable) -> None:
        if self._cache is not None:
            with self._lock:
                self._cache.pop(key, None)
