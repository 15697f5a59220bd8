"""Structured logging (aws-lambda-powertools Logger), shared by every module.

Each request's correlation id is appended to every log line it produces, and
is returned to the client (``X-Correlation-Id`` header and in 500 problems) so
that a report from a client leads straight to the log lines.

No log line carries a credential: every line, traceback included, is scrubbed as it
is written (``scrub``): service tokens (``tlks_...``), whatever follows ``Bearer`` or
an ``Authorization`` key, and the secrets registered with ``add_secret`` (the admin
token) become ``[redacted]``.
"""
from __future__ import annotations

import logging
import re

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

REDACTED = "[redacted]"
_CREDENTIALS = re.compile(
    r"""tlks_[A-Za-z0-9_\-]+"""                                    # a service token
    r"""|(?<=authorization)(["']?\s*[:=]\s*["']?)(?:[A-Za-z0-9_-]+\s+)?[^\s"',;}\]]+"""
    r"""|(?<=bearer)(\s+)[^\s"',;}\]]+""",                         # a bearer credential
    re.IGNORECASE)
_secrets: set[str] = set()


def add_secret(value: str | None) -> None:
    """Have ``scrub`` redact ``value`` wherever it appears (the admin token)."""
    if value and len(value) >= 8:
        _secrets.add(value)


def scrub(text: str) -> str:
    """``text`` with every credential replaced by ``[redacted]``."""
    for secret in _secrets:
        text = text.replace(secret, REDACTED)
    return _CREDENTIALS.sub(lambda m: (m.group(1) or m.group(2) or "") + REDACTED
                            if not m.group(0).lower().startswith("tlks_") else REDACTED, text)


class ScrubbingFormatter(logging.Formatter):
    """A standard-library formatter whose lines (tracebacks too) are scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class _ScrubbingJsonFormatter(LambdaPowertoolsFormatter):
    def format(self, record: logging.LogRecord) -> str:  # noqa: A003
        return scrub(super().format(record))


logger = Logger(service="tlks-bus", logger_formatter=_ScrubbingJsonFormatter())


class BusMetrics:
    """CloudWatch metrics in Embedded Metric Format (powertools Metrics), thread-safe.

    Handlers add metrics as they go; ``flush`` prints one EMF line (CloudWatch turns
    it into metrics on AWS) at the end of each request, tick and stream batch.
    ``POWERTOOLS_METRICS_DISABLED=true`` keeps them out of a local log.  ``totals``
    keeps this process's running sums (tests, the local log).
    """

    def __init__(self) -> None:
        import threading
        from collections import Counter

        from aws_lambda_powertools import Metrics
        self._metrics = Metrics(namespace="tlks-bus", service="tlks-bus")
        self._lock = threading.Lock()
        self._pending = False
        self.totals: Counter[str] = Counter()

    def add(self, name: str, value: float = 1, unit: str = "Count") -> None:
        with self._lock:
            self._metrics.add_metric(name=name, unit=unit, value=value)
            self._pending = True
            self.totals[name] += value

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._metrics.flush_metrics()
                self._pending = False


metrics = BusMetrics()
