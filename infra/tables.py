"""Create the bus's DynamoDB tables from ``infra/tables.json``.

The tables are defined once, as CloudFormation ``AWS::DynamoDB::Table``
properties, so that the deployed stack, the docs and local runs agree.  This
module turns those properties into ``create_table`` calls for a local
endpoint (moto server, LocalStack) and for the tests; on AWS the
CloudFormation stack creates the tables.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

DEFINITIONS = Path(__file__).with_name("tables.json")

# CloudFormation properties that create_table takes unchanged.
_SAME = ("BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes",
         "LocalSecondaryIndexes", "ProvisionedThroughput", "Tags", "TableClass",
         "DeletionProtectionEnabled")
# Properties that only matter on AWS (set by the stack), skipped locally.
_DEPLOY_ONLY = ("PointInTimeRecoverySpecification", "ContributorInsightsSpecification",
                "KinesisStreamSpecification", "ResourcePolicy", "WarmThroughput",
                "OnDemandThroughput")


def load_definitions(path: Path = DEFINITIONS) -> dict[str, dict]:
    """The table definitions by logical name (``state``, ``queue``)."""
    raw = json.loads(path.read_text())
    return {name: spec for name, spec in raw.items() if not name.startswith("_")}


def table_names(prefix: str) -> dict[str, str]:
    """Physical table names by logical name: ``<prefix>-<logical name>``."""
    return {name: f"{prefix}-{name}" for name in load_definitions()}


def create_table_args(name: str, properties: dict[str, Any], *,
                      streams: bool = True) -> dict[str, Any]:
    """``create_table`` keyword arguments for CloudFormation-style properties.

    Args:
        streams: keep ``StreamSpecification``; tests that do not read the
            stream drop it, because moto copies a table's whole stream history
            on every transaction.

    Raises:
        ValueError: a property this translation does not know.
    """
    args: dict[str, Any] = {"TableName": name}
    for prop, value in properties.items():
        if prop in _SAME:
            args[prop] = value
        elif prop == "StreamSpecification":
            if streams:
                args[prop] = {"StreamEnabled": True, **value}
        elif prop == "SSESpecification":
            sse = {"Enabled": value.get("SSEEnabled", False)}
            sse.update({k: v for k, v in value.items() if k in ("SSEType", "KMSMasterKeyId")})
            args[prop] = sse
        elif prop in ("TimeToLiveSpecification", "TableName") or prop in _DEPLOY_ONLY:
            continue   # TTL is a separate call; the name comes from the prefix
        else:
            raise ValueError(f"infra/tables.json: cannot translate {prop!r} for {name}")
    return args


def ensure_tables(client: Any, prefix: str, *, streams: bool = True) -> list[str]:
    """Create the tables that do not exist yet and wait until they are ACTIVE.

    Existing tables are left alone.  Returns the names of the tables created.
    ``streams=False`` creates them without DynamoDB streams (see
    ``create_table_args``).
    """
    created = []
    names = table_names(prefix)
    for logical, spec in load_definitions().items():
        name = names[logical]
        status = _status(client, name)
        if status is not None:
            if status != "ACTIVE":
                _wait_active(client, name)
            continue
        properties = spec["Properties"]
        try:
            client.create_table(**create_table_args(name, properties, streams=streams))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
            _wait_active(client, name)   # someone else is creating it
            continue
        _wait_active(client, name)
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"], "Enabled": ttl.get("Enabled", True)})
        created.append(name)
    return created


def _status(client: Any, name: str) -> str | None:
    """The table's status, or None when it does not exist."""
    try:
        return client.describe_table(TableName=name)["Table"]["TableStatus"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def _wait_active(client: Any, name: str) -> None:
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
