"""Event metrics: published, delivered, failed, dead-lettered, delivery latency (EMF)."""
from __future__ import annotations

from chalicelib.middleware import DeliveryContext, Middleware, PublishContext
from chalicelib.observability import metrics

_DELIVERY_METRIC = {"delivered": "EventsDelivered", "failed": "DeliveriesFailed",
                    "dead-lettered": "EventsDeadLettered"}


class EventMetrics(Middleware):
    name = "metrics"

    def after_publish(self, ctx: PublishContext) -> None:
        metrics.add("EventsPublished")
        metrics.add("EventsRouted", ctx.routes)

    def after_deliver(self, ctx: DeliveryContext) -> None:
        metrics.add(_DELIVERY_METRIC[ctx.outcome])
        if ctx.outcome != "dead-lettered":
            metrics.add("DeliveryLatency", ctx.latency_ms, unit="Milliseconds")
