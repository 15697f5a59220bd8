"""Result callbacks: tell a producer how its event ended, subscriber by subscriber.

An event published with ``"callback": "<url>"`` is *tracked*: a tracker
(``track/<event id>``) names the subscriptions it was routed to, and each of
them records its end state once, create-only, as ``outcome:<event id>/<sub>``
(``acked``, ``replied`` with the reply, or ``dead-lettered`` with the reason).
Whoever records the last one creates ``result-sent/<event id>`` (create-only,
so exactly one of two racing finishers does) and queues a result job in
``sys.results``; the dispatcher POSTs the signed result to the callback with
the same SSRF checks, retries and backoff as push deliveries.  The job is a
queue item, so a crash between "complete" and "sent" loses nothing.

The receipt of a tracked item carries the event id (``disciplines.tracked_id``),
so settling an untracked event costs nothing extra.
"""
from __future__ import annotations

import json
import time

from chalicelib.config import Settings
from chalicelib.delivery.callbacks import CallbackNotAllowed, CallbackPolicy
from chalicelib.delivery.retry import Backoff
from chalicelib.delivery.signing import new_secret, signed_headers
from chalicelib.delivery.webhook import Outcome, WebhookClient
from chalicelib.domain import disciplines, envelope
from chalicelib.domain.timeutil import iso
from chalicelib.observability import logger
from chalicelib.storage.base import AlreadyExists, DocumentStore, QueueStore, StoredItem

TRACKERS = "track"
SENT = "result-sent"
RESULTS_QUEUE = "sys.results"
RESULT_ATTEMPTS = 10
BATCH = 10


def outcomes_collection(event_id: str) -> str:
    return f"outcome:{event_id}"


class Outcomes:
    def __init__(self, docs: DocumentStore, queues: QueueStore, settings: Settings,
                 policy: CallbackPolicy, client: WebhookClient, clock=time.time) -> None:
        self.docs = docs
        self.queues = queues
        self.settings = settings
        self.policy = policy
        self.client = client
        self.clock = clock
        self.backoff = Backoff(settings.retry_base_seconds, settings.retry_cap_seconds,
                               floor=min(1.0, settings.retry_base_seconds))
        self.visibility = int(settings.delivery_connect_timeout
                              + settings.delivery_read_timeout + 5)
        self.notify = lambda queue: None          # the local worker's wake-up hook

    # ---------------------------------------------------------------- recording

    @staticmethod
    def new_secret() -> str:
        """A Standard Webhooks secret: receivers verify with ``Webhook(secret)``."""
        return new_secret()

    def track(self, record: dict, callback: str, secret: str) -> None:
        """Start tracking ``record`` (already fanned out: its ``routes`` are known)."""
        expected = sorted({route["subscription"] for route in record.get("routes", [])})
        self.docs.put(TRACKERS, record["id"], {
            "event_id": record["id"], "callback": callback, "secret": secret,
            "type": record["envelope"]["type"], "topics": record["topics"],
            "producer": record["producer"], "expected": expected,
            "expires_at": record["expires_at"]}, expires_at=record["expires_at"])
        if not expected:
            self._complete(record["id"], record["expires_at"])

    def settled(self, event_id: str, subscription: dict, outcome: str, **detail) -> None:
        """A subscription is done with a tracked event (a no-op for untracked ones)."""
        tracker = self.docs.get(TRACKERS, event_id)
        if tracker is None or subscription["id"] not in tracker["expected"]:
            return
        collection = outcomes_collection(event_id)
        try:
            self.docs.put(collection, subscription["id"], {
                "subscription": subscription["id"], "subscriber": subscription["owner"],
                "outcome": outcome, "at": iso(self.clock()), **detail},
                create_only=True, expires_at=tracker["expires_at"])
        except AlreadyExists:
            return                      # a redelivery settled again: the first one counts
        if len(self.docs.list(collection)) >= len(tracker["expected"]):
            self._complete(event_id, tracker["expires_at"])

    def settled_keys(self, keys, subscription: dict, outcome: str) -> None:
        """``settled`` for every tracked item among settled keys."""
        for key in keys:
            event_id = disciplines.tracked_id(key)
            if event_id:
                self.settled(event_id, subscription, outcome)

    def _complete(self, event_id: str, expires_at: int) -> None:
        try:
            self.docs.put(SENT, event_id, {"at": iso(self.clock())}, create_only=True,
                          expires_at=expires_at)
        except AlreadyExists:
            return
        job = f"result-{event_id}"
        key = disciplines.sort_key("fifo", disciplines.next_seq(self.clock()), job)
        self.queues.push(RESULTS_QUEUE, [StoredItem(key=key, id=job,
                                                    payload=json.dumps({"event": event_id}))])
        self.notify(RESULTS_QUEUE)

    # ---------------------------------------------------------------- sending

    def run_results(self) -> int:
        """Send the due result callbacks; returns how many were delivered."""
        sent = 0
        while True:
            leased = self.queues.lease(RESULTS_QUEUE, BATCH, self.visibility, RESULT_ATTEMPTS)
            if not leased:
                return sent
            for lease in leased:
                event_id = json.loads(lease.item.payload)["event"]
                tracker = self.docs.get(TRACKERS, event_id)
                outcome = self._send(tracker) if tracker else Outcome(200, 0.0)
                if outcome.ok:
                    self.queues.ack(RESULTS_QUEUE, [lease.receipt])
                    sent += 1
                    continue
                logger.warning("result callback failed", extra={
                    "event_id": event_id, "status": outcome.status, "error": outcome.error})
                if lease.item.deliveries >= RESULT_ATTEMPTS:
                    self.queues.bury(RESULTS_QUEUE, [lease])
                else:
                    self.queues.nack(RESULTS_QUEUE, [lease.receipt],
                                     self.backoff.delay(lease.item.deliveries))

    def result(self, tracker: dict) -> dict:
        """The CloudEvent a producer's callback receives."""
        outcomes = sorted(self.docs.list(outcomes_collection(tracker["event_id"])),
                          key=lambda o: o["subscription"])
        return envelope.build(
            event_id=f"result-{tracker['event_id']}", source="tlks-bus",
            type_="bus.event.result", topic=None, priority=0, time=self.clock(),
            data={"event_id": tracker["event_id"], "type": tracker["type"],
                  "topics": tracker["topics"],
                  "status": "completed" if all(o["outcome"] != "dead-lettered"
                                               for o in outcomes) else "partially-failed",
                  "outcomes": outcomes},
            extensions={"correlationid": tracker["event_id"]})

    def _send(self, tracker: dict) -> Outcome:
        result = self.result(tracker)
        body = json.dumps(result, separators=(",", ":")).encode()
        headers = {"Content-Type": envelope.CONTENT_TYPE,
                   **signed_headers(tracker["secret"], result["id"], body, self.clock())}
        try:
            target = self.policy.check(tracker["callback"])
        except CallbackNotAllowed as exc:
            return Outcome(None, 0.0, error=exc.detail)
        return self.client.request("POST", target, body=body, headers=headers)
