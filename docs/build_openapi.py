"""Build chalicelib/openapi.json from docs/api.apib, so that the blueprint stays the one source.

    python docs/build_openapi.py            # write chalicelib/openapi.json
    python docs/build_openapi.py --check    # exit 1 if the committed file is out of date

No Python package parses API Blueprint, so drafter.js (the parser Dredd brings, in
node_modules: ``make test`` or ``npm ci --omit=optional`` installs it) turns the blueprint into
API Elements JSON, and this script translates those into OpenAPI 3.0.  A parser warning is an
error here: the blueprint the tests run must be the blueprint the docs show.  The file lives in
chalicelib/ because Chalice bundles only that folder; GET /openapi.json and GET /docs serve it.

The translation: resource groups become tags, resources paths (their query variables become
query parameters), actions operations; every request / response example is kept as a named
example, and schemas are inferred from the examples (types and properties, nothing required:
the API's own validation is in chalicelib/domain/schemas.py).  Request examples whose answer
is an error keep their body under the error's name, so that each request can still be read
with the response it gets.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
BLUEPRINT = ROOT / "docs" / "api.apib"
OUTPUT = ROOT / "chalicelib" / "openapi.json"
OPENAPI_VERSION = "3.0.3"
API_VERSION = "1.0"

# drafter.js is bundled inside dredd-transactions; resolve it from there
_PARSE_JS = """
const path = require('path');
const base = path.dirname(require.resolve('dredd-transactions/package.json'));
const drafter = require(require.resolve('drafter.js', {paths: [base]}));
let source = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { source += chunk; });
process.stdin.on('end', () => {
  process.stdout.write(JSON.stringify(drafter.parseSync(source, {generateSourceMap: false})));
});
"""

HEADER_NOTES = {
    "x-correlation-id": "Identifies the request in the logs (yours, if you sent one).",
    "www-authenticate": "The authentication scheme the bus expects.",
    "retry-after": "Seconds to wait before retrying.",
    "allow": "The methods the route has.",
}


class BlueprintError(Exception):
    """The blueprint did not parse cleanly (or node / drafter.js is missing)."""


def parse_blueprint(path: Path = BLUEPRINT) -> dict:
    """The blueprint as API Elements, parsed by drafter.js; raises on any parser annotation."""
    try:
        done = subprocess.run(["node", "-e", _PARSE_JS], input=path.read_text(), cwd=ROOT,
                              capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError as exc:
        raise BlueprintError("node is not installed (Node.js 18+)") from exc
    if done.returncode != 0:
        raise BlueprintError(f"drafter.js failed (run `npm ci --omit=optional` first?):\n"
                             f"{done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    notes = [f"{_text(note.get('meta', {}).get('classes'))}: {note['content']}"
             for note in result["content"] if note["element"] == "annotation"]
    if notes:
        raise BlueprintError(f"{path.name} has parser annotations:\n" + "\n".join(notes))
    return result


# ---- API Elements helpers

def _text(element: Any) -> Any:
    """The plain value of an element (strings, arrays of strings, members as pairs)."""
    if isinstance(element, dict):
        content = element.get("content")
        if element.get("element") == "array":
            return [_text(item) for item in content or []]
        return _text(content)
    return element


def _title(element: dict) -> str:
    return _text(element.get("meta", {}).get("title")) or ""


def _attr(element: dict, name: str) -> Any:
    return element.get("attributes", {}).get(name)


def _copy(element: dict) -> str:
    return "\n\n".join(c["content"].strip() for c in element.get("content", [])
                       if c.get("element") == "copy")


def _children(element: dict, kind: str) -> Iterator[dict]:
    return (c for c in element.get("content", []) if c.get("element") == kind)


def _headers(message: dict) -> list[tuple[str, str]]:
    members = (_attr(message, "headers") or {}).get("content", [])
    return [(_text(m["content"]["key"]), _text(m["content"]["value"]) or "") for m in members]


def _body(message: dict) -> str | None:
    for asset in _children(message, "asset"):
        if "messageBody" in _text(asset.get("meta", {}).get("classes")):
            return asset["content"]
    return None


def _variables(element: dict) -> dict[str, dict]:
    members = (_attr(element, "hrefVariables") or {}).get("content", [])
    return {_text(m["content"]["key"]): m for m in members}


# ---- OpenAPI pieces

def infer_schema(value: Any) -> dict:
    """A loose schema of one example: types and properties, nothing required."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array", "items": merge_schemas([infer_schema(v) for v in value])}
    if isinstance(value, dict):
        return {"type": "object",
                "properties": {key: infer_schema(item) for key, item in value.items()}}
    return {"nullable": True}


