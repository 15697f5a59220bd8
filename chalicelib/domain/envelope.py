"""The CloudEvents 1.0 envelope every event is stored and delivered in.

Built and validated with the CloudEvents Python SDK (so ``specversion``,
``id``, ``time`` and attribute naming follow the spec, not our reading of
it), serialised once to the structured JSON format, and stored as that text.
Extensions: ``topic`` (the topic it was delivered through; absent for an event
published without topics and routed by content) and ``priority``, plus those of
the bus's features (``RESERVED_EXTENSIONS``) and whatever extension attributes
the producer sent.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from chalicelib.errors import ValidationFailed

_FORMAT = JSONFormat()
CONTENT_TYPE = "application/cloudevents+json"


#: extension attributes the bus sets itself: a producer may not
RESERVED_EXTENSIONS = frozenset({"topic", "priority", "replyto", "correlationid", "scheduleid",
                                 "scheduledtime", "producer", "producerid"})
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")


def check_extensions(extensions: dict) -> None:
    """A producer's own extension attributes: CloudEvents names, none of the bus's."""
    errors = [{"field": f"extensions.{name}"[:100],
               "message": "reserved: the bus sets it" if name in RESERVED_EXTENSIONS else
               "an extension attribute name is 1-20 lowercase letters or digits"}
              for name in sorted(extensions)
              if name in RESERVED_EXTENSIONS or not _EXTENSION_NAME.match(name)]
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors)[:500],
                               extra={"errors": errors})


def build(*, event_id: str, source: str, type_: str, data, topic: str | None, priority: int,
          time: float | datetime, subject: str | None = None, dataschema: str | None = None,
          extensions: dict | None = None) -> dict:
    """The envelope as a dict (JSON-ready).  ``time``: when it happened (the
    producer's CloudEvent ``time``, else when it was published).  ``extensions``:
    more CloudEvents extension attributes (``replyto``, ``correlationid``,
    ``scheduleid`` ..., or a producer's own)."""
    attributes = {
        "id": event_id,
        "source": source,
        "type": type_,
        "time": time if isinstance(time, datetime) else datetime.fromtimestamp(time, timezone.utc),
        "datacontenttype": "application/json",
        "priority": priority,
    }
    if topic is not None:
        attributes["topic"] = topic
    if subject is not None:
        attributes["subject"] = subject
    if dataschema is not None:
        attributes["dataschema"] = dataschema
    attributes.update(extensions or {})
    try:
        event = CloudEvent(attributes, data)
        return json.loads(_FORMAT.write(event))
    except BaseCloudEventException as exc:
        raise ValidationFailed(f"not a valid CloudEvent: {exc}") from exc


def occurred_at(text: str) -> datetime:
    """A producer's CloudEvent ``time`` (RFC 3339: with a zone offset)."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in text.upper():
        raise ValidationFailed(f"time {text[:64]!r} is not an RFC 3339 timestamp "
                               "(like 2026-11-28T10:00:00Z)",
                               extra={"errors": [{"field": "time", "message": "not RFC 3339"}]})
    return parsed


def for_topic(envelope: dict, topic: str) -> dict:
    """The same event as delivered through another topic (multicast)."""
    return {**envelope, "topic": topic}
