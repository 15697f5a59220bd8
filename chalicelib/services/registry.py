"""Service registration: only registered services may use the bus.

Documents: ``service/<id>`` (the service), ``service-name/<name>`` (unique
names), ``token/<sha256>`` (the live token).  Deregistering removes the token
first, so it stops working at once, then the service's subscriptions.
"""
from __future__ import annotations

import secrets
from typing import Callable

from chalicelib.domain.timeutil import iso_now
from chalicelib.domain.validation import validate
from chalicelib.errors import Conflict, Forbidden, NotFound
from chalicelib.services.auth import TOKENS, Principal, new_token, token_hash
from chalicelib.storage.base import AlreadyExists, DocumentStore

SERVICES = "service"
SERVICE_NAMES = "service-name"


def public_view(service: dict) -> dict:
    return {k: v for k, v in service.items() if k != "token_hash"}


class ServiceRegistry:
    def __init__(self, docs: DocumentStore,
                 on_deregister: Callable[[dict], None] = lambda service: None) -> None:
        self.docs = docs
        self.on_deregister = on_deregister
        self.on_change: Callable[[str, dict], None] = lambda verb, service: None
        self.on_revoke: Callable[[str], None] = lambda token_hash: None   # auth's cache

    def register(self, principal: Principal, body: dict) -> dict:
        principal.require_admin()
        body = validate("service_create", body)
        name = body["name"]
        service_id = "svc_" + secrets.token_hex(8)
        token = new_token()
        now = iso_now()
        service = {"id": service_id, "name": name, "description": body.get("description", ""),
                   "metadata": body.get("metadata", {}), "created_at": now, "updated_at": now,
                   "token_hash": token_hash(token)}
        self._reserve_name(name, service_id)
        self.docs.put(SERVICES, service_id, service)
        self.docs.put(TOKENS, service["token_hash"],
                      {"service_id": service_id, "service_name": name})
        self.on_change("registered", service)
        return {**public_view(service), "token": token}

    def _reserve_name(self, name: str, service_id: str) -> None:
        try:
            self.docs.put(SERVICE_NAMES, name, {"id": service_id}, create_only=True)
        except AlreadyExists:
            owner = self.docs.get(SERVICE_NAMES, name)
            if owner and self.docs.get(SERVICES, owner["id"]) is not None:
                raise Conflict(f"a service named {name!r} is already registered",
                               code="service-exists") from None
            # a reservation left behind by an interrupted registration: take it over
            self.docs.put(SERVICE_NAMES, name, {"id": service_id})

    def list(self, principal: Principal) -> list[dict]:
        services = sorted(self.docs.list(SERVICES), key=lambda s: (s["created_at"], s["id"]))
        return [public_view(s) for s in services]      # oldest first

    def get(self, principal: Principal, service_id: str) -> dict:
        return public_view(self._load(service_id))

    def update(self, principal: Principal, service_id: str, body: dict) -> dict:
        self._require_self_or_admin(principal, service_id)
        body = validate("service_update", body)
        service = self._load(service_id)
        service.update(body)
        service["updated_at"] = iso_now()
        self.docs.put(SERVICES, service_id, service)
        return public_view(service)

    def deregister(self, principal: Principal, service_id: str) -> None:
        principal.require_admin()
        service = self._load(service_id)
        self.docs.delete(TOKENS, service["token_hash"])
        self.on_revoke(service["token_hash"])
        self.on_deregister(service)
        self.docs.delete(SERVICES, service_id)
        self.docs.delete(SERVICE_NAMES, service["name"])
        self.on_change("deregistered", service)

    def rotate_token(self, principal: Principal, service_id: str) -> dict:
        self._require_self_or_admin(principal, service_id)
        service = self._load(service_id)
        token = new_token()
        old_hash, service["token_hash"] = service["token_hash"], token_hash(token)
        service["updated_at"] = iso_now()
        self.docs.put(TOKENS, service["token_hash"],
                      {"service_id": service_id, "service_name": service["name"]})
        self.docs.put(SERVICES, service_id, service)
        self.docs.delete(TOKENS, old_hash)
        self.on_revoke(old_hash)
        return {**public_view(service), "token": token}

    def _load(self, service_id: str) -> dict:
        service = self.docs.get(SERVICES, service_id)
        if service is None:
            raise NotFound(f"no service with id {service_id!r}", code="service-not-found")
        return service

    @staticmethod
    def _require_self_or_admin(principal: Principal, service_id: str) -> None:
        if not principal.may_act_for(service_id):
            raise Forbidden("a service may only change itself", code="not-your-service")
