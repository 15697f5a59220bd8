"""The API describes itself: GET /openapi.json and GET /docs, both without a token.

The document is generated from docs/api.apib (tests/e2e/test_api_blueprint.py keeps the two in
step and runs the blueprint against a live bus); here it must be valid OpenAPI 3 and name
exactly the routes the Chalice app has, so that a route added without documentation fails.
"""
from __future__ import annotations

import html

from openapi_spec_validator import validate

from app import app


def chalice_routes() -> set[tuple[str, str]]:
    return {(path, method.lower()) for path, entries in app.routes.items() for method in entries}


def test_openapi_json_is_valid_openapi_3_and_needs_no_token(api):
    reply = api.call("GET", "/openapi.json")
    assert reply.status == 200, reply
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.body["openapi"].startswith("3.0.")
    validate(reply.body)


def test_openapi_json_describes_exactly_the_routes_the_app_has(api):
    paths = api.call("GET", "/openapi.json").body["paths"]
    described = {(path, method) for path, operations in paths.items() for method in operations}
    assert described == chalice_routes()


def test_openapi_json_names_the_server_the_request_reached(api):
    reply = api.call("GET", "/openapi.json", headers={"Host": "bus.example.com",
                                                      "X-Forwarded-Proto": "https"})
    assert reply.body["servers"] == [{"url": "https://bus.example.com"}]


def test_every_operation_with_a_token_says_so_and_every_error_is_a_problem(api):
    paths = api.call("GET", "/openapi.json").body["paths"]
    open_routes = {("/health", "get"), ("/openapi.json", "get"), ("/docs", "get")}
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert bool(operation["security"]) == ((path, method) not in open_routes), path
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], \
                        (method, path, status)


def test_docs_page_is_self_contained_html_showing_every_operation(api):
    reply = api.call("GET", "/docs")
    assert reply.status == 200, reply
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    page = reply.body.decode() if isinstance(reply.body, bytes) else reply.body
    for path, method in sorted(chalice_routes()):
        assert f"<span class=method>{method}</span> <code>{html.escape(path)}</code>" in page, \
            (method, path)
    assert "<script" not in page and " src=" not in page    # nothing fetched from elsewhere


def test_docs_page_shows_examples_and_parameters(api):
    reply = api.call("GET", "/docs")
    page = reply.body.decode() if isinstance(reply.body, bytes) else reply.body
    assert "Register a service" in page
    assert "<code>service_id</code>" in page                     # a path parameter
    assert "<code>limit</code>" in page                          # a query parameter
    assert html.escape('"code": "missing-token"') in page         # a problem example
