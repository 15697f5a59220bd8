"""Replies to synchronous events: who may answer, where the answer is kept,
and how a producer waits for it.

A sync event goes to every subscription it is routed to, like any event; the
subscriptions flagged ``responder: true`` answer it.  The *first* answer wins:
it is stored create-only as ``reply/<event id>``, so two responders (or a
retried delivery) can never overwrite it; later ones get 409
``already-replied``.  A push responder answers with the body of its 2xx
response; a pull responder with ``POST /events/{id}/reply``.  When the
responder's delivery is dead-lettered the same document records the failure,
so the producer learns why instead of waiting for nothing.

Status of a sync event: ``pending`` (stored) -> ``delivered`` (the responder
got it: ``progress/<id>``) -> ``replied`` | ``failed`` | ``expired`` (no
answer within ``TLKS_REPLY_SECONDS``), each with its timestamp.
"""
from __future__ import annotations

import json
import time
import uuid

from chalicelib.config import Settings
from chalicelib.domain import envelope
from chalicelib.domain.timeutil import iso
from chalicelib.domain.validation import validate
from chalicelib.errors import Conflict, Forbidden, PayloadTooLarge
from chalicelib.services.auth import Principal
from chalicelib.storage.base import AlreadyExists, DocumentStore

REPLIES = "reply"
PROGRESS = "progress"
POLL_FIRST, POLL_MAX = 0.01, 0.2


class Replies:
    def __init__(self, docs: DocumentStore, settings: Settings, clock=time.time,
                 sleep=time.sleep) -> None:
        self.docs = docs
        self.settings = settings
        self.clock = clock
        self.sleep = sleep

    # ---------------------------------------------------------------- answering

    def reply(self, principal: Principal, record: dict, body: object,
              subscriptions: list[dict]) -> dict:
        """``POST /events/{id}/reply`` from a pull responder."""
        principal.require_service()
        body = validate("reply", body)
        if not record.get("sync"):
            raise Conflict("only synchronous events take a reply", code="not-a-sync-event")
        routed = {route["subscription"] for route in record.get("routes", [])}
        if not any(s["id"] in routed and s.get("responder")
                   and s["owner_id"] == principal.service_id for s in subscriptions):
            raise Forbidden("only a responder subscription this event was routed to may "
                            "reply", code="not-a-responder")
        answer = self.answer(record, principal.service_name, body.get("type"), body["data"],
                             body.get("subject"))
        return {"id": record["id"], "status": "replied", "reply": answer["reply"]}

    def answer(self, record: dict, responder: str, type_: str | None, data,
               subject: str | None = None) -> dict:
        """Store ``data`` as the reply (first one wins).  Returns the stored document."""
        now = self.clock()
        if self._expired(record, now):
            raise Conflict("the request expired before this reply", code="reply-expired")
        reply = envelope.build(
            event_id=str(uuid.uuid4()), source=responder,
            type_=type_ or f"{record['envelope']['type']}.reply", data=data, topic=None,
            priority=record["envelope"].get("priority", 0), time=now, subject=subject,
            extensions={"correlationid": record["id"]})
        size = len(json.dumps(reply, separators=(",", ":")).encode())
        if size > self.settings.max_payload_bytes:
            raise PayloadTooLarge(f"the reply is {size} bytes as a CloudEvent; the limit is "
                                  f"{self.settings.max_payload_bytes}")
        return self._settle(record, {"status": "replied", "at": iso(now), "by": responder,
                                     "reply": reply})

    def fail(self, record: dict, responder: str, reason: str) -> None:
        """The responder's delivery was dead-lettered: the request failed."""
        try:
            self._settle(record, {"status": "failed", "at": iso(self.clock()),
                                  "by": responder, "reason": reason})
        except Conflict:
            pass                        # answered first: the reply stands

    def _settle(self, record: dict, doc: dict) -> dict:
        try:
            self.docs.put(REPLIES, record["id"], doc, create_only=True,
                          expires_at=record["expires_at"])
        except AlreadyExists:
            raise Conflict("this event has already been answered",
                           code="already-replied") from None
        return doc

    def delivered(self, record_id: str, expires_at: int, error: str | None = None) -> None:
        """The responder got the event (or, with ``error``, an attempt failed)."""
        doc = self.docs.get(PROGRESS, record_id) or {}
        if error is None:
            doc.setdefault("delivered_at", iso(self.clock()))
            doc.pop("last_error", None)
        else:
            doc["last_error"] = error
        self.docs.put(PROGRESS, record_id, doc, expires_at=expires_at)

    # ---------------------------------------------------------------- reading

    def wait(self, record: dict, seconds: float) -> dict | None:
        """The answer document, polling until it appears or ``seconds`` pass."""
        deadline = time.monotonic() + seconds
        pause = POLL_FIRST
        while True:
            found = self.docs.get(REPLIES, record["id"])
            remaining = deadline - time.monotonic()
            if found is not None or remaining <= 0:
                return found
            self.sleep(min(pause, remaining))
            pause = min(pause * 2, POLL_MAX)

    def state(self, record: dict, answer: dict | None = None) -> dict:
        """The sync part of an event's view: status, timestamps, reply or reason."""
        answer = answer or self.docs.get(REPLIES, record["id"])
        if answer is not None:
            view = {"status": answer["status"], f"{answer['status']}_at": answer["at"],
                    "responder": answer["by"]}
            if "reply" in answer:
                view["reply"] = answer["reply"]
            else:
                view["reason"] = answer["reason"]
            return view
        if self._expired(record, self.clock()):
            return {"status": "expired", "expired_at": iso(record["reply_by"])}
        progress = self.docs.get(PROGRESS, record["id"]) or {}
        view = {"status": "delivered" if "delivered_at" in progress else record["status"]}
        if "delivered_at" in progress:
            view["delivered_at"] = progress["delivered_at"]
        if "last_error" in progress:
            view["last_error"] = progress["last_error"]
        return view

    @staticmethod
    def _expired(record: dict, now: float) -> bool:
        return bool(record.get("reply_by")) and now > record["reply_by"]
