"""Named queues: the multi-queue system, usable without topics.

Any registered service may push to and lease from a queue; only its owner or
the admin may purge or delete it.  Documents: ``queue/<name>``; items live in
the queue store under ``q.<name>``.
"""
from __future__ import annotations

import json
import secrets

from chalicelib.config import Settings
from chalicelib.domain import disciplines
from chalicelib.domain.timeutil import iso_now
from chalicelib.domain.validation import validate
from chalicelib.errors import Conflict, Forbidden, NotFound, PayloadTooLarge
from chalicelib.services.auth import Principal
from chalicelib.services.leasing import lease_request, message_view, settled_view
from chalicelib.storage.base import AlreadyExists, DocumentStore, QueueStore, StoredItem

QUEUES = "queue"


def queue_key(name: str) -> str:
    return f"q.{name}"


class Queues:
    def __init__(self, docs: DocumentStore, queues: QueueStore, settings: Settings) -> None:
        self.docs = docs
        self.queues = queues
        self.settings = settings

    def create(self, principal: Principal, body: dict) -> dict:
        principal.require_service()
        body = validate("queue_create", body)
        queue = {"name": body["name"], "discipline": body.get("discipline", "fifo"),
                 "description": body.get("description", ""),
                 "max_deliveries": body.get("max_deliveries",
                                            self.settings.default_max_deliveries),
                 "owner": principal.service_name, "owner_id": principal.service_id,
                 "created_at": iso_now()}
        try:
            self.docs.put(QUEUES, queue["name"], queue, create_only=True)
        except AlreadyExists:
            raise Conflict(f"queue {queue['name']!r} already exists", code="queue-exists") \
                from None
        return queue

    def list(self, principal: Principal) -> list[dict]:
        return self.docs.list(QUEUES)

    def get(self, principal: Principal, name: str) -> dict:
        queue = self.load(name)
        size = self.queues.size(queue_key(name))
        return {**queue, "size": {"visible": size.visible,
                                  "in_flight_or_delayed": size.invisible,
                                  "total": size.total}}

    def delete(self, principal: Principal, name: str) -> None:
        queue = self._owned(principal, name)
        self.docs.delete(QUEUES, name)
        self.queues.drop(queue_key(queue["name"]))

    def push(self, principal: Principal, name: str, body: dict) -> dict:
        principal.require_service()
        batch = "messages" in body if isinstance(body, dict) else False
        messages = validate("queue_messages", body)["messages"] if batch \
            else [validate("queue_message", body)]
        queue = self.load(name)
        now = self.queues.clock()
        items = [self._item(queue, message, now) for message in messages]
        self.queues.push(queue_key(name), items)
        ids = [item.id for item in items]
        return {"ids": ids} if batch else {"id": ids[0]}

    def push_once(self, principal: Principal, name: str, message: dict, message_id: str,
                  at: float) -> dict:
        """One message whose id and key depend only on ``message_id`` and ``at``: pushing
        it again (a retried schedule fire) replaces it instead of adding a copy."""
        principal.require_service()
        message = validate("queue_message", message)
        queue = self.load(name)
        item = self._item(queue, message, at, message_id=message_id,
                          seq=int(at * 1_000_000) * 1000)
        self.queues.push(queue_key(name), [item])
        return {"id": item.id}

    def _item(self, queue: dict, message: dict, now: float, message_id: str | None = None,
              seq: int | None = None) -> StoredItem:
        payload = json.dumps(message["body"], separators=(",", ":"))
        if len(payload.encode()) > self.settings.max_payload_bytes:
            raise PayloadTooLarge(f"a message body may be at most "
                                  f"{self.settings.max_payload_bytes} bytes of JSON")
        message_id = message_id or "msg_" + secrets.token_hex(10)
        priority = message.get("priority", 0)
        key = disciplines.sort_key(queue["discipline"],
                                   disciplines.next_seq(now) if seq is None else seq,
                                   message_id, priority)
        delay_ms = message.get("delay_seconds", 0) * 1000
        now_ms = int(now * 1000)
        return StoredItem(key=key, id=message_id, payload=payload, priority=priority,
                          enqueued_at=now_ms, visible_at=now_ms + delay_ms)

    def lease(self, principal: Principal, name: str, body: dict) -> dict:
        principal.require_service()
        queue = self.load(name)
        leased = lease_request(self.queues, queue_key(name), body, self.settings,
                               queue.get("max_deliveries"))
        return {"messages": [{"receipt": lease.receipt, **message_view(lease.item, "body")}
                             for lease in leased]}

    def ack(self, principal: Principal, name: str, body: dict) -> dict:
        principal.require_service()
        body = validate("ack", body)
        self.load(name)
        return settled_view(self.queues.ack(queue_key(name), body["receipts"]), "acked")

    def nack(self, principal: Principal, name: str, body: dict) -> dict:
        principal.require_service()
        body = validate("nack", body)
        self.load(name)
        return settled_view(self.queues.nack(queue_key(name), body["receipts"],
                                             body.get("delay_seconds", 0)), "nacked")

    def extend(self, principal: Principal, name: str, body: dict) -> dict:
        """Keep leased messages invisible longer (a consumer still working on them)."""
        principal.require_service()
        body = validate("extend", body)
        self.load(name)
        return settled_view(self.queues.extend(queue_key(name), body["receipts"],
                                               body["visibility_timeout"]), "extended")

    def peek(self, principal: Principal, name: str, limit: int) -> dict:
        self.load(name)
        return {"messages": [message_view(i, "body")
                             for i in self.queues.peek(queue_key(name), limit)]}

    def purge(self, principal: Principal, name: str) -> None:
        self._owned(principal, name)
        self.queues.purge(queue_key(name))

    def dead_letters(self, principal: Principal, name: str, limit: int = 100) -> dict:
        self.load(name)
        return {"dead_letters": [message_view(i, "body")
                                 for i in self.queues.dead_letters(queue_key(name), limit)]}

    def load(self, name: str) -> dict:
        queue = self.docs.get(QUEUES, name)
        if queue is None:
            raise NotFound(f"no queue named {name!r}", code="queue-not-found")
        return queue

    def _owned(self, principal: Principal, name: str) -> dict:
        queue = self.load(name)
        if not (principal.is_admin or principal.service_id == queue["owner_id"]):
            raise Forbidden("only the queue's owner or the admin may do this",
                            code="not-queue-owner")
        return queue

