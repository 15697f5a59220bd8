"""Request validation against JSON Schemas, compiled once and cached.

fastjsonschema (the library aws-lambda-powertools' validation utility uses)
compiles each schema to Python code: validation is fast on the hot publish
path, and compiling lazily keeps cold starts short.  Its error names the
failing path (``data.events[3].type``); we report it as a JSON Pointer-ish
``field`` in the problem body.

A missing or unknown field is the commonest mistake, and fastjsonschema
reports only the first failure at the object's level (``required`` comes
before ``additionalProperties``): so for either, the object is diagnosed
whole here.  Every missing field and every unknown one gets its own
``{field, message}``, ``field`` naming it (``data``, ``events[1].type``), and
an unknown field close to a missing or unused known one says so: a body
``{"type": "x", "dat": 1}`` answers ``missing required field 'data'`` and
``unknown field 'dat': did you mean 'data'?``.  ``object_errors`` is shared
with the topic schemas' 422 (middleware/validation.py).
"""
from __future__ import annotations

import difflib
import functools
from typing import Any, Iterable

import fastjsonschema

from chalicelib.domain import schemas
from chalicelib.errors import ValidationFailed

MAX_UNKNOWN_LISTED = 20     # a body of 10,000 stray keys gets 20 errors, not 10,000
_MAX_NAME = 100             # longer names are cut in answers (no allowed name comes close)
_CLOSE = 0.75               # difflib ratio: "dat" -> "data" 0.86, "dataa" -> "dataschema" 0.67


@functools.lru_cache(maxsize=None)
def _validator(name: str):
    return fastjsonschema.compile(getattr(schemas, name))


def _field(path: str) -> str:
    # fastjsonschema says "data.events[3].type"; callers know fields as "events[3].type"
    return path[5:] if path.startswith("data.") else ("" if path == "data" else path)


def shown(name: str) -> str:
    """``name`` cut to a length fit for an answer."""
    return name if len(name) <= _MAX_NAME else name[:_MAX_NAME] + "…"


def join(parent: str, name: str) -> str:
    """``parent``'s member ``name`` as a ``field``: ``target.topic``, or ``data`` at the top."""
    name = shown(name)
    return f"{parent}.{name}" if parent else name


def suggestion(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``name`` was most likely meant to be, if one is close enough."""
    if len(name) > _MAX_NAME:
        return None
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=_CLOSE)
    if not close:   # case slips ("Data") score low against short names
        lowered = {c.lower(): c for c in candidates}
        close = [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered),
                                                               n=1, cutoff=_CLOSE)]
    return close[0] if close else None


def object_errors(parent: str, value: dict, properties: Iterable[str],
                  required: Iterable[str], closed: bool) -> list[tuple[str, str]]:
    """``(field, message)`` for each missing and (if ``closed``) unknown member of ``value``.

    Args:
        parent: the object's own field ("" for the body).
        properties: the names the object's schema knows.
        required: the names it must have.
        closed: whether names outside ``properties`` are refused; an open object
            names only the unknown ones close to a missing name.
    """
    known = list(dict.fromkeys(properties))
    missing = [name for name in dict.fromkeys(required) if name not in value]
    where = f" in {parent}" if parent else ""
    errors = [(join(parent, name), f"missing required field {shown(name)!r}{where}")
              for name in missing]
    unknown = sorted(str(name) for name in value if name not in known)
    if not closed:
        # an open object ignores unknown names, but a refusal for a missing one
        # still points at the near miss that was probably meant ("hub.topik")
        return errors + [(join(parent, name), f"unknown field {shown(name)!r}{where}: "
                                              f"did you mean {meant!r}?")
                         for name in unknown[:MAX_UNKNOWN_LISTED] if missing
                         for meant in [suggestion(name, missing)] if meant is not None]
    unused = [name for name in known if name not in value and name not in missing]
    for name in unknown[:MAX_UNKNOWN_LISTED]:
        message = f"unknown field {shown(name)!r}{where}"
        meant = suggestion(name, missing) or suggestion(name, unused)
        if meant is not None:
            message += f": did you mean {meant!r}?"
        errors.append((join(parent, name), message))
    if len(unknown) > MAX_UNKNOWN_LISTED:
        errors.append((parent, f"{len(unknown) - MAX_UNKNOWN_LISTED} more unknown field(s)"
                               f"{where}"))
    return errors


def _schema_at(schema: Any, path: list[str]) -> Any:
    """The subschema that applies to the value at ``path`` (our schemas use no ``$ref``)."""
    for part in path:
        if not isinstance(schema, dict):
            return None
        properties = schema.get("properties")
        if isinstance(properties, dict) and part in properties:
            schema = properties[part]
        elif isinstance(schema.get("items"), dict):
            schema = schema["items"]
        else:
            return None
    return schema


def _member_errors(schema_name: str, exc: fastjsonschema.JsonSchemaValueException,
                   field: str) -> list[tuple[str, str]] | None:
    """Every missing and unknown member of the object ``exc`` failed on, or None."""
    if exc.rule not in ("required", "additionalProperties") or not isinstance(exc.value, dict):
        return None
    # The object's own schema, not the rule's: a ``required`` from an ``if``/``then``
    # branch has neither the properties nor the additionalProperties of its object.
    schema = _schema_at(getattr(schemas, schema_name), list(exc.path or ["data"])[1:])
    schema = schema if isinstance(schema, dict) else exc.definition or {}
    required = list(schema.get("required", []))
    if exc.rule == "required" and isinstance(exc.rule_definition, list):
        required += exc.rule_definition
    closed = schema.get("additionalProperties") is False and not schema.get("patternProperties")
    return object_errors(field, exc.value, schema.get("properties", {}), required,
                         closed) or None


def validate(schema_name: str, data: Any) -> Any:
    """Validate ``data`` against ``schemas.<schema_name>``; returns it (with defaults).

    Raises:
        ValidationFailed: with ``errors: [{field, message}]`` in the problem.
    """
    try:
        return _validator(schema_name)(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        field = _field(exc.name or "data")
        errors = _member_errors(schema_name, exc, field) or [
            (field, exc.message.replace(exc.name or "data", field or "body", 1))]
        raise ValidationFailed("; ".join(message for _, message in errors),
                               extra={"errors": [{"field": f, "message": m}
                                                 for f, m in errors]}) from exc
