"""Compression: payloads above a threshold are stored gzip-compressed.

The stored form is ``gz:`` + base64(gzip(text)); no JSON text starts with
``gz:``, so ``inflate`` needs no flag and every reader can call it.  Consumers
never see the stored form: push deliveries, pulls, dead letters and
``GET /events/{id}`` inflate it (the pipeline's ``load``).  The bytes saved are
a metric (``StoredBytesSaved``).
"""
from __future__ import annotations

import base64
import gzip

from chalicelib.middleware import Middleware
from chalicelib.observability import metrics

PREFIX = "gz:"


def compress(text: str) -> str:
    return PREFIX + base64.b64encode(gzip.compress(text.encode(), compresslevel=6)).decode()


def inflate(text: str) -> str:
    """The original text of a stored payload (compressed or not)."""
    if not text.startswith(PREFIX):
        return text
    return gzip.decompress(base64.b64decode(text[len(PREFIX):])).decode()


class Compression(Middleware):
    name = "compression"

    def __init__(self, threshold_bytes: int) -> None:
        self.threshold = threshold_bytes

    def store(self, text: str) -> str:
        size = len(text.encode())
        if self.threshold <= 0 or size < self.threshold:
            return text
        packed = compress(text)
        if len(packed) >= size:              # incompressible: keep it as it is
            return text
        metrics.add("StoredBytesSaved", size - len(packed), unit="Bytes")
        return packed

    def load(self, text: str) -> str:
        return inflate(text)
