"""The only place that reads the environment.

`.chalice/config.json` sets these variables per stage; `make run` and the tests
set them for local runs.  Everything else receives a ``Settings`` object.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Runtime configuration of one bus instance."""

    stage: str = "local"
    storage: str = "dynamodb"             # dynamodb | memory
    table_prefix: str = "tlks-bus-local"
    region: str = "us-east-1"
    endpoint_url: str | None = None       # AWS_ENDPOINT_URL (moto server, LocalStack)
    admin_token: str | None = None
    max_payload_bytes: int = 256 * 1024
    max_batch: int = 100
    idempotency_seconds: int = 24 * 3600
    default_max_deliveries: int = 5
    default_visibility_timeout: int = 30
    max_visibility_timeout: int = 12 * 3600
    max_wait_seconds: int = 20
    log_level: str = "INFO"
    extra: dict = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, str]:
        """Physical DynamoDB table names by logical name (see infra/tables.json)."""
        return {name: f"{self.table_prefix}-{name}" for name in ("state", "queue")}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        stage = env.get("TLKS_STAGE", "local")
        return cls(
            stage=stage,
            storage=env.get("TLKS_STORAGE", "dynamodb"),
            table_prefix=env.get("TLKS_TABLE_PREFIX", f"tlks-bus-{stage}"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            admin_token=env.get("TLKS_ADMIN_TOKEN") or None,
            max_payload_bytes=_int(env, "TLKS_MAX_PAYLOAD_BYTES", 256 * 1024),
            idempotency_seconds=_int(env, "TLKS_IDEMPOTENCY_SECONDS", 24 * 3600),
            default_max_deliveries=_int(env, "TLKS_DEFAULT_MAX_DELIVERIES", 5),
            default_visibility_timeout=_int(env, "TLKS_DEFAULT_VISIBILITY_TIMEOUT", 30),
            max_wait_seconds=_int(env, "TLKS_MAX_WAIT_SECONDS", 20),
            log_level=env.get("POWERTOOLS_LOG_LEVEL", env.get("LOG_LEVEL", "INFO")),
        )
