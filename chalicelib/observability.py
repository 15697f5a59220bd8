"""Structured logging (aws-lambda-powertools Logger), shared by every module.

Each request's correlation id is appended to every log line it produces, and
is returned to the client (``X-Correlation-Id`` header and in 500 problems) so
that a report from a client leads straight to the log lines.
"""
from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="tlks-bus")


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
