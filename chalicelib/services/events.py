"""The event manager's request side: publish, and for a synchronous event wait
for its reply; read an event's status; take a pull responder's reply.

A publish is synchronous with ``"mode": "sync"`` or a ``Prefer: wait=<s>``
header (RFC 7240; at most ``TLKS_MAX_SYNC_WAIT_SECONDS``, 25 by default, so
that an answer fits API Gateway's 29 s).  The producer's request then holds
until the reply arrives (200, the reply's CloudEvent) or the wait ends:
202 with ``Location: /events/{id}`` (``GET`` it with ``?wait=`` to long-poll),
502 ``responder-failed`` when the responder's delivery was dead-lettered, or
502 ``responder-error`` when its latest attempt failed (retries go on).
"""
from __future__ import annotations

import re
from typing import NamedTuple

from chalicelib.config import Settings
from chalicelib.domain.envelope import CONTENT_TYPE
from chalicelib.errors import ResponderFailed
from chalicelib.services.auth import Principal
from chalicelib.services.publishing import Publisher, event_view
from chalicelib.services.replies import Replies
from chalicelib.services.subscriptions import Subscriptions
from chalicelib.services.tracking import Tracking

_PREFER_WAIT = re.compile(r"(?:^|[;,\s])wait\s*=\s*(\d{1,6})(?:$|[;,\s])", re.IGNORECASE)


class Answer(NamedTuple):
    """What the API responds (in ``respond()``'s order)."""
    body: dict
    status: int
    headers: dict


def prefer_wait(header: str | None) -> int | None:
    """The seconds of ``Prefer: wait=<s>``, or None when the header asks no wait."""
    found = _PREFER_WAIT.search(header or "")
    return int(found.group(1)) if found else None


class Events:
    def __init__(self, publisher: Publisher, replies: Replies, subscriptions: Subscriptions,
                 tracking: Tracking, settings: Settings) -> None:
        self.publisher = publisher
        self.replies = replies
        self.subscriptions = subscriptions
        self.tracking = tracking
        self.settings = settings

    def publish(self, principal: Principal, topic: str | None, body: object, base_url: str,
                prefer: str | None = None) -> Answer:
        """``POST /topics/{topic}/events`` (or ``POST /events`` with ``topic`` None)."""
        wait = prefer_wait(prefer)
        sync = wait is not None or (isinstance(body, dict) and body.get("mode") == "sync")
        if topic is None:
            result = self.publisher.multicast(principal, body, base_url, sync=sync)
        else:
            result = self.publisher.publish(principal, topic, body, base_url, sync=sync)
        if not sync:
            single = "id" in result
            return Answer(result, 202,
                          {"Location": f"{base_url}/events/{result['id']}"} if single else {})
        seconds = min(wait if wait is not None else self.settings.sync_wait_seconds,
                      self.settings.max_sync_wait_seconds)
        return self._await(result["id"], seconds, base_url)

    def _await(self, event_id: str, seconds: float, base_url: str) -> Answer:
        record = self.publisher.record(event_id)
        answer = self.replies.wait(record, seconds)
        location = {"Location": f"{base_url}/events/{event_id}"}
        if answer is not None and answer["status"] == "replied":
            return Answer(answer["reply"], 200, {"Content-Type": CONTENT_TYPE, **location})
        if answer is not None:
            raise ResponderFailed(f"{answer['by']} did not answer: {answer['reason']}",
                                  extra={"event_id": event_id}, headers=location)
        state = self.replies.state(record)
        if state.get("last_error"):
            raise ResponderFailed(f"the responder's latest attempt failed "
                                  f"({state['last_error']}); retries continue, the reply will "
                                  f"appear at the Location", code="responder-error",
                                  extra={"event_id": event_id}, headers=location)
        return Answer({"id": event_id, "status": state["status"],
                       "detail": f"no reply within {seconds:g} s; GET the Location "
                                 f"(with ?wait=<s>) for it"}, 202, location)

    def get(self, principal: Principal, event_id: str, wait: int = 0) -> dict:
        """``GET /events/{id}[?wait=s]``: a sync event's view waits for its end state."""
        record = self.publisher.record(event_id)
        self.publisher.check_reader(principal, record)
        view = event_view(record)
        if record.get("sync"):
            answer = self.replies.wait(record, min(wait, self.settings.max_sync_wait_seconds))
            view.update(self.replies.state(record, answer))
        return view

    def reply(self, principal: Principal, event_id: str, body: object) -> dict:
        """``POST /events/{id}/reply``: a pull responder answers."""
        record = self.publisher.record(event_id)
        responders = [s for s in (self.subscriptions.load(sid)
                                  for sid in record.get("responders", [])) if s]
        answer = self.replies.reply(principal, record, body, responders)
        for subscription in responders:
            if subscription["owner_id"] == principal.service_id:
                self.tracking.safely(self.tracking.replied, subscription, record,
                                     answer["reply"])
        return answer