def merge_schemas(schemas: list[dict]) -> dict:
    """One schema admitting every example: properties united, conflicting types left open."""
    schemas = [s for s in schemas if s]
    if not schemas:
        return {}
    nullable = any(s.get("nullable") for s in schemas)
    typed = [s for s in schemas if "type" in s]
    types = {s["type"] for s in typed}
    if types == {"integer", "number"}:
        types = {"number"}
    if len(types) != 1:
        merged: dict = {}
    elif types == {"object"}:
        properties: dict[str, list[dict]] = {}
        for schema in typed:
            for key, item in schema.get("properties", {}).items():
                properties.setdefault(key, []).append(item)
        merged = {"type": "object",
                  "properties": {key: merge_schemas(items) for key, items in properties.items()}}
    elif types == {"array"}:
        merged = {"type": "array", "items": merge_schemas([s["items"] for s in typed])}
    else:
        merged = {"type": types.pop()}
    if nullable and merged.get("type"):
        merged["nullable"] = True
    return merged


def _example_value(body: str, media_type: str) -> Any:
    if "json" in media_type:
        return json.loads(body)
    return body.rstrip("\n")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "example"


def _operation_id(title: str, taken: set[str]) -> str:
    words = re.findall(r"[A-Za-z0-9]+", title)
    base = words[0].lower() + "".join(w.capitalize() for w in words[1:]) if words else "operation"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    taken.add(name)
    return name


def _parameters(path: str, variables: dict[str, dict]) -> list[dict]:
    in_path = set(re.findall(r"\{([^}?]+)\}", path))
    parameters = []
    for name, member in variables.items():
        value = member["content"]["value"]
        schema = {"type": "integer" if _title(member) == "number" else _title(member) or "string"}
        default = _text((value.get("attributes") or {}).get("default"))
        if default is not None:
            schema["default"] = int(default) if schema["type"] == "integer" else default
        parameter = {"name": name, "in": "path" if name in in_path else "query",
                     "description": _text(member.get("meta", {}).get("description")) or "",
                     "required": name in in_path
                     or "required" in _text(_attr(member, "typeAttributes") or []),
                     "schema": schema}
        example = value.get("content")
        if example is not None:
            parameter["example"] = int(example) if schema["type"] == "integer" else example
        parameters.append(parameter)
    return parameters


class _Examples:
    """Named examples of one status / media type, with their schemas and headers."""

    def __init__(self) -> None:
        self.titles: list[str] = []
        self.headers: dict[str, str] = {}
        self.content: dict[str, dict[str, Any]] = {}    # media type -> name -> value

    def add(self, title: str, media_type: str | None, value: Any) -> None:
        self.titles.append(title)
        if media_type is None:
            return
        named = self.content.setdefault(media_type, {})
        name, n = _slug(title), 2
        while name in named:
            name, n = f"{_slug(title)}-{n}", n + 1
        named[name] = {"summary": title, **({} if value is None else {"value": value})}

    def openapi_content(self) -> dict:
        content = {}
        for media_type, named in self.content.items():
            values = [e["value"] for e in named.values() if "value" in e]
            entry: dict = {"schema": merge_schemas([infer_schema(v) for v in values])
                           if "json" in media_type else {"type": "string"}}
            if values:
                entry["examples"] = named
            content[media_type] = entry
        return content


