"""The CloudEvents 1.0 envelope every event is stored and delivered in.

Built and validated with the CloudEvents Python SDK (so ``specversion``,
``id``, ``time`` and attribute naming follow the spec, not our reading of
it), serialised once to the structured JSON format, and stored as that text.
Extensions: ``topic`` (the topic it was delivered through; absent for an event
published without topics and routed by content) and ``priority``.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from chalicelib.errors import ValidationFailed

_FORMAT = JSONFormat()
CONTENT_TYPE = "application/cloudevents+json"


def build(*, event_id: str, source: str, type_: str, data, topic: str | None, priority: int,
          time: float, subject: str | None = None, extensions: dict | None = None) -> dict:
    """The envelope as a dict (JSON-ready).  ``extensions``: more CloudEvents
    extension attributes (``replyto``, ``correlationid``, ``scheduleid`` ...)."""
    attributes = {
        "id": event_id,
        "source": source,
        "type": type_,
        "time": datetime.fromtimestamp(time, timezone.utc),
        "datacontenttype": "application/json",
        "priority": priority,
    }
    if topic is not None:
        attributes["topic"] = topic
    if subject is not None:
        attributes["subject"] = subject
    attributes.update(extensions or {})
    try:
        event = CloudEvent(attributes, data)
        return json.loads(_FORMAT.write(event))
    except BaseCloudEventException as exc:
        raise ValidationFailed(f"not a valid CloudEvent: {exc}") from exc


def for_topic(envelope: dict, topic: str) -> dict:
    """The same event as delivered through another topic (multicast)."""
    return {**envelope, "topic": topic}
