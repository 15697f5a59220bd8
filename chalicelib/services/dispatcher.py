"""The dispatcher: delivers push subscriptions' events to their callbacks.

One call to ``drain(subscription)`` leases what is due from the
subscription's queue, POSTs each event (signed CloudEvent, structured JSON)
and settles it:

=========================  ===================================================
2xx                        ack
410 Gone                   the subscription is removed (WebSub)
429 / 503 + Retry-After    retry after that long
anything else, timeout,    retry with exponential backoff and full jitter;
connection error           after ``max_deliveries`` -> dead letters
=========================  ===================================================

Every attempt is recorded (status, latency, a capped response snippet).
Consecutive failures open a circuit breaker (push.py): the subscription is
``paused`` (events keep queuing) and one event is sent as a probe at growing
intervals until the endpoint answers again.  ``ordered`` subscriptions hold a
per-subscription lock and send only the head of the queue, one at a time.

Nothing is lost when the process dies mid-delivery: an item is only removed
by an ack after a 2xx, so a crashed delivery's lease simply expires and the
item is delivered again (at least once; ``webhook-id`` lets receivers dedupe).

Who calls it: on AWS the queue table's stream (``on_stream_records``) and the
scheduled tick (``sweep``, for due retries and probes); locally the worker
thread of ``make run`` (``chalicelib/runtime/worker.py``).
"""
from __future__ import annotations

import json
import secrets
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Iterable
from urllib.parse import urlencode

from chalicelib.config import Settings
from chalicelib.delivery.callbacks import CallbackNotAllowed, CallbackPolicy
from chalicelib.delivery.retry import Backoff, retry_after_seconds
from chalicelib.delivery.signing import signed_headers
from chalicelib.delivery.webhook import Outcome, WebhookClient
from chalicelib.domain.envelope import CONTENT_TYPE
from chalicelib.domain.timeutil import iso
from chalicelib.middleware import DeliveryContext, Pipeline
from chalicelib.observability import logger, metrics
from chalicelib.services.caching import Recent
from chalicelib.services.outcomes import RESULTS_QUEUE
from chalicelib.services.push import (
    MAX_LEASE_SECONDS, VERIFY_QUEUE, PushSubscriptions, hub_topic, signing_secrets,
)
from chalicelib.services.subscriptions import SUBSCRIPTIONS, Subscriptions
from chalicelib.services.tracking import Tracking

if TYPE_CHECKING:
    from chalicelib.services.system_events import SystemEvents
from chalicelib.storage.base import AlreadyExists, DocumentStore, Leased, QueueStore

LOCKS = "dispatch-lock"
BATCH = 10


