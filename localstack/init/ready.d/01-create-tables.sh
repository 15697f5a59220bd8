#!/bin/bash
# LocalStack READY hook: create the bus's DynamoDB tables from infra/tables.json (mounted at
# /opt/tlks/infra), as `make run` and the CloudFormation stack do.  Idempotent: a table that
# exists is left alone.  LocalStack runs every executable *.sh in ready.d once it serves.
set -euo pipefail

# Since LocalStack 4, init hooks get no default credentials.  "test" is account
# 000000000000, the one `make run` uses (its fake credentials), in the same region.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
definitions=/opt/tlks/infra/tables.json
prefix="${TLKS_TABLE_PREFIX:-tlks-bus-local}"

# One line per table: name <TAB> create-table input as JSON <TAB> TTL attribute or "-".
# CloudFormation properties become CreateTable parameters (as infra/tables.py does).
tables=$(mktemp)
trap 'rm -f "$tables"' EXIT
python3 - "$definitions" "$prefix" > "$tables" <<'PY'
import json, sys

same = {"BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes", "ProvisionedThroughput", "Tags", "TableClass",
        "DeletionProtectionEnabled"}
definitions, prefix = json.load(open(sys.argv[1])), sys.argv[2]
for logical, spec in definitions.items():
    if logical.startswith("_"):
        continue
    props = spec["Properties"]
    request = {"TableName": f"{prefix}-{logical}"}
    request.update({key: value for key, value in props.items() if key in same})
    if "StreamSpecification" in props:
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    ttl = props.get("TimeToLiveSpecification") or {}
    print(request["TableName"], json.dumps(request),
          ttl["AttributeName"] if ttl.get("Enabled", True) and ttl else "-", sep="\t")
PY

while IFS=$'\t' read -r table request ttl; do
  if awslocal dynamodb describe-table --table-name "$table" > /dev/null 2>&1; then
    echo "tlks: table $table exists"
    continue
  fi
  awslocal dynamodb create-table --cli-input-json "$request" > /dev/null
  awslocal dynamodb wait table-exists --table-name "$table"
  if [ "$ttl" != "-" ]; then
    awslocal dynamodb update-time-to-live --table-name "$table" \
      --time-to-live-specification "Enabled=true,AttributeName=$ttl" > /dev/null
  fi
  echo "tlks: created table $table"
done < "$tables"
