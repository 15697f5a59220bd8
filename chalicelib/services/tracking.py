"""What settling a *tracked* item means for its event: replies and outcomes.

Push delivery (the dispatcher) and pull consumers (ack, lease, dead letters)
both end an item's life; for a tracked event (sync, or with a result
callback: its key carries the event id) this module turns that into the
event's reply or failure (``replies.py``) and the subscriber's outcome
(``outcomes.py``).  Untracked items return at the first line of each hook.
"""
from __future__ import annotations

import json

from chalicelib.domain.disciplines import tracked_id
from chalicelib.errors import BusError
from chalicelib.observability import logger
from chalicelib.services.outcomes import Outcomes
from chalicelib.services.replies import REPLIES, Replies
from chalicelib.storage.base import DocumentStore

EVENTS = "event"


def reply_from_body(body: bytes) -> tuple[str | None, object, str | None]:
    """A push responder's 2xx body as (type, data, subject).

    A structured CloudEvent (JSON with ``specversion``) gives its type, data
    and subject; other JSON is the data; anything else is the data as text;
    an empty body is ``null``.
    """
    if not body.strip():
        return None, None, None
    text = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        return None, text, None
    if isinstance(parsed, dict) and "specversion" in parsed:
        return parsed.get("type"), parsed.get("data"), parsed.get("subject")
    return None, parsed, None


class Tracking:
    def __init__(self, docs: DocumentStore, replies: Replies, outcomes: Outcomes) -> None:
        self.docs = docs
        self.replies = replies
        self.outcomes = outcomes

    def _record(self, key: str) -> dict | None:
        """The event record of a tracked item's key (None: untracked)."""
        event_id = tracked_id(key)
        return self.docs.get(EVENTS, event_id) if event_id else None

    def delivered(self, subscription: dict, key: str, response: bytes | None) -> None:
        """The item with ``key`` was acked: by a pull consumer (``response`` None) or
        after a push 2xx (``response``: its body, a responder's reply)."""
        record = self._record(key)
        if record is None:
            return
        if subscription.get("responder") and record.get("sync") and response is not None:
            self._answer(subscription, record, response)
        answer = self.docs.get(REPLIES, record["id"]) if subscription.get("responder") else None
        if answer is not None and answer.get("reply") and answer["by"] == subscription["owner"]:
            self.outcomes.settled(record["id"], subscription, "replied", reply=answer["reply"])
        else:
            self.outcomes.settled(record["id"], subscription, "acked")

    def replied(self, subscription: dict, record: dict, reply: dict) -> None:
        """A pull responder's ``POST /events/{id}/reply``."""
        self.outcomes.settled(record["id"], subscription, "replied", reply=reply)

    def _answer(self, subscription: dict, record: dict, response: bytes) -> None:
        type_, data, subject = reply_from_body(response)
        try:
            self.replies.answer(record, subscription["owner"], type_, data, subject)
        except BusError as exc:        # already answered, expired, or too large
            if exc.code != "already-replied":
                self.replies.fail(record, subscription["owner"], f"unusable reply: {exc.detail}")

    def attempt_failed(self, subscription: dict, key: str, error: str) -> None:
        """A push attempt to a responder failed: the waiting producer may say why."""
        if not subscription.get("responder") or tracked_id(key) is None:
            return
        record = self._record(key)
        if record is not None and record.get("sync"):
            self.replies.delivered(record["id"], record["expires_at"], error=error)

    def leased(self, subscription: dict, keys: list[str]) -> None:
        """A pull responder leased sync requests: they are ``delivered``."""
        if not subscription.get("responder"):
            return
        for key in keys:
            record = self._record(key)
            if record is not None and record.get("sync"):
                self.replies.delivered(record["id"], record["expires_at"])

    def dead(self, subscription: dict, key: str, reason: str) -> None:
        """The item went to the dead letters (or its subscription is gone)."""
        record = self._record(key)
        if record is None:
            return
        if subscription.get("responder") and record.get("sync"):
            self.replies.fail(record, subscription["owner"], reason)
        self.outcomes.settled(record["id"], subscription, "dead-lettered", reason=reason)

    def safely(self, hook, *args) -> None:
        """Run a hook; its failure is logged, never the caller's (a delivery is done)."""
        try:
            hook(*args)
        except Exception:  # noqa: BLE001
            logger.exception("tracking an event's outcome failed")