class Dispatcher:
    def __init__(self, docs: DocumentStore, queues: QueueStore, subscriptions: Subscriptions,
                 push: PushSubscriptions, settings: Settings, policy: CallbackPolicy,
                 tracking: Tracking, client: WebhookClient | None = None, clock=time.time,
                 window: int = 16, pipeline: Pipeline | None = None) -> None:
        self.docs = docs
        self.pipeline = pipeline or Pipeline([])
        self.tracking = tracking
        self.system: SystemEvents | None = None      # told of failures and dead letters
        # a wake-up per publish would read the subscription each time; its status is read
        # again every second while a drain runs (``_stopped``), so a second-old copy of an
        # active one will do (only active ones: activation and resume must show at once)
        self._recent: Recent[dict] = Recent(1.0, size=1000)
        # queues of the bus's own jobs, drained like a push subscription's
        self.jobs = {VERIFY_QUEUE: self.run_verifications,
                     RESULTS_QUEUE: tracking.outcomes.run_results}
        self.queues = queues
        self.subscriptions = subscriptions
        self.push = push
        self.settings = settings
        self.policy = policy
        self.client = client or WebhookClient(settings.delivery_connect_timeout,
                                              settings.delivery_read_timeout)
        self.clock = clock
        self.backoff = Backoff(settings.retry_base_seconds, settings.retry_cap_seconds,
                               floor=min(1.0, settings.retry_base_seconds))
        # deliveries in flight per subscription; the pool serves the local worker's four
        # concurrent drains without queueing (a queued delivery's lease would be ticking)
        self.window = window
        self.pool = ThreadPoolExecutor(max_workers=window * 4, thread_name_prefix="deliver")
        # a lease outlives the slowest possible attempt (the client cuts an attempt off at
        # connect + read timeout), so no one else gets the item meanwhile
        self.attempt_seconds = settings.delivery_connect_timeout + settings.delivery_read_timeout
        self.visibility = int(self.attempt_seconds + 5)

    # ---------------------------------------------------------------- entry points

    def sweep(self, budget_seconds: float = 50.0) -> dict:
        """Deliver everything due on every push subscription, and run verifications."""
        deadline = time.monotonic() + budget_seconds
        delivered = sum(job() for job in self.jobs.values())
        for subscription in self.push_subscriptions():
            if time.monotonic() > deadline:
                break
            delivered += self.drain(subscription, deadline)
        return {"delivered": delivered}

    def on_stream_records(self, records: Iterable[dict]) -> dict:
        """The queue table's stream: drain each push queue that just got items."""
        queues = {r.get("dynamodb", {}).get("Keys", {}).get("queue", {}).get("S")
                  for r in records if r.get("eventName") in ("INSERT", "MODIFY")}
        try:
            delivered = sum(self.drain_queue(queue, time.monotonic() + 50)
                            for queue in sorted(q for q in queues if q))
        finally:
            metrics.flush()
        return {"delivered": delivered}

    def drain_queue(self, queue: str, deadline: float) -> int:
        """Whatever ``queue`` holds for the dispatcher: a job queue or a push subscription's."""
        if queue in self.jobs:
            return self.jobs[queue]()
        if queue.startswith("s.") and not queue.endswith("#dead"):
            cached = self._recent.get(queue, lambda: self.subscriptions.load(queue[2:]),
                                      keep=lambda s: s.get("status") == "active")
            subscription = dict(cached) if cached else None     # a drain updates its copy
            if subscription and subscription.get("mode") == "push":
                return self.drain(subscription, deadline)
        return 0

    def push_subscriptions(self) -> list[dict]:
        return [s for s in self.docs.list(SUBSCRIPTIONS) if s.get("mode") == "push"]

    # ---------------------------------------------------------------- delivery

    def drain(self, subscription: dict, deadline: float) -> int:
        """Deliver what is due on one subscription until empty or past ``deadline``."""
        if not self._deliverable(subscription):
            return 0
        probing = subscription["status"] == "paused"
        if subscription.get("ordered") or probing:
            return self._drain_one_at_a_time(subscription, deadline, probing)
        return self._drain_window(subscription, deadline)

    def _drain_window(self, subscription: dict, deadline: float) -> int:
        """Keep up to ``window`` deliveries in flight; lease more as each one ends.

        A slow or timing-out callback occupies one slot, not the whole batch.  A
        lease that comes back short means the queue is empty for now: no more
        reads; what arrives later wakes a new drain (the stream, the local worker).
        """
        in_flight: set = set()
        done, checked, empty = 0, time.monotonic(), False
        try:
            while time.monotonic() < deadline:
                free = self.window - len(in_flight)
                leased = []
                if free > 0 and not empty and subscription.get("status") == "active":
                    asked = min(free, BATCH)
                    leased = self.queues.lease(subscription["queue"], asked,
                                               self.visibility, subscription["max_deliveries"])
                    empty = len(leased) < asked
                    in_flight |= {self.pool.submit(self._deliver, subscription, lease)
                                  for lease in leased}
                if not in_flight:
                    break
                if leased and len(in_flight) < self.window:
                    continue
                finished, in_flight = wait(in_flight, timeout=0.5, return_when=FIRST_COMPLETED)
                done += sum(future.result() for future in finished)
                if time.monotonic() - checked > 1.0:
                    checked = time.monotonic()
                    if self._stopped(subscription):
                        subscription["status"] = "stopped"
        finally:
            done += sum(future.result() for future in in_flight)
        return done

    def _drain_one_at_a_time(self, subscription: dict, deadline: float, probing: bool) -> int:
        lock_key = subscription["id"]
        try:
            self.docs.put(LOCKS, lock_key, {"at": self.clock()}, create_only=True,
                          expires_at=int(self.clock() + self.visibility))
        except AlreadyExists:
            return 0                      # another dispatcher is delivering it
        done = 0
        try:
            while time.monotonic() < deadline:
                head = self.queues.head(subscription["queue"])
                if head is None or head.visible_at > int(self.clock() * 1000):
                    break                 # empty, or the head waits for its retry
                leased = self.queues.lease(subscription["queue"], 1, self.visibility,
                                           subscription["max_deliveries"])
                if not leased:
                    break
                ok = self._deliver(subscription, leased[0])
                done += ok
                if probing or self._stopped(subscription) or not ok:
                    break
        finally:
            self.docs.delete(LOCKS, lock_key)
        return done

    def _deliverable(self, subscription: dict) -> bool:
        status = subscription.get("status")
        if status == "active":
            expires = subscription.get("expires_epoch")
            if expires and expires < self.clock():
                self._expire(subscription)
                return False
            return True
        if status == "paused":            # breaker probes only; a manual pause waits
            probe_at = (subscription.get("breaker") or {}).get("probe_at")
            return bool(probe_at) and probe_at <= self.clock()
        return False

    def _stopped(self, subscription: dict) -> bool:
        current = self.subscriptions.load(subscription["id"])
        return current is None or current.get("status") not in ("active",)

    def _deliver(self, subscription: dict, lease: Leased) -> bool:
        """One attempt; settles the lease.  True when the event was delivered."""
        item = lease.item
        if item.visible_at - self.clock() * 1000 < self.attempt_seconds * 1000:
            # waited for a free delivery thread: renew the lease before the attempt, so
            # that it cannot run out midway and let another dispatcher deliver it too
            if self.queues.extend(subscription["queue"], [lease.receipt],
                                  self.visibility).stale:
                return False              # already lost: whoever holds it now delivers it
        text = self.pipeline.load(item.payload)
        envelope = json.loads(text)
        context = DeliveryContext(subscription, item.id, envelope.get("topic"),
                                  envelope.get("producer"), text)
        self.pipeline.before_deliver(context)
        outcome = self._send(subscription, item.id, text.encode(), envelope)
        self._record(subscription, item, outcome)
        context.outcome = self._settle(subscription, lease, outcome, envelope.get("topic"))
        context.status, context.latency_ms = outcome.status, outcome.latency_ms
        self.pipeline.after_deliver(context)
        return context.outcome == "delivered"

    def _send(self, subscription: dict, event_id: str, body: bytes, envelope: dict) -> Outcome:
        """POST the signed CloudEvent to the (checked) callback."""
        topic_url = subscription.get("topic_urls", {}).get(envelope.get("topic")) \
            or hub_topic(subscription)
        headers = {"Content-Type": CONTENT_TYPE,
                   "Link": f'<{subscription.get("hub_url", "")}>; rel="hub", '
                           f'<{topic_url}>; rel="self"',
                   **signed_headers(signing_secrets(subscription, self.clock()), event_id, body,
                                    self.clock())}
        try:
            target = self.policy.check(subscription["callback"])
            return self.client.request("POST", target, body=body, headers=headers)
        except CallbackNotAllowed as exc:
            return Outcome(None, 0.0, error=exc.detail)

    def _settle(self, subscription: dict, lease: Leased, outcome: Outcome,
                topic: str | None) -> str:
        """Ack, retry later or bury, as the outcome says; returns what happened."""
        item, queue = lease.item, subscription["queue"]
        if outcome.ok:
            # the reply (sync) is kept before the ack: a crash in between re-delivers
            self.tracking.safely(self.tracking.delivered, subscription, item.key, outcome.body)
            self.queues.ack(queue, [lease.receipt])
            self.push.breaker_success(subscription)
            return "delivered"
        if outcome.status == 410:
            logger.info("callback answered 410 Gone: subscription removed",
                        extra={"subscription": subscription["id"]})
            self.subscriptions.remove(subscription)
            self.tracking.safely(self.tracking.dead, subscription, item.key,
                                 "the callback answered 410 Gone: subscription removed")
            return "failed"
        self.push.breaker_failure(subscription)
        failure = outcome.error or f"the callback answered {outcome.status}"
        if self.system:
            self.system.delivery_failed(subscription, topic, {
                "event_id": item.id, "attempt": item.deliveries, "status": outcome.status,
                "error": failure})
        self.tracking.safely(self.tracking.attempt_failed, subscription, item.key, failure)
        if item.deliveries >= subscription["max_deliveries"]:
            self.queues.bury(queue, [lease])
            reason = f"{item.deliveries} attempts; last: {failure}"
            self.tracking.safely(self.tracking.dead, subscription, item.key,
                                 f"dead-lettered after {reason}")
            if self.system:
                self.system.dead_lettered(subscription, topic, item.id, reason)
            return "dead-lettered"
        delay = None
        if outcome.status in (429, 503):
            delay = retry_after_seconds(outcome.retry_after, self.clock(), self.backoff.cap)
        if delay is None:
            delay = self.backoff.delay(item.deliveries)
        self.queues.nack(queue, [lease.receipt], delay)
        return "failed"

    def _record(self, subscription: dict, item, outcome: Outcome) -> None:
        attempt = {"event_id": item.id, "attempt": item.deliveries, "at": iso(self.clock()),
                   "status": outcome.status, "latency_ms": outcome.latency_ms,
                   "outcome": "delivered" if outcome.ok else "failed"}
        if outcome.error:
            attempt["error"] = outcome.error
        if not outcome.ok and outcome.body:
            attempt["response_snippet"] = outcome.snippet
        try:
            self.push.record_attempt(subscription, attempt)
        except Exception:  # noqa: BLE001 - the log must never cost a delivery
            logger.exception("could not record a delivery attempt")

    def _expire(self, subscription: dict) -> None:
        self.subscriptions.unroute(subscription)
        self.push.mark(subscription, "expired", "the subscription's lease ran out; "
                                                "subscribe again to renew it")

    # ---------------------------------------------------------------- verification

    def run_verifications(self) -> int:
        done = 0
        while True:
            leased = self.queues.lease(VERIFY_QUEUE, BATCH, self.visibility, 5)
            if not leased:
                return done
            for lease in leased:
                job = json.loads(lease.item.payload)
                subscription = self.subscriptions.load(job["subscription"])
                if subscription is not None:
                    self._verify(subscription, job["mode"])
                self.queues.ack(VERIFY_QUEUE, [lease.receipt])
                done += 1

    def _verify(self, subscription: dict, mode: str) -> None:
        challenge = secrets.token_urlsafe(24)
        query = {"hub.mode": mode, "hub.topic": hub_topic(subscription),
                 "hub.challenge": challenge}
        if mode == "subscribe":
            # WebSub: always sent.  A subscription made through REST without a lease never
            # expires; it is told the longest lease the hub grants (renewing is harmless)
            query["hub.lease_seconds"] = str(subscription.get("lease_seconds")
                                             or MAX_LEASE_SECONDS)
        try:
            target = self.policy.check(subscription["callback"])
            separator = "&" if "?" in target.path else "?"
            outcome = self.client.request("GET", target,
                                          path=target.path + separator + urlencode(query))
        except CallbackNotAllowed as exc:
            outcome = Outcome(None, 0.0, error=exc.detail)
        confirmed = outcome.ok and outcome.body.decode("utf-8", "replace") == challenge
        if mode == "unsubscribe":
            if confirmed:
                self.subscriptions.remove(subscription)
            return
        if confirmed:
            self.push.activate(subscription)
            self.push.on_enqueued(subscription["queue"])
            return
        reason = outcome.error or (f"callback answered {outcome.status}" if not outcome.ok
                                   else "callback did not echo the challenge")
        if subscription["status"] == "pending":
            self.subscriptions.unroute(subscription)
            self.queues.drop(subscription["queue"])
            self.push.mark(subscription, "denied", f"verification failed: {reason}")
