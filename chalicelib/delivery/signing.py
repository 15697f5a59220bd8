"""Signatures on webhook requests, in the two schemes subscribers verify.

* WebSub: ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>``.
* Standard Webhooks: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature:
  v1,<base64>``, produced by the ``standardwebhooks`` package itself.

Both use the subscription's secret as UTF-8 bytes for the HMAC key, so a
subscriber using the ``standardwebhooks`` library verifies with
``Webhook(base64.b64encode(secret.encode()))`` (docs/push.md).
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook


def websub_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_headers(secret: str | None, message_id: str, body: bytes, now: float) -> dict:
    """The signature headers for one request (none without a secret)."""
    if not secret:
        return {}
    stamp = datetime.fromtimestamp(int(now), timezone.utc)
    signature = Webhook(secret.encode()).sign(message_id, stamp, body.decode())
    return {"X-Hub-Signature": websub_signature(secret, body), "webhook-id": message_id,
            "webhook-timestamp": str(int(now)), "webhook-signature": signature}
