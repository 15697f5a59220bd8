"""Who is calling: bearer tokens for registered services and the admin.

Tokens are random, shown once, and stored only as a SHA-256 hash (a token is
a high-entropy secret, so a fast hash is enough; no salt or KDF needed).  The
token document carries the service's id and name, so authenticating a
request costs one read.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Callable, Union

from chalicelib.errors import Forbidden, StorageUnavailable, Unauthorized
from chalicelib.services.caching import Recent
from chalicelib.storage.base import DocumentStore

TOKENS = "token"
TOKEN_PREFIX = "tlks_"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: the admin, or a registered service."""

    kind: str                      # "admin" | "service"
    service_id: str | None = None
    service_name: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("this operation needs the admin token", code="admin-only")

    def require_service(self) -> "Principal":
        if self.is_admin:
            raise Forbidden("this operation is for registered services; the admin token "
                            "cannot publish, subscribe or use queues", code="service-only")
        return self

    def may_act_for(self, service_id: str) -> bool:
        return self.is_admin or self.service_id == service_id


ADMIN = Principal("admin")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    """Turns an ``Authorization`` header into a ``Principal``."""

    def __init__(self, docs: DocumentStore,
                 admin_token: Union[str, None, Callable[[], str | None]],
                 cache_seconds: float = 0.0) -> None:
        """``admin_token``: the token, or a function returning it (on AWS: a cached SSM
        parameter read, so a rotated token takes effect without a redeploy).
        ``cache_seconds``: how long a service token, once found, is trusted without a
        read (caching.py); a token rotated or revoked here is forgotten at once."""
        self.docs = docs
        self._admin_token = admin_token
        self._tokens: Recent[dict] = Recent(cache_seconds)

    @property
    def admin_token(self) -> str | None:
        token = self._admin_token
        if callable(token):
            try:
                token = token()
            except Exception as exc:   # SSM unreachable, parameter missing, access denied
                raise StorageUnavailable("the admin token parameter cannot be read") from exc
        return token or None

    def authenticate(self, header: str | None) -> Principal:
        if not header:
            raise Unauthorized("send 'Authorization: Bearer <token>'", code="missing-token")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("the Authorization header must be 'Bearer <token>'",
                               code="bad-auth-scheme")
        try:
            admin, unreadable = self.admin_token, None
        except StorageUnavailable as exc:   # services still authenticate; the admin gets a 503
            admin, unreadable = None, exc
        if admin and hmac.compare_digest(token.encode(), admin.encode()):
            return ADMIN
        hashed = token_hash(token)
        doc = None if len(token) > 256 else self._tokens.get(
            hashed, lambda: self.docs.get(TOKENS, hashed))
        if doc is None:
            if unreadable is not None:
                raise unreadable
            raise Unauthorized("unknown or revoked token", code="invalid-token")
        return Principal("service", doc["service_id"], doc["service_name"])

    def forget(self, hashed: str) -> None:
        """A token was rotated or revoked in this process: stop trusting it now."""
        self._tokens.forget(hashed)
