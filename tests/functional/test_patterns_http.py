"""Every AWS-validated EventBridge case through ``POST /patterns/test`` gets AWS's answer.

The same cases and loader as tests/conformance (which checks the engine
directly); here they go over HTTP as JSON, through validation and problem
responses, on one bus shared by the module (the route stores nothing).
"""
import pytest

from tests.conformance.test_eventbridge_patterns import CASES, expected, load
from tests.functional.conftest import ADMIN


def test_every_conformance_case_is_there():
    assert len(CASES) == 75


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_pattern_test_route_gives_the_aws_answer(module_api, path):
    event, pattern = load(path)
    reply = module_api.call("POST", "/patterns/test", ADMIN, {"event": event, "pattern": pattern})
    if expected(path) == "invalid":
        assert (reply.status, reply.body["code"]) == (400, "invalid-pattern"), reply
        assert reply.headers["Content-Type"] == "application/problem+json"
        assert reply.body["errors"][0]["message"]
        return
    assert (reply.status, reply.body) == (200, {"match": expected(path) == "match"}), reply
