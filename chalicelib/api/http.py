"""HTTP plumbing shared by every route: request context, JSON bodies, problems.

Chalice's local server is threaded and ``app.current_request`` is shared
between threads, so the request is kept in a ``ContextVar`` set by the HTTP
middleware, and views read it through ``request()``.

Every failure leaves as ``application/problem+json`` (RFC 9457):
* ``BusError`` raised by a view → its status and code (``@endpoint``);
* any other exception → 500 with a correlation id, logged with its stack
  trace, which never reaches the client;
* Chalice's own refusals (unsupported media type, method not allowed) are
  rewritten by the middleware into the same shape.
"""
from __future__ import annotations

import functools
import json
import re
import uuid
from contextvars import ContextVar
from urllib.parse import parse_qsl
from typing import Any, Callable

from chalice import Response
from chalice.app import Request

from chalicelib.bootstrap import Bus, get_bus
from chalicelib.domain import cloudevents_in
from chalicelib.errors import BusError, MalformedJson, PayloadTooLarge, ValidationFailed
from chalicelib.observability import logger, metrics
from chalicelib.services.auth import Principal

PROBLEM_TYPE = "application/problem+json"
MAX_REQUEST_BYTES = 6 * 1024 * 1024          # Lambda's synchronous payload limit
#: a JSON escape of a UTF-16 surrogate: the body needs a closer look (see ``body``)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_CHALICE_CODES = {405: "method-not-allowed", 415: "unsupported-media-type", 400: "bad-request",
                  403: "forbidden", 404: "not-found"}


class _RequestState:
    def __init__(self, request: Request, correlation_id: str) -> None:
        self.request = request
        self.correlation_id = correlation_id
        self.principal: Principal | None = None


_state: ContextVar[_RequestState] = ContextVar("tlks_request")


def request() -> Request:
    return _state.get().request


def bus() -> Bus:
    return get_bus()


def principal() -> Principal:
    """The authenticated caller of the current request (authenticated once)."""
    state = _state.get()
    if state.principal is None:
        state.principal = bus().auth.authenticate(state.request.headers.get("authorization"))
    return state.principal


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def body() -> Any:
    """The request's JSON body; ``{}`` when there is none."""
    raw = request().raw_body or b""
    if len(raw) > MAX_REQUEST_BYTES:
        raise PayloadTooLarge(f"a request body may be at most {MAX_REQUEST_BYTES} bytes",
                              code="request-too-large")
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise MalformedJson(f"the request body is not valid JSON: {exc}"[:300]) from exc
    if _SURROGATE_ESCAPE.search(raw):
        # JSON lets "\ud800" through, but a lone surrogate is not Unicode text: it
        # would break every UTF-8 consumer the event reaches.  Escaped pairs (emoji)
        # were joined by the parser and pass.
        try:
            json.dumps(parsed, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise MalformedJson("a string in the request body escapes a lone UTF-16 surrogate "
                                f"({exc.object[exc.start]!r}): not Unicode text") from exc
    return parsed


#: what a publish route accepts: the bus's JSON form, or CloudEvents (structured, batched;
#: binary mode is JSON data with ``ce-*`` headers)
EVENT_CONTENT_TYPES = ["application/json", cloudevents_in.STRUCTURED, cloudevents_in.BATCH]


def event_body() -> Any:
    """A publish request's event(s) as the bus's JSON form, whichever way they came:
    that form itself, or a CloudEvent in any mode of the HTTP binding."""
    req = request()
    parsed = body()
    media = cloudevents_in.media_type(req.headers.get("content-type"))
    if media == cloudevents_in.BATCH:
        return cloudevents_in.from_structured_batch(parsed)
    if media == cloudevents_in.STRUCTURED:       # the body is the event; ce-* headers ignored
        return cloudevents_in.from_structured(parsed)
    if cloudevents_in.is_binary(req.headers):
        data = parsed if (req.raw_body or b"").strip() else None     # {} is data; none is not
        return cloudevents_in.from_binary_mode(dict(req.headers), data)
    if isinstance(parsed, dict) and "specversion" in parsed:
        return cloudevents_in.from_structured(parsed)
    return parsed


def form_body() -> dict:
    """An ``application/x-www-form-urlencoded`` body as a dict (WebSub's /hub)."""
    raw = request().raw_body or b""
    if len(raw) > 64 * 1024:
        raise PayloadTooLarge("a form body may be at most 64 KiB", code="request-too-large")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw),
                          max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedJson("the form body is not valid application/x-www-form-urlencoded",
                            code="malformed-form") from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise ValidationFailed(f"form field {key} is given twice",
                                   extra={"errors": [{"field": key, "message": "duplicate"}]})
        form[key] = value
    return form


