"""The in-process push worker of ``make run``: what the DynamoDB stream does on AWS.

Publishing wakes it (``PushSubscriptions.on_enqueued``) for the queues that
just received events, so a delivery starts within milliseconds; a sweep every
``sweep_seconds`` catches due retries, breaker probes and anything a wake-up
missed.  Each subscription is drained on its own pool thread, so one slow
endpoint cannot hold up the others.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor


LOG = logging.getLogger("tlks.worker")


class LocalWorker:
    def __init__(self, bus, sweep_seconds: float = 1.0, threads: int = 4) -> None:
        self.bus = bus
        self.sweep_seconds = sweep_seconds
        self._woken: set[str] = set()
        self._busy: set[str] = set()
        self._again: set[str] = set()
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="push")

    def wake(self, queue: str) -> None:
        with self._lock:
            self._woken.add(queue)
        self._event.set()

    def run(self, stop: threading.Event) -> None:
        self.bus.push.on_enqueued = self.wake
        self.bus.outcomes.notify = self.wake
        next_sweep = 0.0
        while not stop.is_set():
            self._event.wait(0.2)
            self._event.clear()
            with self._lock:
                woken, self._woken = self._woken, set()
            try:
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.sweep_seconds
                    woken.update(self.bus.dispatcher.jobs)
                    woken.update(s["queue"] for s in self.bus.dispatcher.push_subscriptions())
                for queue in woken:
                    self._submit(queue)
            except Exception:  # noqa: BLE001 - the worker outlives any one failure
                LOG.exception("push worker round failed")
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _submit(self, queue: str) -> None:
        with self._lock:
            if queue in self._busy:
                self._again.add(queue)      # drained again as soon as the current drain ends
                return
            self._busy.add(queue)
        self._pool.submit(self._drain, queue)

    def _drain(self, queue: str) -> None:
        try:
            self.bus.dispatcher.drain_queue(queue, time.monotonic() + 30)
        except Exception:  # noqa: BLE001
            LOG.exception("draining %s failed", queue)
        finally:
            with self._lock:
                self._busy.discard(queue)
                again = queue in self._again
                self._again.discard(queue)
            if again:                       # woken while busy: that event may not be leased yet
                self._submit(queue)