def _operation(transition: dict, tag: str, path: str, variables: dict,
               operation_ids: set[str]) -> tuple[str, dict]:
    requests: dict[str, _Examples] = {}
    responses: dict[str, _Examples] = {}
    secured = None
    method = None
    for transaction in _children(transition, "httpTransaction"):
        request, response = transaction["content"][0], transaction["content"][1]
        method = _text(_attr(request, "method")).lower()
        status = _text(_attr(response, "statusCode")) or "200"
        request_headers = dict((k.lower(), v) for k, v in _headers(request))
        if secured is None:      # the first request of an action shows how it is called
            secured = request_headers.get("authorization", "").startswith("Bearer ")
        response_headers = _headers(response)
        media = next((v for k, v in response_headers if k.lower() == "content-type"), None)
        body = _body(response)
        problem = json.loads(body) if body and "json" in (media or "") else {}
        code = problem.get("code") if isinstance(problem, dict) else None
        request_title = _title(request)
        title = (request_title or HTTPStatus(int(status)).phrase) + (f" ({code})" if code else "")
        answer = responses.setdefault(status, _Examples())
        answer.add(title, media.split(";")[0].strip() if media else None,
                   _example_value(body, media) if body and media else None)
        for name, value in response_headers:
            if name.lower() != "content-type":
                answer.headers.setdefault(name, value)
        request_body = _body(request)
        if request_body is not None:
            request_media = request_headers.get("content-type", "application/json")
            kind = "success" if status < "300" else "error"
            requests.setdefault(kind, _Examples()).add(
                title if kind == "error" else request_title or "Example",
                request_media, _example_value(request_body, request_media))
    operation: dict = {"tags": [tag], "summary": _title(transition),
                       "operationId": _operation_id(_title(transition), operation_ids)}
    if _copy(transition):
        operation["description"] = _copy(transition)
    parameters = _parameters(path, variables)
    if parameters:
        operation["parameters"] = parameters
    operation["security"] = [{"bearerAuth": []}] if secured else []
    if requests:
        body = requests.get("success") or _Examples()
        accepted = set(body.content) or set(requests["error"].content)
        for media_type, named in (requests.get("error") or _Examples()).content.items():
            if media_type in accepted:    # bodies of another media type only show a 415
                body.content.setdefault(media_type, {}).update(
                    {f"error-{name}": example for name, example in named.items()})
        operation["requestBody"] = {"required": True, "content": body.openapi_content()}
    operation["responses"] = {}
    for status, answer in responses.items():
        phrase = HTTPStatus(int(status)).phrase    # the examples' summaries name the cases
        entry: dict = {"description": phrase if phrase in answer.titles
                       else f"{phrase}: {'; '.join(answer.titles)}"}
        if answer.headers:
            entry["headers"] = {name: {"description": HEADER_NOTES.get(name.lower(), ""),
                                       "schema": {"type": "string"}, "example": value}
                                for name, value in answer.headers.items()}
        content = answer.openapi_content()
        if content:
            entry["content"] = content
        operation["responses"][status] = entry
    return method or "get", operation


def to_openapi(elements: dict) -> dict:
    """OpenAPI 3.0 from a blueprint's API Elements (the output of ``parse_blueprint``)."""
    api = next(c for c in elements["content"] if c["element"] == "category")
    metadata = {_text(m["content"]["key"]): _text(m["content"]["value"])
                for m in (_attr(api, "metadata") or {}).get("content", [])}
    document: dict = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": _title(api), "version": API_VERSION, "description": _copy(api)},
        "servers": [{"url": metadata.get("HOST", "/")}],
        "tags": [],
        "paths": {},
        "components": {"securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "The admin token, or a registered service's token (tlks_…)."}}},
    }
    operation_ids: set[str] = set()
    for group in _children(api, "category"):
        tag = _title(group)
        document["tags"].append({"name": tag, "description": _copy(group)})
        for resource in _children(group, "resource"):
            for transition in _children(resource, "transition"):
                href = _text(_attr(transition, "href")) or _text(_attr(resource, "href"))
                variables = {**_variables(resource), **_variables(transition)}
                path = re.sub(r"\{\?[^}]*\}", "", href)
                method, operation = _operation(transition, tag, path, variables, operation_ids)
                operations = document["paths"].setdefault(path, {})
                if method in operations:
                    raise BlueprintError(f"{method.upper()} {path} is described twice")
                operations[method] = operation
    return document


def render(document: dict) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="fail if chalicelib/openapi.json is not what the blueprint gives")
    args = parser.parse_args(argv)
    try:
        text = render(to_openapi(parse_blueprint()))
    except BlueprintError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run python docs/build_openapi.py",
                  file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
