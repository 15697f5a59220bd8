"""Deployability, checked offline (issue #8).

``make package`` runs once per module (chalice builds the deployment zip: ~10-15 s); the
template it writes is linted with cfn-lint, compared with infra/tables.json, and its tables
are created in moto's CloudFormation, where a short walkthrough runs against them.  The admin
token comes from SSM Parameter Store (moto's SSM).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chalicelib.bootstrap import build_bus
from chalicelib.config import Settings
from chalicelib.errors import StorageUnavailable, Unauthorized
from chalicelib.services.auth import ADMIN
from infra import cloudformation
from infra.tables import load_definitions

ROOT = Path(__file__).resolve().parents[2]
STAGE = "dev"


def _aws_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "TLKS_"))}
    env.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing"}, **extra)
    return env


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> Path:
    """``make package`` into a temporary directory; the path of its sam.json."""
    out = tmp_path_factory.mktemp("package")
    result = subprocess.run(["make", "-s", "package", f"STAGE={STAGE}", f"OUT={out}"],
                            cwd=ROOT, env=_aws_env(), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "sam.json"


@pytest.fixture(scope="module")
def template(packaged) -> dict:
    return json.loads(packaged.read_text())


def _resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


# -- the template --------------------------------------------------------------------------

def test_cfn_lint_reports_no_errors(packaged):
    cfn_lint = Path(sys.executable).with_name("cfn-lint")   # requirements-dev.txt
    result = subprocess.run([str(cfn_lint), str(packaged)],
                            capture_output=True, text=True, timeout=300)
    # Exit code 0: no errors, and no warnings or informational findings either, today.
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stage", cloudformation.STAGES)
def test_the_tables_stack_of_make_deploy_lints_clean(stage, tmp_path):
    path = tmp_path / f"tables-{stage}.json"
    cloudformation.main(["tables", "--stage", stage, "-o", str(path)])
    tables = _resources(json.loads(path.read_text()), "AWS::DynamoDB::Table")
    assert {t["Properties"]["TableName"] for t in tables.values()} == \
        {f"tlks-bus-{stage}-{name}" for name in load_definitions()}
    result = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), str(path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_tables_are_the_ones_of_infra_tables_json(template):
    tables = _resources(template, "AWS::DynamoDB::Table")
    definitions = load_definitions()
    assert set(tables) == {cloudformation.logical_id(name) for name in definitions}
    for name, spec in definitions.items():
        table = tables[cloudformation.logical_id(name)]
        assert table["DeletionPolicy"] == "Retain"
        properties = dict(table["Properties"])
        assert properties.pop("TableName") == f"tlks-bus-{STAGE}-{name}" == \
            Settings(table_prefix=f"tlks-bus-{STAGE}").tables[name]
        assert properties == spec["Properties"]   # keys, GSIs, streams, TTL: all of it


def test_the_queue_stream_triggers_the_dispatcher(template):
    dispatch = template["Resources"]["Dispatch"]
    assert dispatch["Properties"]["Handler"] == "app.dispatch"
    (event,) = dispatch["Properties"]["Events"].values()
    assert event["Type"] == "DynamoDB"
    assert event["Properties"]["Stream"] == {"Fn::GetAtt": ["QueueTable", "StreamArn"]}
    assert cloudformation.PLACEHOLDER_STREAM_ARN not in json.dumps(template)


def test_the_tick_runs_every_minute(template):
    tick = template["Resources"]["Tick"]
    assert tick["Properties"]["Handler"] == "app.tick"
    assert tick["Properties"]["Events"] == {
        "TickEvent": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)"}}}


def test_stage_settings_reach_the_functions(template):
    functions = _resources(template, "AWS::Serverless::Function")
    assert set(functions) == {"APIHandler", "Tick", "Dispatch"}
    for function in functions.values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["TLKS_TABLE_PREFIX"] == f"tlks-bus-{STAGE}"
        assert variables["TLKS_ADMIN_TOKEN_PARAMETER"] == f"/tlks-bus/{STAGE}/admin-token"
        assert "TLKS_ADMIN_TOKEN" not in variables           # secrets never in config.json
    assert functions["Tick"]["Properties"]["Timeout"] == 60   # the sweep's budget is 50 s


def _statements(template: dict) -> list[dict]:
    roles = _resources(template, "AWS::IAM::Role")
    assert set(roles) == set(cloudformation.ROLES)   # one role per function, no DefaultRole
    statements = []
    for role in roles.values():
        (policy,) = role["Properties"]["Policies"]
        statements += policy["PolicyDocument"]["Statement"]
    return statements


def test_iam_is_least_privilege(template):
    statements = _statements(template)
    assert {s["Effect"] for s in statements} == {"Allow"}
    actions = {a for s in statements for a in s["Action"]}
    assert not any("*" in action for action in actions)
    assert actions == {*cloudformation.TABLE_ACTIONS, *cloudformation.STREAM_ACTIONS,
                       *cloudformation.LOG_ACTIONS, "dynamodb:ListStreams", "ssm:GetParameter"}
    for statement in statements:
        if statement["Resource"] == "*":   # ListStreams has no resource-level permissions
            assert statement["Action"] == ["dynamodb:ListStreams"]
            continue
        resources = statement["Resource"]
        for resource in resources if isinstance(resources, list) else [resources]:
            arn = resource["Fn::Sub"]
            assert arn.startswith("arn:${AWS::Partition}:")
            assert ":${AWS::Region}:${AWS::AccountId}:" in arn
            if statement["Sid"] in ("Tables", "QueueStream"):
                assert re.fullmatch(rf".*:table/tlks-bus-{STAGE}-(state|queue)"
                                    r"(/index/\*|/stream/\*)?", arn), arn


def test_policy_files_are_generated_and_current():
    result = subprocess.run([sys.executable, "-m", "infra.cloudformation", "policies", "--check"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    for stage in cloudformation.STAGES:
        assert config["stages"][stage]["autogen_policy"] is False
        document = json.loads(cloudformation.policy_path(stage).read_text())
        for statement in document["Statement"]:
            assert all("*" not in action for action in statement["Action"])


def test_table_actions_are_exactly_what_the_driver_calls():
    source = (ROOT / "chalicelib" / "storage" / "dynamodb.py").read_text()
    called = set(re.findall(r'_call\(\s*"(\w+)"', source))
    called |= {"delete_item", "update_item"} if '"delete_item" if' in source else set()
    camel = {"dynamodb:" + "".join(part.title() for part in op.split("_")) for op in called}
    assert camel == set(cloudformation.TABLE_ACTIONS)


def test_no_second_key_schema_in_the_repository():
    # bench/ creates its own raw-floor tables (not the bus's); this file only names the key.
    skipped = (".venv", "out", ".git", "node_modules", ".tlks", "bench")
    hits = []
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in skipped or path == Path(__file__) or not path.is_file():
            continue
        if path.suffix in (".json", ".py", ".yaml", ".yml", ".tf") and \
                '"KeyType"' in path.read_text(errors="ignore"):
            hits.append("/".join(parts))
    assert hits == ["infra/tables.json"]


def test_the_dispatch_handler_exists_inside_lambda():
    """On Lambda TLKS_QUEUE_STREAM_ARN is unset, yet the handler `app.dispatch` must import."""
    probe = "import app; print(callable(getattr(app, 'dispatch', None)))"
    inside = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, env=_aws_env(AWS_LAMBDA_FUNCTION_NAME="tlks-bus-dev-dispatch"))
    outside = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                             text=True, env=_aws_env())
    assert (inside.stdout.strip(), outside.stdout.strip()) == ("True", "False"), \
        inside.stderr + outside.stderr


# -- the stack's tables, in moto -----------------------------------------------------------

@pytest.fixture
def aws(monkeypatch):
    for key, value in _aws_env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_walkthrough_on_the_tables_cloudformation_creates(aws, template):
    tables = _resources(template, "AWS::DynamoDB::Table")
    stack = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": tables,
             "Outputs": cloudformation.tables_outputs()}
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName=f"tlks-bus-{STAGE}-tables", TemplateBody=json.dumps(stack))
    (described,) = cfn.describe_stacks(StackName=f"tlks-bus-{STAGE}-tables")["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    settings = Settings(stage=STAGE, storage="dynamodb", table_prefix=f"tlks-bus-{STAGE}",
                        admin_token="boot-admin")
    assert {outputs["StateTableName"], outputs["QueueTableName"]} == set(settings.tables.values())
    assert outputs["QueueStreamArn"].startswith(
        f"arn:aws:dynamodb:us-east-1:123456789012:table/{settings.tables['queue']}/stream/")

    bus = build_bus(settings)
    assert bus.health()[0]
    orders = bus.services.register(ADMIN, {"name": "orders"})
    billing = bus.services.register(ADMIN, {"name": "billing"})
    as_orders = bus.auth.authenticate(f"Bearer {orders['token']}")
    as_billing = bus.auth.authenticate(f"Bearer {billing['token']}")
    bus.topics.create(as_orders, {"name": "orders", "discipline": "fifo"})
    subscription = bus.subscriptions.create(as_billing, {"topics": ["orders"], "mode": "pull"})
    bus.publisher.publish(as_orders, "orders", {"type": "order.created", "data": {"order_id": 42}})
    pulled = bus.subscriptions.pull(as_billing, subscription["id"], {"max_messages": 10})
    (message,) = pulled["messages"]
    assert message["event"]["data"] == {"order_id": 42}
    acked = bus.subscriptions.ack(as_billing, subscription["id"],
                                  {"receipts": [message["receipt"]]})
    assert acked == {"acked": [message["receipt"]], "stale": []}
    assert bus.subscriptions.pull(as_billing, subscription["id"], {"max_messages": 10})[
        "messages"] == []
    # Everything went through the stack's tables.
    ddb = boto3.client("dynamodb")
    assert ddb.scan(TableName=settings.tables["state"])["Count"] > 0
    assert ddb.describe_table(TableName=settings.tables["queue"])["Table"][
        "StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


# -- the admin token from SSM --------------------------------------------------------------

@pytest.fixture
def ssm_bus(aws):
    from aws_lambda_powertools.utilities import parameters
    parameters.clear_caches()
    ddb = boto3.client("dynamodb")
    from infra.tables import ensure_tables
    ensure_tables(ddb, "ssm", streams=False)
    boto3.client("ssm").put_parameter(Name="/tlks-bus/test/admin-token", Value="from-ssm-1",
                                      Type="SecureString")
    settings = Settings(stage="test", storage="dynamodb", table_prefix="ssm",
                        admin_token="ignored-when-a-parameter-is-set",
                        admin_token_parameter="/tlks-bus/test/admin-token")
    yield build_bus(settings)
    parameters.clear_caches()


def test_admin_token_comes_from_ssm_and_rotates_after_the_cache(ssm_bus):
    from aws_lambda_powertools.utilities import parameters
    assert ssm_bus.auth.authenticate("Bearer from-ssm-1").is_admin
    with pytest.raises(Unauthorized):
        ssm_bus.auth.authenticate("Bearer ignored-when-a-parameter-is-set")
    boto3.client("ssm").put_parameter(Name="/tlks-bus/test/admin-token", Value="from-ssm-2",
                                      Type="SecureString", Overwrite=True)
    assert ssm_bus.auth.authenticate("Bearer from-ssm-1").is_admin   # cached (max_age 300 s)
    parameters.clear_caches()                                        # ... until it expires
    assert ssm_bus.auth.authenticate("Bearer from-ssm-2").is_admin
    with pytest.raises(Unauthorized):
        ssm_bus.auth.authenticate("Bearer from-ssm-1")


def test_unreadable_parameter_fails_the_admin_only(ssm_bus):
    from aws_lambda_powertools.utilities import parameters
    service = ssm_bus.services.register(ADMIN, {"name": "orders"})
    boto3.client("ssm").delete_parameter(Name="/tlks-bus/test/admin-token")
    parameters.clear_caches()
    with pytest.raises(StorageUnavailable):
        ssm_bus.auth.authenticate("Bearer from-ssm-1")
    assert ssm_bus.auth.authenticate(f"Bearer {service['token']}").service_name == "orders"


def test_settings_read_the_parameter_name():
    settings = Settings.from_env({"TLKS_ADMIN_TOKEN_PARAMETER": "/tlks-bus/dev/admin-token"})
    assert settings.admin_token_parameter == "/tlks-bus/dev/admin-token"
    assert Settings.from_env({}).admin_token_parameter is None


def test_api_gateways_own_answers_are_problems_and_an_unknown_route_is_404(template):
    responses = {r["Properties"]["ResponseType"]: r["Properties"]
                 for r in _resources(template, "AWS::ApiGateway::GatewayResponse").values()}
    assert set(responses) == {"MISSING_AUTHENTICATION_TOKEN", "INVALID_SIGNATURE", "EXPIRED_TOKEN",
                              "ACCESS_DENIED", "UNAUTHORIZED", "DEFAULT_4XX", "DEFAULT_5XX"}
    unknown = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert unknown["StatusCode"] == "404" and unknown["RestApiId"] == {"Ref": "RestAPI"}
    assert unknown["ResponseParameters"]["gatewayresponse.header.Content-Type"] == \
        "'application/problem+json'"
    for properties in responses.values():
        body = properties["ResponseTemplates"]["application/json"]
        assert '"code": "' in body and "$context.requestId" in body
    assert '"code": "not-found"' in unknown["ResponseTemplates"]["application/json"]


def test_api_gateways_own_answers_never_quote_the_request(template):
    """API Gateway's messages may quote the Authorization header (a bearer token): no answer
    it makes itself may contain its message or any request value."""
    for resource in _resources(template, "AWS::ApiGateway::GatewayResponse").values():
        properties = resource["Properties"]
        for text in [*properties["ResponseTemplates"].values(),
                     *properties["ResponseParameters"].values()]:
            assert "$context.error.message" not in text and "messageString" not in text
            assert "$input" not in text and "method.request" not in text
            assert "authorizer" not in text.lower() and "$util" not in text


def test_api_gateway_compresses_answers_from_the_size_the_local_server_uses(template):
    from chalicelib.runtime.local import chalice_config

    [api] = _resources(template, "AWS::Serverless::Api").values()
    assert api["Properties"]["MinimumCompressionSize"] == 1024
    assert chalice_config().minimum_compression_size == 1024
