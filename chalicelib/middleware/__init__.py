"""The middleware pipeline: pre- and post-processing of every event, in one place.

Each middleware may implement any of five hooks; the pipeline calls them in
the order of ``build_pipeline`` (``*_publish`` and ``before_deliver`` in that
order, ``store`` in that order, ``load`` and ``after_*`` in reverse):

==================  ===========================================================
``before_publish``  the envelope is built, nothing is stored: validate, stamp,
                    refuse (raise a ``BusError``: the producer gets its
                    problem+json and nothing is stored)
``store``           the text a payload is stored as (compression)
``after_publish``   the event is stored and fanned out (metrics, logs)
``before_deliver``  a payload is about to reach a consumer (push or pull)
``after_deliver``   a push attempt ended (metrics, logs)
==================  ===========================================================

A middleware that fails with anything but a ``BusError`` before the event is
stored is reported as 500 ``middleware-failed`` naming it; after the event is
stored (``after_*``) a failure is logged and never undoes the publish.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import BusError
from chalicelib.observability import logger


@dataclass
class PublishContext:
    principal: Any                 # services.auth.Principal
    topics: list[dict]             # the topic documents it is published to (maybe none)
    envelope: dict                 # mutable until stored
    record: dict | None = None     # after_publish: the stored event record
    routes: int = 0                # after_publish: how many subscriptions it went to


@dataclass
class DeliveryContext:
    subscription: dict
    event_id: str
    topic: str | None
    producer: str | None
    payload: str                   # the text delivered
    outcome: str = ""              # after_deliver: delivered | failed | dead-lettered
    status: int | None = None
    latency_ms: float = 0.0
    extra: dict = field(default_factory=dict)


class Middleware:
    """No-op hooks; a middleware overrides the ones it needs."""

    name = "middleware"

    def before_publish(self, ctx: PublishContext) -> None: ...

    def store(self, text: str) -> str:
        return text

    def load(self, text: str) -> str:
        return text

    def after_publish(self, ctx: PublishContext) -> None: ...

    def before_deliver(self, ctx: DeliveryContext) -> None: ...

    def after_deliver(self, ctx: DeliveryContext) -> None: ...


class MiddlewareFailed(BusError):
    status = 500
    code = "middleware-failed"
    title = "A middleware failed"


class Pipeline:
    def __init__(self, middleware: list[Middleware]) -> None:
        self.middleware = list(middleware)

    def before_publish(self, ctx: PublishContext) -> None:
        for item in self.middleware:
            try:
                item.before_publish(ctx)
            except BusError:
                raise
            except Exception as exc:  # noqa: BLE001 - named in the problem, logged in full
                logger.exception("middleware failed before publish",
                                 extra={"middleware": item.name})
                raise MiddlewareFailed(f"the {item.name} middleware failed; nothing was "
                                       f"stored", extra={"middleware": item.name}) from exc

    def store(self, text: str) -> str:
        for item in self.middleware:
            text = item.store(text)
        return text

    def load(self, text: str) -> str:
        for item in reversed(self.middleware):
            text = item.load(text)
        return text

    def before_deliver(self, ctx: DeliveryContext) -> None:
        for item in self.middleware:
            item.before_deliver(ctx)

    def after_publish(self, ctx: PublishContext) -> None:
        self._after("after_publish", ctx)

    def after_deliver(self, ctx: DeliveryContext) -> None:
        self._after("after_deliver", ctx)

    def _after(self, hook: str, ctx) -> None:
        for item in reversed(self.middleware):
            try:
                getattr(item, hook)(ctx)
            except Exception:  # noqa: BLE001 - the event is stored: never undo that
                logger.exception(f"middleware failed in {hook}", extra={"middleware": item.name})


def build_pipeline(settings, docs) -> Pipeline:
    """The middleware, in order: the one place the pipeline is configured."""
    from chalicelib.middleware.compression import Compression
    from chalicelib.middleware.identity import ProducerIdentity
    from chalicelib.middleware.log_rules import RuleLogging
    from chalicelib.middleware.metrics import EventMetrics
    from chalicelib.middleware.validation import SchemaValidation
    return Pipeline([
        ProducerIdentity(),                        # first: later ones see the real producer
        SchemaValidation(),                        # refuses before anything is stored
        Compression(settings.compress_bytes),      # the stored form of large payloads
        EventMetrics(),
        RuleLogging(docs, settings.cache_seconds),
    ])
