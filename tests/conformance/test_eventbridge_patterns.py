"""Every AWS-validated EventBridge case gets AWS's answer, from both evaluators.

The cases live in shared/conformance/eventbridge-patterns (beside the repo;
``TLKS_CONFORMANCE_DIR`` overrides): a file ending ``_NEG`` is a valid pattern
that does not match its event, ``_EXC`` an invalid pattern, anything else a
match.
"""
from __future__ import annotations

import copy
import functools
import os
from pathlib import Path

import json5
import pytest

from chalicelib.domain.patterns import Router, matches, validate_pattern
from chalicelib.errors import ValidationFailed

CASES_DIR = Path(os.environ.get("TLKS_CONFORMANCE_DIR") or
                 Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
                 / "eventbridge-patterns")
CASES = sorted(CASES_DIR.glob("*.json5"))


@functools.lru_cache(maxsize=None)
def _parsed(path: Path) -> dict:
    return json5.loads(path.read_text())   # json5 is slow: parse each file once


def load(path: Path) -> tuple[dict, dict]:
    case = copy.deepcopy(_parsed(path))
    return case["Event"], case["EventPattern"]


def expected(path: Path) -> str:
    if path.stem.endswith("_EXC"):
        return "invalid"
    return "no-match" if path.stem.endswith("_NEG") else "match"


def test_the_conformance_cases_are_all_there():
    assert len(CASES) == 75, f"expected 75 cases in {CASES_DIR}"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_reference_evaluator_gives_the_aws_answer(path):
    event, pattern = load(path)
    if expected(path) == "invalid":
        with pytest.raises(ValidationFailed) as caught:
            validate_pattern(pattern)
        assert caught.value.code == "invalid-pattern"
        assert caught.value.extra["errors"][0]["message"]
        return
    assert matches(pattern, event) is (expected(path) == "match")


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_router_gives_the_aws_answer(path):
    event, pattern = load(path)
    router = Router()
    if expected(path) == "invalid":
        with pytest.raises(ValidationFailed):
            router.add("rule", pattern)
        assert len(router) == 0
        return
    router.add("rule", pattern)
    assert router.match(event) == ({"rule"} if expected(path) == "match" else set())


def test_router_with_every_case_at_once_routes_each_event_like_the_reference():
    router, valid = Router(), []
    for path in CASES:
        event, pattern = load(path)
        if expected(path) != "invalid":
            valid.append((path.stem, event, router.add(path.stem, pattern)))
    for name, event, _ in valid:
        want = {other for other, _, pattern in valid if matches(pattern, event)}
        assert router.match(event) == want, name
