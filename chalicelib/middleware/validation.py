"""Schema validation: a topic may carry a JSON Schema per event type.

``schemas`` on a topic maps an event ``type`` (or ``"*"``: any type without
its own) to a JSON Schema for the event's ``data``.  An event that breaks it
is refused with 422 ``schema-violation`` listing every failing path
(``errors: [{field: "data.customer.email", message}]``), before anything is
stored.  A missing or unknown member is named itself (``data.customer.email``,
not its object), an unknown one with a "did you mean" when it is close to a
missing or unused known one.  The schemas are checked when they are set (400 ``invalid-schema``).
The ``jsonschema`` package lists every error (fastjsonschema stops at the
first); validators are built once per schema.

A topic owner writes the schemas and every publisher's event runs them, so a
regular expression in them (``pattern``, ``patternProperties``) is matched by
RE2 (linear time), never by Python's backtracking ``re``: no schema can stall
publishing.  A pattern RE2 refuses, or longer than 256 characters, is an
``invalid-schema``; so is ``unevaluatedProperties`` beside
``patternProperties`` (jsonschema would match those with ``re``) and a
``schemas`` document over 64 KiB.
"""
from __future__ import annotations

import functools
import json

from jsonschema import validators
from jsonschema.exceptions import SchemaError, ValidationError

from chalicelib.domain.patterns.extensions import MAX_REGEX_LENGTH, compile_regex
from chalicelib.domain.validation import MAX_UNKNOWN_LISTED, shown, suggestion
from chalicelib.errors import Unprocessable, ValidationFailed
from chalicelib.middleware import Middleware, PublishContext

MAX_LISTED = 50
MAX_SCHEMAS_BYTES = 64 * 1024


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field} is not a usable JSON Schema: {message}",
                            code="invalid-schema",
                            extra={"errors": [{"field": field, "message": message}]})


def check_schemas(schemas: dict) -> dict:
    """Raise 400 ``invalid-schema`` naming the first schema that is not one."""
    if len(json.dumps(schemas, separators=(",", ":"))) > MAX_SCHEMAS_BYTES:
        raise _invalid("schemas", f"more than {MAX_SCHEMAS_BYTES} bytes of JSON")
    for event_type, schema in schemas.items():
        field = f"schemas.{event_type}"
        try:
            validators.validator_for(schema).check_schema(schema)
        except SchemaError as exc:
            raise _invalid(field, exc.message) from None
        _check_regexes(schema, field)
    return schemas


def _check_regexes(node, field: str) -> None:
    """Every regex of the schema RE2 can run; no ``re``-only keyword combination."""
    if isinstance(node, list):
        for item in node:
            _check_regexes(item, field)
        return
    if not isinstance(node, dict):
        return
    patterns = list(node.get("patternProperties") or {}) if isinstance(
        node.get("patternProperties"), dict) else []
    if isinstance(node.get("pattern"), str):
        patterns.append(node["pattern"])
    if patterns and "unevaluatedProperties" in node:
        raise _invalid(field, "unevaluatedProperties cannot be combined with patternProperties")
    for pattern in patterns:
        if len(pattern) > MAX_REGEX_LENGTH:
            raise _invalid(field, f"pattern longer than {MAX_REGEX_LENGTH} characters")
        try:
            compile_regex(pattern)
        except ValueError as exc:
            raise _invalid(field, f"pattern {pattern!r}: {exc}") from None
    for value in node.values():
        _check_regexes(value, field)


def _search(pattern: str, text: str) -> bool:
    return compile_regex(pattern).search(text) is not None


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, patterns, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _required(validator, required, instance, schema):
    # One error per missing member, at the member's own path (data.customer.email):
    # jsonschema's own says "'email' is a required property" at data.customer.
    if not validator.is_type(instance, "object") or not validator.is_type(required, "array"):
        return
    for name in required:
        if name not in instance:
            yield ValidationError(f"missing required field {shown(name)!r}", path=(name,))


def _additional_properties(validator, allowed, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = sorted(key for key in instance if key not in known
                    and not any(_search(pattern, key) for pattern in patterns))
    if validator.is_type(allowed, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], allowed, path=extra)
    elif not allowed and extras:
        required = schema.get("required", [])
        missing = [n for n in required if isinstance(n, str) and n not in instance]
        unused = [n for n in known if n not in instance and n not in missing]
        for extra in extras[:MAX_UNKNOWN_LISTED]:
            meant = suggestion(extra, missing) or suggestion(extra, unused)
            yield ValidationError(f"unknown field {shown(extra)!r}: did you mean {meant!r}?"
                                  if meant is not None else
                                  f"unknown field {shown(extra)!r} (additional properties "
                                  "are not allowed)", path=(extra,))
        if len(extras) > MAX_UNKNOWN_LISTED:
            yield ValidationError(f"{len(extras) - MAX_UNKNOWN_LISTED} more unknown field(s) "
                                  "(additional properties are not allowed)")


@functools.lru_cache(maxsize=512)
def _validator(schema_text: str):
    schema = json.loads(schema_text)
    base = validators.validator_for(schema)
    keywords = {"pattern": _pattern, "patternProperties": _pattern_properties,
                "additionalProperties": _additional_properties}
    if "required" in base.VALIDATORS:       # draft 3 says it inside each property instead
        keywords["required"] = _required
    checked = validators.extend(base, keywords)
    return checked(schema)


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
