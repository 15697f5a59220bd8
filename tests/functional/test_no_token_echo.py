"""No answer and no log line of the app holds a credential.

chalice.test.Client plays API Gateway with Chalice's own LocalGateway: for an unknown route
it raises the same 403 the local server turns into our 404 (runtime/gateway.py), so the
translation is checked on that very exception; the routes' own 401/403 answers go through
the test client as on AWS.
"""
from __future__ import annotations

import io
import json
import logging
import uuid

import pytest
from chalice.local import LocalGateway, LocalGatewayException

from chalicelib.observability import logger
from chalicelib.runtime.gateway import gateway_problem
from chalicelib.runtime.local import chalice_config
from tests.functional.conftest import ADMIN


@pytest.fixture
def app_log():
    """What the app's logger writes, as its own handler formats it (scrubbing included)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    # whatever level or logging.disable() other tests left behind, this one sees every line
    level, disabled = logger.getEffectiveLevel(), logging.root.manager.disable
    logging.disable(logging.NOTSET)
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logging.disable(disabled)


def _unknown_route_problem(headers: dict) -> dict:
    from app import app

    with pytest.raises(LocalGatewayException) as refused:
        LocalGateway(app, chalice_config()).handle_request("GET", "/no/such/route", headers, None)
    return gateway_problem(refused.value)


def test_an_unknown_route_with_a_bearer_token_is_the_same_not_found_problem(api):
    token = f"tlks_{uuid.uuid4().hex}"
    bare = _unknown_route_problem({})
    assert (bare["status"], bare["code"]) == (404, "not-found")
    assert _unknown_route_problem({"Authorization": f"Bearer {token}"}) == bare
    assert _unknown_route_problem({"authorization": token}) == bare


@pytest.mark.parametrize("header", ["Bearer tlks_{}", "bearer tlks_{}", "tlks_{}", "Basic {}"])
def test_refused_tokens_are_in_no_answer_and_no_log_line(api, capsys, app_log, header):
    secret = header.format(uuid.uuid4().hex)
    reply = api.call("GET", "/topics", headers={"Authorization": secret})
    assert reply.status == 401 and secret.split()[-1] not in json.dumps(reply.body)
    service = api.register()["token"]
    reply = api.call("POST", "/services", service, {"name": "nope"})
    assert reply.status == 403 and service not in json.dumps(reply.body)
    out = capsys.readouterr()
    for text in (out.out, out.err, app_log.getvalue()):
        assert secret.split()[-1] not in text and service not in text and ADMIN not in text


def test_a_log_line_that_quotes_a_credential_is_written_scrubbed(app_log):
    token = f"tlks_{uuid.uuid4().hex}"
    logger.warning(f"refused Authorization=Bearer {token}",
                   extra={"headers": {"Authorization": "Bearer other-secret-value"},
                          "note": f"token {token} in a field"})
    line = app_log.getvalue().strip().splitlines()[-1]
    record = json.loads(line)   # still one JSON object
    assert token not in line and "other-secret-value" not in line
    assert record["headers"] == {"Authorization": "[redacted]"}
    assert record["message"] == "refused Authorization=[redacted]"
