"""``make run``'s memory: the emulated DynamoDB tables saved to a file and loaded back.

moto's server keeps everything in memory, so without this every restart of ``make run``
would forget the services, tokens, topics, subscriptions, queues (and their messages) and
schedules made.  The runner (runtime/local.py) restores the snapshot into the tables it
has just created, saves it again every ``TLKS_SNAPSHOT_SECONDS`` (30) when the tables
changed, and once more when it stops; a ``kill -9`` loses at most the last period.

A snapshot is one JSON file, written whole to a temporary file and renamed over the old
one (so a crash mid-write leaves the previous snapshot), readable by its owner only (it
holds token hashes and every message).  Items keep DynamoDB's typed form; binary values
are base64 text.  Nothing here is used on AWS, or when the endpoint was not started by
the runner (a LocalStack of the user's keeps its own state).
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Mapping

LOG = logging.getLogger("tlks.snapshot")
FORMAT = 1
_BATCH = 25   # BatchWriteItem's limit


def _encode(value: dict) -> dict:
    """An attribute value with its bytes as base64 text (JSON has no bytes)."""
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode("ascii") for b in inner]}
    if kind == "M":
        return {"M": {k: _encode(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_encode(v) for v in inner]}
    return value


def _decode(value: dict) -> dict:
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(b) for b in inner]}
    if kind == "M":
        return {"M": {k: _decode(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_decode(v) for v in inner]}
    return value


class TableSnapshot:
    """Saves the bus's tables to ``path`` and restores them from it.

    Args:
        client: a boto3 DynamoDB client for the emulated endpoint.
        tables: physical table names by logical name (``Settings.tables``).
        path: the snapshot file.
    """

    def __init__(self, client: Any, tables: Mapping[str, str], path: Path) -> None:
        self.client, self.tables, self.path = client, dict(tables), path
        self._digest: str | None = None
        self._lock = threading.Lock()   # the periodic save and the last one never overlap

    def restore(self) -> int:
        """Write the saved items back into the (empty) tables; returns how many."""
        try:
            saved = json.loads(self.path.read_text())
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            LOG.warning("cannot read the snapshot %s (%s); starting empty", self.path, exc)
            return 0
        if saved.get("format") != FORMAT:
            LOG.warning("snapshot %s has format %r, not %r; starting empty",
                        self.path, saved.get("format"), FORMAT)
            return 0
        count = 0
        for logical, items in saved.get("tables", {}).items():
            table = self.tables.get(logical)
            if table is None:
                continue
            for start in range(0, len(items), _BATCH):
                batch = [{"PutRequest": {"Item": {k: _decode(v) for k, v in item.items()}}}
                         for item in items[start:start + _BATCH]]
                self._write(table, batch)
                count += len(batch)
        self._digest = self._hash(self._dump(saved["tables"]))
        return count

    def _write(self, table: str, requests: list[dict]) -> None:
        pending = {table: requests}
        while pending:
            answer = self.client.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}

    def save(self) -> bool:
        """Write the tables to the snapshot file if they changed; True when written."""
        with self._lock:
            tables = {logical: self._scan(name) for logical, name in self.tables.items()}
            text = self._dump(tables)
            digest = self._hash(text)
            if digest == self._digest:
                return False
            self._replace(json.dumps({"format": FORMAT, "tables": tables}))
            self._digest = digest
            return True

    def _scan(self, table: str) -> list[dict]:
        items: list[dict] = []
        for page in self.client.get_paginator("scan").paginate(TableName=table,
                                                               ConsistentRead=True):
            items.extend({k: _encode(v) for k, v in item.items()} for item in page["Items"])
        return items

    @staticmethod
    def _dump(tables: dict) -> str:
        return json.dumps(tables, sort_keys=True)

    @staticmethod
    def _hash(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    def _replace(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:   # mkstemp creates the file 0600
            with os.fdopen(fd, "w") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

