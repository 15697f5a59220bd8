"""Request validation against JSON Schemas, compiled once and cached.

fastjsonschema (the library aws-lambda-powertools' validation utility uses)
compiles each schema to Python code: validation is fast on the hot publish
path, and compiling lazily keeps cold starts short.  Its error names the
failing path (``data.events[3].type``); we report it as a JSON Pointer-ish
``field`` in the problem body.
"""
from __future__ import annotations

import functools
import json
from typing import Any

import fastjsonschema

from chalicelib.domain import schemas
from chalicelib.errors import ValidationFailed


@functools.lru_cache(maxsize=None)
def _validator(name: str):
    return fastjsonschema.compile(getattr(schemas, name))


def _field(path: str) -> str:
    # fastjsonschema says "data.events[3].type"; callers know fields as "events[3].type"
    return path[5:] if path.startswith("data.") else ("" if path == "data" else path)


def validate(schema_name: str, data: Any) -> Any:
    """Validate ``data`` against ``schemas.<schema_name>``; returns it (with defaults).

    Raises:
        ValidationFailed: with ``errors: [{field, message}]`` in the problem.
    """
    try:
        return _validator(schema_name)(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        field = _field(exc.name or "data")
        message = exc.message.replace(exc.name or "data", field or "body", 1)
        if exc.rule == "additionalProperties" and isinstance(exc.value, dict):
            allowed = set((exc.definition or {}).get("properties", {}))
            unknown = sorted(set(exc.value) - allowed)
            message = f"unknown field(s) {', '.join(map(json.dumps, unknown))}"
            if field:
                message += f" in {field}"
        raise ValidationFailed(message, extra={"errors": [{"field": field, "message": message}]}) \
            from exc
