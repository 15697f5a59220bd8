"""Routes: /openapi.json and /docs (no token) - the API describes itself.

chalicelib/openapi.json is generated from docs/api.apib (docs/build_openapi.py; a test keeps
the two in step).  ``GET /openapi.json`` serves it with ``servers`` set to the URL the request
reached; ``GET /docs`` renders it as one self-contained HTML page (no scripts, no external
assets, so it works offline and behind any CSP).  Both read the file on first use, not at
import: cold starts do not pay for documentation.
"""
from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path

from chalice import Blueprint, Response

from chalicelib.api.http import base_url, endpoint, respond

bp = Blueprint(__name__)
OPENAPI = Path(__file__).resolve().parents[1] / "openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")
STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
code,pre{font:13px/1.4 ui-monospace,monospace;background:#f4f4f4}
pre{padding:.6em;overflow-x:auto;border-radius:4px}
section.op{border-top:1px solid #ddd;margin-top:1.5em}
.method{display:inline-block;min-width:4.5em;font-weight:bold;text-transform:uppercase}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left}
nav li{list-style:none}.status{font-weight:bold}
"""


@functools.lru_cache(maxsize=1)
def openapi_document() -> dict:
    """The OpenAPI 3 document, as generated from docs/api.apib."""
    return json.loads(OPENAPI.read_text())


@bp.route("/openapi.json", methods=["GET"])
@endpoint
def openapi():
    return respond({**openapi_document(), "servers": [{"url": base_url()}]})


@bp.route("/docs", methods=["GET"])
@endpoint
def docs():
    return Response(body=render_page(), status_code=200,
                    headers={"Content-Type": "text/html; charset=utf-8"})


@functools.lru_cache(maxsize=1)
def render_page() -> str:
    """The whole API reference as HTML: tags, then each operation with its examples."""
    doc = openapi_document()
    by_tag: dict[str, list[tuple[str, str, dict]]] = {t["name"]: [] for t in doc.get("tags", [])}
    for path, operations in doc["paths"].items():
        for method in METHODS:
            if method in operations:
                operation = operations[method]
                tag = (operation.get("tags") or ["Other"])[0]
                by_tag.setdefault(tag, []).append((method, path, operation))
    tags = {t["name"]: t.get("description", "") for t in doc.get("tags", [])}
    title = html.escape(doc["info"]["title"])
    out = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
           f"<meta name=viewport content='width=device-width,initial-scale=1'>"
           f"<style>{STYLE}</style></head><body><h1>{title}</h1>",
           _markdown(doc["info"].get("description", "")), "<nav><h2>Contents</h2><ul>"]
    for tag, operations in by_tag.items():
        out.append(f"<li><a href='#{_anchor(tag)}'>{html.escape(tag)}</a><ul>")
        out += [f"<li><a href='#{_anchor(op['operationId'])}'><span class=method>{method}</span>"
                f"<code>{html.escape(path)}</code></a> {html.escape(op.get('summary', ''))}</li>"
                for method, path, op in operations]
        out.append("</ul></li>")
    out.append("</ul></nav>")
    for tag, operations in by_tag.items():
        out.append(f"<h2 id='{_anchor(tag)}'>{html.escape(tag)}</h2>")
        out.append(_markdown(tags.get(tag, "")))
        out += [_operation(method, path, op) for method, path, op in operations]
    out.append("</body></html>")
    return "\n".join(out)


def _operation(method: str, path: str, op: dict) -> str:
    out = [f"<section class=op id='{_anchor(op['operationId'])}'>"
           f"<h3><span class=method>{method}</span> <code>{html.escape(path)}</code></h3>",
           f"<p><strong>{html.escape(op.get('summary', ''))}</strong></p>",
           _markdown(op.get("description", "")),
           "<p>Authorization: <code>Bearer &lt;token&gt;</code></p>" if op.get("security")
           else "<p>No token needed.</p>"]
    if op.get("parameters"):
        out.append("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th>"
                   "<th>required</th><th>example</th><th>description</th></tr>")
        out += [f"<tr><td><code>{html.escape(p['name'])}</code></td><td>{p['in']}</td>"
                f"<td>{html.escape(p['schema'].get('type', ''))}</td>"
                f"<td>{'yes' if p.get('required') else 'no'}</td>"
                f"<td><code>{html.escape(str(p.get('example', '')))}</code></td>"
                f"<td>{_inline(p.get('description', ''))}</td></tr>" for p in op["parameters"]]
        out.append("</table>")
    if op.get("requestBody"):
        out.append("<h4>Request body</h4>")
        out += _content(op["requestBody"].get("content", {}))
    out.append("<h4>Responses</h4>")
    for status, response in op.get("responses", {}).items():
        out.append(f"<p><span class=status>{html.escape(status)}</span> "
                   f"{html.escape(response.get('description', ''))}</p>")
        headers = response.get("headers", {})
        if headers:
            out.append("<p>Headers: " + ", ".join(
                f"<code>{html.escape(name)}: {html.escape(str(h.get('example', '')))}</code>"
                for name, h in headers.items()) + "</p>")
        out += _content(response.get("content", {}))
    out.append("</section>")
    return "\n".join(out)


def _content(content: dict) -> list[str]:
    out = []
    for media_type, entry in content.items():
        examples = entry.get("examples", {})
        if not examples:
            out.append(f"<p><code>{html.escape(media_type)}</code></p>")
        for example in examples.values():
            value = example.get("value")
            text = value if isinstance(value, str) else json.dumps(value, indent=2,
                                                                   ensure_ascii=False)
            out.append(f"<p><code>{html.escape(media_type)}</code> "
                       f"{html.escape(example.get('summary', ''))}</p>"
                       f"<pre>{html.escape(text)}</pre>")
    return out


def _anchor(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _inline(text: str) -> str:
    """The little Markdown the blueprint uses: `code`, **bold**, [text](https://…)."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        part = html.escape(part)
        part = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", part)
        part = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", r"<a href='\2'>\1</a>", part)
        out.append(re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", _repository_link, part))
    return "".join(out)


def _repository_link(found: re.Match) -> str:
    """A link between files of docs/ (not served): named, with its path in the repository."""
    text, target = found.group(1), found.group(2)
    path = f"<code>docs/{target}</code>"
    return path if text == target else f"{text} ({path})"


def _markdown(text: str) -> str:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    return "\n".join(f"<p>{_inline(' '.join(p.split()))}</p>" for p in paragraphs)