def base_url() -> str:
    """The bus's public base URL: configured, or as this request reached it."""
    return bus().settings.public_url or request_base_url()


def own_base_urls() -> list[str]:
    """Every base URL that names this bus: the configured one first, then this request's."""
    return list(dict.fromkeys([base_url(), request_base_url()]))


def request_base_url() -> str:
    """The base URL as this request reached the bus (its ``Host``, and the stage on
    API Gateway's own hosts)."""
    req = request()
    host = req.headers.get("host", "localhost")
    scheme = req.headers.get("x-forwarded-proto", "http").split(",")[0].strip()
    stage = (req.context or {}).get("stage")
    prefix = f"/{stage}" if stage and host.endswith(".amazonaws.com") else ""
    return f"{scheme}://{host}{prefix}"


def header(name: str) -> str | None:
    return request().headers.get(name.lower())


def query_str(name: str) -> str | None:
    return (request().query_params or {}).get(name)


def query_int(name: str, default: int, low: int, high: int) -> int:
    raw = (request().query_params or {}).get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        message = f"query parameter {name} must be an integer from {low} to {high}"
        raise ValidationFailed(message, extra={"errors": [{"field": name, "message": message}]})
    return value


def created(payload: dict, path: str, status: int = 201) -> Response:
    """201 (or 202) with ``Location``: where the new resource lives."""
    return respond(payload, status, {"Location": f"{base_url()}{path}"})


def respond(payload: Any = None, status: int = 200, headers: dict | None = None) -> Response:
    if payload is None:
        return Response(body="", status_code=status, headers=headers or {})
    return Response(body=json.dumps(payload, separators=(",", ":")), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def _request_path(req: Request | None) -> str | None:
    """The path as requested (``/topics/orders``), not the route (``/topics/{name}``)."""
    if req is None:
        return None
    return (req.context or {}).get("path") or req.path


def problem(status: int, body: dict, headers: dict | None = None) -> Response:
    state = _state.get(None)
    if state is not None:
        body.setdefault("instance", _request_path(state.request))
        body["correlation_id"] = state.correlation_id
    return Response(body=json.dumps(body), status_code=status,
                    headers={"Content-Type": PROBLEM_TYPE, **(headers or {})})


def endpoint(view: Callable[..., Response]) -> Callable[..., Response]:
    """Turn errors raised by a view into problem+json responses."""
    @functools.wraps(view)
    def wrapped(**params: Any) -> Response:
        try:
            return view(**params)
        except BusError as exc:
            if exc.status >= 500:
                logger.warning("request failed", extra={"code": exc.code, "detail": exc.detail})
            return problem(exc.status, exc.to_problem(), exc.headers)
        except Exception:  # noqa: BLE001 - the one place unexpected failures are caught
            logger.exception("unexpected failure")
            return problem(500, BusError("an unexpected error occurred; quote the "
                                         "correlation_id when reporting it").to_problem())
    return wrapped


def http_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Registered on the app for every HTTP request."""
    correlation_id = (event.headers.get("x-correlation-id") or "")[:64] \
        or (event.context or {}).get("requestId") or str(uuid.uuid4())
    token = _state.set(_RequestState(event, correlation_id))
    logger.thread_safe_append_keys(correlation_id=correlation_id)
    try:
        response = _as_problem(get_response(event))
    finally:
        logger.thread_safe_remove_keys(["correlation_id"])
        metrics.flush()
    response.headers["X-Correlation-Id"] = correlation_id
    _state.reset(token)
    return response


def _as_problem(response: Response) -> Response:
    """Rewrite Chalice's native ``{"Code", "Message"}`` errors as problems."""
    if response.status_code < 400 or not isinstance(response.body, dict) \
            or "Code" not in response.body:
        return response
    status = response.status_code
    code = _CHALICE_CODES.get(status, "internal-error" if status >= 500 else "bad-request")
    detail = response.body.get("Message", "")
    if status >= 500:
        detail = "an unexpected error occurred; quote the correlation_id when reporting it"
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    title = code.replace("-", " ").capitalize()       # "Method not allowed", not a class name
    return problem(status, {"type": f"https://tlks.io/problems/{code}", "title": title,
                            "status": status, "detail": detail, "code": code}, headers)
