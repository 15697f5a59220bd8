"""Schema validation: a topic may carry a JSON Schema per event type.

``schemas`` on a topic maps an event ``type`` (or ``"*"``: any type without
its own) to a JSON Schema for the event's ``data``.  An event that breaks it
is refused with 422 ``schema-violation`` listing every failing path
(``errors: [{field: "data.customer.email", message}]``), before anything is
stored.  The schemas are checked when they are set (400 ``invalid-schema``).
The ``jsonschema`` package lists every error (fastjsonschema stops at the
first); validators are built once per schema.
"""
from __future__ import annotations

import functools
import json

from jsonschema import validators
from jsonschema.exceptions import SchemaError

from chalicelib.errors import Unprocessable, ValidationFailed
from chalicelib.middleware import Middleware, PublishContext

MAX_LISTED = 50


def check_schemas(schemas: dict) -> dict:
    """Raise 400 ``invalid-schema`` naming the first schema that is not one."""
    for event_type, schema in schemas.items():
        try:
            validators.validator_for(schema).check_schema(schema)
        except SchemaError as exc:
            field = f"schemas.{event_type}"
            raise ValidationFailed(f"{field} is not a valid JSON Schema: {exc.message}",
                                   code="invalid-schema",
                                   extra={"errors": [{"field": field,
                                                      "message": exc.message}]}) from None
    return schemas


@functools.lru_cache(maxsize=512)
def _validator(schema_text: str):
    schema = json.loads(schema_text)
    return validators.validator_for(schema)(schema)


def _path(error) -> str:
    path = "data"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


class SchemaValidation(Middleware):
    name = "schema-validation"

    def before_publish(self, ctx: PublishContext) -> None:
        event_type = ctx.envelope["type"]
        for topic in ctx.topics:
            schemas = topic.get("schemas") or {}
            schema = schemas.get(event_type, schemas.get("*"))
            if schema is None:
                continue
            validator = _validator(json.dumps(schema, sort_keys=True))
            errors = sorted(validator.iter_errors(ctx.envelope.get("data")),
                            key=lambda e: (list(map(str, e.absolute_path)), e.message))
            if errors:
                listed = [{"field": _path(e), "message": e.message} for e in errors[:MAX_LISTED]]
                raise Unprocessable(
                    f"the event breaks topic {topic['name']!r}'s schema for {event_type!r}: "
                    f"{len(errors)} error(s)", code="schema-violation",
                    extra={"errors": listed, "topic": topic["name"]})
