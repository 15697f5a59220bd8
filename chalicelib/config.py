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


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Runtime configuration of one bus instance."""

    stage: str = "local"
    storage: str = "dynamodb"             # dynamodb | memory | file | redis
    storage_url: str | None = None        # file: SQLite path; redis: redis:// URL
    table_prefix: str = "tlks-bus-local"
    region: str = "us-east-1"
    endpoint_url: str | None = None       # AWS_ENDPOINT_URL (moto server, LocalStack)
    admin_token: str | None = None
    admin_token_parameter: str | None = None   # SSM parameter holding the admin token (AWS)
    max_payload_bytes: int = 256 * 1024
    max_batch: int = 100
    idempotency_seconds: int = 24 * 3600
    default_max_deliveries: int = 5
    default_visibility_timeout: int = 30
    max_visibility_timeout: int = 12 * 3600
    max_wait_seconds: int = 20
    log_level: str = "INFO"
    public_url: str | None = None         # the bus's base URL as subscribers see it (WebSub Link)
    callback_allow: str = ""              # CIDRs callbacks may reach despite the SSRF rules
    delivery_connect_timeout: float = 10.0
    delivery_read_timeout: float = 10.0
    retry_base_seconds: float = 5.0
    retry_cap_seconds: float = 24 * 3600.0
    breaker_threshold: int = 10           # consecutive failures that pause a push subscription
    breaker_probe_seconds: float = 30.0   # first probe of a paused endpoint (doubles, max 1 h)
    hub_lease_seconds: int = 10 * 24 * 3600
    queue_stream_arn: str | None = None   # the queue table's stream (AWS dispatcher trigger)
    on_lambda: bool = False               # running inside AWS Lambda (AWS_LAMBDA_FUNCTION_NAME)
    sync_wait_seconds: int = 10           # how long a sync publish waits when it names no wait
    max_sync_wait_seconds: int = 25       # API Gateway ends a request at 29 s
    reply_seconds: int = 3600             # a sync request without a reply expires after this
    cache_seconds: float = 5.0            # tokens, topics (5 s) and the routing version (1/5 of it)
    compress_bytes: int = 8 * 1024        # payloads from this size are stored gzip-compressed
    state_dir: str = ".tlks"              # make run: snapshot, admin token, moto log (repo-relative)
    snapshot_seconds: float = 30.0        # make run: how often changed tables are snapshotted
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
            storage_url=env.get("TLKS_STORAGE_URL") or None,
            table_prefix=env.get("TLKS_TABLE_PREFIX", f"tlks-bus-{stage}"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            admin_token=env.get("TLKS_ADMIN_TOKEN") or None,
            admin_token_parameter=env.get("TLKS_ADMIN_TOKEN_PARAMETER") or None,
            max_payload_bytes=_int(env, "TLKS_MAX_PAYLOAD_BYTES", 256 * 1024),
            idempotency_seconds=_int(env, "TLKS_IDEMPOTENCY_SECONDS", 24 * 3600),
            default_max_deliveries=_int(env, "TLKS_DEFAULT_MAX_DELIVERIES", 5),
            default_visibility_timeout=_int(env, "TLKS_DEFAULT_VISIBILITY_TIMEOUT", 30),
            max_wait_seconds=_int(env, "TLKS_MAX_WAIT_SECONDS", 20),
            log_level=env.get("POWERTOOLS_LOG_LEVEL", env.get("LOG_LEVEL", "INFO")),
            public_url=(env.get("TLKS_PUBLIC_URL") or "").rstrip("/") or None,
            callback_allow=env.get("TLKS_CALLBACK_ALLOW",
                                   "127.0.0.0/8,::1/128" if stage == "local" else ""),
            delivery_connect_timeout=_float(env, "TLKS_DELIVERY_CONNECT_TIMEOUT", 10.0),
            delivery_read_timeout=_float(env, "TLKS_DELIVERY_READ_TIMEOUT", 10.0),
            retry_base_seconds=_float(env, "TLKS_RETRY_BASE_SECONDS", 5.0),
            retry_cap_seconds=_float(env, "TLKS_RETRY_CAP_SECONDS", 24 * 3600.0),
            breaker_threshold=_int(env, "TLKS_BREAKER_THRESHOLD", 10),
            breaker_probe_seconds=_float(env, "TLKS_BREAKER_PROBE_SECONDS", 30.0),
            hub_lease_seconds=_int(env, "TLKS_HUB_LEASE_SECONDS", 10 * 24 * 3600),
            queue_stream_arn=env.get("TLKS_QUEUE_STREAM_ARN") or None,
            on_lambda=bool(env.get("AWS_LAMBDA_FUNCTION_NAME")),
            sync_wait_seconds=_int(env, "TLKS_SYNC_WAIT_SECONDS", 10),
            max_sync_wait_seconds=_int(env, "TLKS_MAX_SYNC_WAIT_SECONDS", 25),
            reply_seconds=_int(env, "TLKS_REPLY_SECONDS", 3600),
            cache_seconds=_float(env, "TLKS_CACHE_SECONDS", 5.0),
            compress_bytes=_int(env, "TLKS_COMPRESS_BYTES", 8 * 1024),
            state_dir=env.get("TLKS_STATE_DIR") or ".tlks",
            snapshot_seconds=_float(env, "TLKS_SNAPSHOT_SECONDS", 30.0),
        )
