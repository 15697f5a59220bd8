"""A generated-request campaign: thousands of requests made from the bus's own OpenAPI document.

Schemathesis reads ``/openapi.json`` (generated from docs/api.apib) and Hypothesis draws
requests for every operation: valid ones (positive) and ones that break the schema (negative:
wrong types, missing and extra fields, odd strings), each with random path parameters and with
the ids of resources that really exist, once with a service's token and once with the admin's.
Whatever it sends, the bus must answer without a server error, and every error answer must be
an RFC 9457 problem (``application/problem+json`` with type, title and status).

Schema conformance of the *successful* answers is not checked here: the document's schemas are
inferred from the blueprint's examples (docs/build_openapi.py), so they describe the shapes
Dredd already checks, not every optional field; what this campaign adds is the hostile input.

Bounded and reproducible: Hypothesis is derandomized (one seed, no example database), each
operation gets a fixed number of examples per mode, and the run stops early past a deadline.
The count and the time go to ``out/generated_requests.txt`` and into the test's report.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.e2e.client import ok
from tests.e2e.conftest import ROOT, local_bus

EXAMPLES = 25              # per operation, generation mode and path-parameter source
TARGET_REQUESTS = 5000     # the campaign must reach this many (both tokens together)
DEADLINE_SECONDS = 240     # per token; a slow machine stops early (and then fails the count)
PROBLEM = "application/problem+json"
# where generated callback URLs are sent instead: the discard port, so that no request of the
# campaign ever leaves the machine (a random public host would be resolved and dialled)
NOWHERE = "http://127.0.0.1:9/generated"


@dataclass
class Campaign:
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    by_status: dict[int, int] = field(default_factory=dict)


def keep_local(value):
    """The generated body with every URL string pointed at the local discard port."""
    if isinstance(value, str) and value.lower().startswith(("http://", "https://")):
        return NOWHERE
    if isinstance(value, dict):
        return {key: keep_local(item) for key, item in value.items()}
    if isinstance(value, list):
        return [keep_local(item) for item in value]
    return value


def check(response, case, campaign: Campaign) -> None:
    status = response.status_code
    campaign.requests += 1
    campaign.by_status[status] = campaign.by_status.get(status, 0) + 1
    where = f"{case.method} {case.formatted_path}"
    if status >= 500:
        campaign.failures.append(f"{status} from {where}: {response.content[:300]!r}")
        return
    if status >= 400:
        # schemathesis's Response: lower-case header names, each with a list of values
        content_type = (response.headers.get("content-type") or [""])[0].split(";")[0]
        if content_type != PROBLEM:
            campaign.failures.append(f"{status} from {where} is {content_type!r}, not {PROBLEM}")
            return
        try:
            problem = json.loads(response.content)
        except ValueError:
            campaign.failures.append(f"{status} from {where}: a problem that is not JSON")
            return
        if not isinstance(problem, dict) or problem.get("status") != status \
                or not problem.get("title") or "type" not in problem:
            campaign.failures.append(f"{status} from {where}: incomplete problem {problem!r}")


def run_operation(operation, mode, path_parameters, base_url, token, campaign, deadline):
    # the token is fixed: negative mode would otherwise spend most cases on broken tokens (401s
    # the auth tests cover) instead of on the bodies, queries and paths
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters,
                                     headers={"Authorization": f"Bearer {token}"})

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def send(case):
        if time.monotonic() > deadline:
            return
        if case.body is not None and not isinstance(case.body, (bytes, str)):
            case.body = keep_local(case.body)
        response = case.call(base_url=base_url, timeout=30)
        check(response, case, campaign)

    try:
        send()
    except Unsatisfiable:
        pass      # nothing in this operation can be made invalid (negative mode): no cases


def real_resources(bus, token: str) -> dict[str, str]:
    """Resources of the calling service that exist, by path-parameter name."""
    tag = uuid.uuid4().hex[:6]
    topic = ok(bus, "POST", "/topics", token, {"name": f"gen-{tag}"})["name"]
    sub = ok(bus, "POST", "/subscriptions", token, {"topics": [topic], "mode": "pull"})["id"]
    queue = ok(bus, "POST", "/queues", token, {"name": f"gen-q-{tag}"})["name"]
    event = ok(bus, "POST", f"/topics/{topic}/events", token,
               {"type": "generated.seed", "data": {"n": 1}})["id"]
    ok(bus, "POST", "/schedules", token, {"name": f"gen-s-{tag}", "expression": "rate(1 hour)",
                                          "target": {"topic": topic, "type": "t", "data": {}}})
    return {"name": topic, "sub_id": sub, "event_id": event, "queue": queue}


def campaign_for(bus, token: str | None) -> Campaign:
    """The campaign with ``token``, on random ids and on those of a fresh service's resources
    (made anew for each campaign: the one before may have deleted its own)."""
    schema = schemathesis.openapi.from_url(bus.url + "/openapi.json")
    owner = ok(bus, "POST", "/services", bus.admin_token, {"name": f"gen-{uuid.uuid4().hex[:6]}"})
    if token is None:
        token = owner["token"]
    real = {**real_resources(bus, owner["token"]), "service_id": owner["id"]}
    campaign, deadline = Campaign(), time.monotonic() + DEADLINE_SECONDS
    operations = [result.ok() for result in schema.get_all_operations()]
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for use_real in (False, True):
            for operation in operations:
                names = [p.name for p in operation.path_parameters]
                if use_real and not names:
                    continue
                fixed = {name: real["queue"] if name == "name" and "/queues" in operation.path
                         else real.get(name) for name in names} if use_real else None
                fixed = {k: v for k, v in (fixed or {}).items() if v} or None
                run_operation(operation, mode, fixed, bus.url, token, campaign, deadline)
    return campaign


@pytest.fixture(scope="module")
def bus(tmp_path_factory):
    log = tmp_path_factory.mktemp("generated") / "server.log"
    with local_bus(log, "memory") as (live, _):
        yield live


def test_generated_requests_get_no_server_error_and_every_error_is_a_problem(bus):
    started = time.monotonic()
    as_service = campaign_for(bus, None)          # the owner of the real resources
    as_admin = campaign_for(bus, bus.admin_token)
    seconds = time.monotonic() - started
    total = as_service.requests + as_admin.requests
    statuses = {}
    for campaign in (as_service, as_admin):
        for status, count in campaign.by_status.items():
            statuses[status] = statuses.get(status, 0) + count
    report = (f"{total} generated requests in {seconds:.0f} s "
              f"({as_service.requests} with a service token, {as_admin.requests} as admin); "
              f"answers by status: {dict(sorted(statuses.items()))}")
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    (out / "generated_requests.txt").write_text(report + "\n")
    print(report)
    failures = as_service.failures + as_admin.failures
    assert not failures, f"{len(failures)} bad answers; {report}\n" + "\n".join(failures[:25])
    assert total >= TARGET_REQUESTS, report
