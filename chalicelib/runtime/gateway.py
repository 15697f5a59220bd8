"""What API Gateway does around the API lambda that ``chalice local`` does not.

The local server (runtime/local.py) answers through this request handler so that a
client sees the same HTTP locally as on AWS:

* an unknown route is a 404 problem, as the gateway responses of infra/cloudformation.py
  make it on AWS, with or without an ``Authorization`` header (``chalice local`` answers
  API Gateway's bare 403 "Missing Authentication Token", and with a header a 403
  ``UnauthorizedException`` that quotes the header, token included);
* a request body sent with ``Content-Encoding: gzip`` or ``deflate`` is decompressed
  before the app sees it (API Gateway always does); another coding is a 415, and a body
  that inflates past the request limit a 413, without inflating the rest;
* a response of at least ``minimum_compression_size`` bytes (.chalice/config.json, the
  same setting API Gateway's compression is deployed with) is gzip-compressed when the
  client's ``Accept-Encoding`` allows it.

And it keeps the log readable and free of credentials: a client that goes away
mid-request (connection reset, broken pipe) is one INFO line, not a traceback, and the
access log lines are scrubbed like every other (observability.scrub).
"""
from __future__ import annotations

import gzip
import json
import logging
import zlib
from typing import Any

from chalice.local import ChaliceRequestHandler, LocalGatewayException

from chalicelib.api.http import MAX_REQUEST_BYTES, PROBLEM_TYPE
from chalicelib.observability import scrub

LOG = logging.getLogger("tlks.http")
#: what a client that hangs up mid-request raises in the server thread
CLIENT_GONE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class _Refused(Exception):
    def __init__(self, status: int, code: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.problem = {"type": f"https://tlks.io/problems/{code}", "title": title,
                        "status": status, "detail": detail, "code": code}


def inflate(body: bytes, coding: str) -> bytes:
    """A request body decoded from ``coding`` (at most ``MAX_REQUEST_BYTES``)."""
    coding = coding.strip().lower()
    if coding in ("", "identity"):
        return body
    if coding not in ("gzip", "x-gzip", "deflate"):
        raise _Refused(415, code="unsupported-content-encoding",
                       title="Unsupported content encoding",
                       detail=f"Content-Encoding {coding[:40]!r}: send gzip, deflate or identity")
    # gzip: a gzip header; deflate: a zlib stream (or, as some clients send it, raw deflate)
    wbits = 16 + zlib.MAX_WBITS if coding != "deflate" else (
        zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS)
    decoder = zlib.decompressobj(wbits)
    try:
        data = decoder.decompress(body, MAX_REQUEST_BYTES + 1)
    except zlib.error as exc:
        raise _Refused(400, code="malformed-json", title="Malformed request body",
                       detail=f"the body is not valid {coding} data: {exc}") from exc
    if len(data) <= MAX_REQUEST_BYTES and not decoder.eof:
        raise _Refused(400, code="malformed-json", title="Malformed request body",
                       detail=f"the body is not valid {coding} data: it ends too soon")
    if len(data) > MAX_REQUEST_BYTES:
        raise _Refused(413, code="request-too-large", title="Payload too large",
                       detail=f"a request body may be at most {MAX_REQUEST_BYTES} bytes "
                              "decompressed")
    return data


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``gzip`` or ``*``, with a q above 0)."""
    for part in (accept_encoding or "").split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        quality = params.strip().lower()
        if not quality.startswith("q="):
            return True
        try:
            return float(quality[2:]) > 0
        except ValueError:
            return False
    return False


def gateway_problem(error: LocalGatewayException) -> dict:
    """The problem the local server answers for one of ``chalice local``'s own refusals.

    Chalice raises its 403 ``UnauthorizedException`` only when no route matches (its body
    says "Missing Authentication Token", or quotes the ``Authorization`` header when there
    is one): that is a 404 ``not-found``.  The bus has no Chalice authorizers, so nothing
    else should come here; whatever does becomes a problem with a fixed detail, never
    Chalice's body, which may echo request headers.
    """
    if error.CODE == 403 and error.headers.get("x-amzn-ErrorType") == "UnauthorizedException":
        return {"type": "https://tlks.io/problems/not-found", "title": "Not found",
                "status": 404, "detail": "no such route", "code": "not-found"}
    status = error.CODE or 500
    code = {401: "unauthorized", 403: "forbidden"}.get(status, "internal-error")
    return {"type": f"https://tlks.io/problems/{code}", "title": code.replace("-", " ").capitalize(),
            "status": status, "detail": "the local gateway refused the request", "code": code}


def handler_class(minimum_compression_size: int | None) -> type[ChaliceRequestHandler]:
    """The local server's request handler (``None``: responses are never compressed)."""

    class GatewayHandler(ChaliceRequestHandler):
        # chalice writes a response's headers and body separately; with Nagle's algorithm
        # on, a keep-alive client's delayed ACK then holds every response for ~40 ms
        disable_nagle_algorithm = True

        def _parse_payload(self) -> tuple[dict, bytes | None]:
            headers, body = super()._parse_payload()
            coding = self.headers.get("content-encoding")
            if coding is not None:
                body = inflate(body or b"", coding)
                headers = {k: v for k, v in headers.items()
                           if k.lower() not in ("content-encoding", "content-length")}
                headers["Content-Length"] = str(len(body))
            return headers, body

        def _generic_handle(self) -> None:
            try:
                super()._generic_handle()
            except _Refused as refused:
                self._problem(refused.problem)

        def handle(self) -> None:
            try:
                super().handle()
            except CLIENT_GONE as exc:
                self._client_gone(exc)

        def finish(self) -> None:
            try:
                super().finish()
            except CLIENT_GONE as exc:
                self._client_gone(exc)

        def _client_gone(self, exc: OSError) -> None:
            self.close_connection = True
            LOG.info("client %s:%s went away mid-request (%s)", *self.client_address[:2],
                     type(exc).__name__)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the parent's name
            LOG.info("%s %s", self.address_string(), scrub(format % args))

        # the parent binds these to its own _generic_handle
        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

        def _send_error_response(self, error: Any) -> None:
            self._problem(gateway_problem(error))

        def _problem(self, problem: dict) -> None:
            problem["instance"] = self.path.split("?")[0]
            self._send_http_response(problem["status"], {"Content-Type": PROBLEM_TYPE},
                                     json.dumps(problem).encode())

        def _send_http_response_with_body(self, code: int, headers: dict,
                                          body: str | bytes) -> None:
            if isinstance(body, str):
                body = body.encode("utf-8")
            if minimum_compression_size is not None and len(body) >= minimum_compression_size \
                    and accepts_gzip(self.headers.get("accept-encoding")):
                body = gzip.compress(body, compresslevel=6)
                headers = {**headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
            super()._send_http_response_with_body(code, headers, body)

    return GatewayHandler
