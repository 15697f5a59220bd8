"""Events that arrive as CloudEvents, made into the bus's own event shape.

A producer may publish with the CloudEvents HTTP binding instead of the bus's
JSON form, in any of its three modes:

* structured - ``Content-Type: application/cloudevents+json``, the whole
  CloudEvent as the body (also accepted as plain ``application/json`` when the
  body carries ``specversion``);
* batched - ``application/cloudevents-batch+json``, an array of those;
* binary - the attributes in ``ce-*`` headers (decoded by the CloudEvents SDK,
  percent-encoding included), the body is the data.

Every mode comes out as the same dict the JSON form is validated as: ``id``,
``type``, ``subject``, ``data`` as they are; ``time`` and ``dataschema`` kept;
``source`` accepted and then replaced by the producer's identity, as always;
the ``priority`` extension is the bus's priority; any other extension
attribute goes to ``extensions`` and travels with the event.  The bus carries
JSON: ``data_base64`` or a non-JSON ``datacontenttype`` is refused.
"""
from __future__ import annotations

import re
from typing import Any

from cloudevents.core.bindings.http import HTTPMessage, from_binary
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from chalicelib.errors import ValidationFailed

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
#: CloudEvents attributes the event shape has fields for (``data`` included)
CORE = frozenset({"specversion", "id", "source", "type", "datacontenttype", "dataschema",
                  "subject", "time", "data"})
#: the bus's own request fields, allowed beside the attributes of a structured event
BUS_FIELDS = frozenset({"priority", "mode", "callback", "callback_secret", "producer"})
_JSON_MEDIA = re.compile(r"^application/(?:[\w.+-]+\+)?json\s*(?:;.*)?$", re.IGNORECASE)
_FORMAT = JSONFormat()


def media_type(content_type: str | None) -> str:
    """``application/cloudevents+json; charset=utf-8`` -> ``application/cloudevents+json``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_binary(headers: dict) -> bool:
    return any(name.lower() == "ce-specversion" for name in headers)


def from_structured(body: object, field: str = "") -> dict:
    """One structured CloudEvent (already parsed JSON) as an event of the bus."""
    if not isinstance(body, dict):
        raise _invalid(field, "a structured CloudEvent is a JSON object")
    if "data_base64" in body:
        raise _invalid(f"{field}data_base64", "binary data (data_base64): the bus carries JSON "
                                              "data; send it as data")
    return _finish(body, field)


def from_structured_batch(body: object) -> dict:
    """A batch of structured CloudEvents as the bus's ``{"events": [...]}``."""
    if not isinstance(body, list):
        raise _invalid("", "a CloudEvents batch is a JSON array of CloudEvents")
    return {"events": [from_structured(item, f"events[{n}].") for n, item in enumerate(body)]}


def from_binary_mode(headers: dict, data: Any) -> dict:
    """A binary-mode CloudEvent: ``ce-*`` headers (and Content-Type) plus the parsed body."""
    message = HTTPMessage({name: value for name, value in headers.items()
                           if name.lower().startswith("ce-") or name.lower() == "content-type"},
                          b"")
    try:
        attributes = dict(from_binary(message, _FORMAT, CloudEvent).get_attributes())
    except (BaseCloudEventException, ValueError) as exc:
        raise _invalid("", f"not a valid CloudEvent: {exc}") from exc
    if attributes.get("time") is not None:
        attributes["time"] = attributes["time"].isoformat().replace("+00:00", "Z")
    priority = attributes.get("priority")
    if isinstance(priority, str) and priority.isdigit():   # headers carry text
        attributes["priority"] = int(priority)
    return _finish({**attributes, "data": data}, "")


def _finish(attributes: dict, field: str) -> dict:
    """The event's fields from a CloudEvent's attributes; the rest are its extensions."""
    event = {key: value for key, value in attributes.items() if key in CORE or key in BUS_FIELDS}
    extensions = {key: value for key, value in attributes.items() if key not in event}
    content_type = event.pop("datacontenttype", None)
    if content_type is not None and not (isinstance(content_type, str)
                                         and _JSON_MEDIA.match(content_type)):
        raise _invalid(f"{field}datacontenttype",
                       f"{str(content_type)[:80]!r}: the bus carries JSON data "
                       "(application/json or a +json type)")
    if "specversion" in event and event["specversion"] != "1.0":
        raise _invalid(f"{field}specversion", "only CloudEvents 1.0 is accepted")
    event.pop("specversion", None)
    event.setdefault("data", None)
    if extensions:
        event["extensions"] = extensions
    return event


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, extra={"errors": [{"field": field.rstrip("."),
                                                        "message": message}]})
