"""Structured logging (aws-lambda-powertools Logger), shared by every module.

Each request's correlation id is appended to every log line it produces, and
is returned to the client (``X-Correlation-Id`` header and in 500 problems) so
that a report from a client leads straight to the log lines.
"""
from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="tlks-bus")
