"""One error hierarchy for the whole bus.

Every error the bus raises on purpose is a ``BusError``: it carries the HTTP
status it maps to and a stable ``code`` from the catalogue in docs/errors.md.
The API layer turns any ``BusError`` into an ``application/problem+json``
response (RFC 9457); anything else is an unexpected failure and becomes a 500
problem with a correlation id.  Storage drivers translate backend errors
(botocore ``ClientError`` and friends) into these classes with
``raise ... from exc``.
"""
from __future__ import annotations

from typing import Any


class BusError(Exception):
    """Base class: an error with an HTTP status and a stable code."""

    status = 500
    code = "internal-error"
    title = "Internal error"

    def __init__(self, detail: str = "", *, code: str | None = None,
                 extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code:
            self.code = code
        self.extra = extra or {}
        self.headers = headers or {}

    def to_problem(self) -> dict[str, Any]:
        """The RFC 9457 body for this error (without instance/correlation)."""
        body = {
            "type": f"https://tlks.io/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        body.update(self.extra)
        return body


class BadRequest(BusError):
    status = 400
    code = "bad-request"
    title = "Bad request"


class MalformedJson(BadRequest):
    code = "malformed-json"
    title = "Malformed JSON"


class ValidationFailed(BadRequest):
    code = "validation-failed"
    title = "Invalid request"


class InvalidReceipt(BadRequest):
    code = "invalid-receipt"
    title = "Invalid receipt"


class Unauthorized(BusError):
    status = 401
    code = "unauthorized"
    title = "Missing or invalid token"

    def __init__(self, detail: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="tlks-bus"'})
        super().__init__(detail, **kwargs)


class Forbidden(BusError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class NotFound(BusError):
    status = 404
    code = "not-found"
    title = "Not found"


class Conflict(BusError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PayloadTooLarge(BusError):
    status = 413
    code = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(BusError):
    status = 415
    code = "unsupported-media-type"
    title = "Unsupported media type"


class Unprocessable(BusError):
    status = 422
    code = "unprocessable"
    title = "Request cannot be processed"


class ResponderFailed(BusError):
    """A synchronous event's responder failed (the event is kept: see its Location)."""
    status = 502
    code = "responder-failed"
    title = "The responder failed"


class StorageUnavailable(BusError):
    """The storage backend did not answer; the client may retry."""

    status = 503
    code = "storage-unavailable"
    title = "Storage unavailable"

    def __init__(self, detail: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": "1"})
        super().__init__(detail, **kwargs)


class Throttled(StorageUnavailable):
    status = 503
    code = "throttled"
    title = "Storage throttled the request"
