"""Producer identity: the authenticated service, stamped into every envelope.

``source`` and the ``producer`` / ``producerid`` extensions come from the
token the event was published with, never from the request: a producer that
writes another service's name into ``source`` or ``producer`` has it replaced
by its own (and the replacement is logged), so a consumer can trust them.
"""
from __future__ import annotations

from chalicelib.middleware import Middleware, PublishContext
from chalicelib.observability import logger


class ProducerIdentity(Middleware):
    name = "producer-identity"

    def before_publish(self, ctx: PublishContext) -> None:
        claimed = {key: ctx.envelope.get(key) for key in ("source", "producer", "producerid")
                   if key in ctx.envelope}
        real = {"source": ctx.principal.service_name, "producer": ctx.principal.service_name,
                "producerid": ctx.principal.service_id}
        spoofed = {key: value for key, value in claimed.items() if value != real[key]}
        if spoofed:
            logger.warning("a producer claimed another identity; replaced by the real one",
                           extra={"producer": real["producer"], "claimed": spoofed})
        ctx.envelope.update(real)
