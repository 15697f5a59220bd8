"""Signatures on webhook requests, in the two schemes subscribers verify.

* WebSub: ``X-Hub-Signature: sha256=<hex HMAC-SHA256(key, body)>``.
* Standard Webhooks: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature:
  v1,<base64>``, produced by the ``standardwebhooks`` package itself.  While a
  rotated secret's overlap lasts, the header carries one signature per secret,
  space-separated (the newest first), as the Standard Webhooks spec allows.

The HMAC key depends on the secret's form:

* ``whsec_<base64>`` (what the bus generates, and what Standard Webhooks
  libraries generate): the decoded bytes, so a receiver writes
  ``Webhook(secret).verify(body, headers)``;
* anything else (a secret a subscriber chose): its UTF-8 bytes, as before, so a
  receiver writes ``Webhook(base64.b64encode(secret.encode()))``.

Both schemes sign with the same key (docs/push.md).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from datetime import datetime, timezone
from typing import Iterable

from standardwebhooks.webhooks import Webhook

from chalicelib.errors import ValidationFailed

STANDARD_PREFIX = "whsec_"
#: WebSub: "hub.secret ... MUST be less than 200 bytes in length" (we allow exactly 200)
MAX_SECRET_BYTES = 200


def new_secret() -> str:
    """A fresh secret in the Standard Webhooks form: ``whsec_`` + base64 of 32 random bytes."""
    return STANDARD_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signing_key(secret: str) -> bytes:
    """The HMAC key of ``secret``: a ``whsec_<base64>`` secret's bytes, else its UTF-8."""
    if secret.startswith(STANDARD_PREFIX):
        try:
            key = base64.b64decode(secret[len(STANDARD_PREFIX):], validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if key:
            return key
    return secret.encode()


def check_secret(secret: str | None, field: str) -> None:
    """Refuse a secret over 200 UTF-8 bytes (the schema can only count characters)."""
    if secret is not None and len(secret.encode()) > MAX_SECRET_BYTES:
        message = f"at most {MAX_SECRET_BYTES} bytes as UTF-8 (this one has {len(secret.encode())})"
        raise ValidationFailed(f"{field} is too long: {message}",
                               extra={"errors": [{"field": field, "message": message}]})


def websub_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(signing_key(secret), body, hashlib.sha256).hexdigest()


def signed_headers(secret: str | Iterable[str] | None, message_id: str, body: bytes,
                   now: float) -> dict:
    """The signature headers for one request (none without a secret).

    ``secret`` is one secret or several, newest first: each signs the Standard
    Webhooks header; ``X-Hub-Signature`` (one value only) uses the newest.
    """
    keys = [secret] if isinstance(secret, str) else [s for s in secret or () if s]
    keys = [k for k in keys if k]
    if not keys:
        return {}
    stamp = datetime.fromtimestamp(int(now), timezone.utc)
    signature = " ".join(Webhook(signing_key(key)).sign(message_id, stamp, body)
                         for key in dict.fromkeys(keys))
    return {"X-Hub-Signature": websub_signature(keys[0], body), "webhook-id": message_id,
            "webhook-timestamp": str(int(now)), "webhook-signature": signature}
