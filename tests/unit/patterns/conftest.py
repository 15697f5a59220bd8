"""``verdict``: one answer from both evaluators, which must agree.

Hypothesis keeps its caches outside the work tree (it would otherwise leave a
``.hypothesis/`` directory that git does not ignore).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from chalicelib.domain.patterns import Router, matches

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "tlks-bus-hypothesis")


def _verdict(pattern: dict, event: dict) -> bool:
    reference = matches(pattern, event)
    router = Router()
    router.add("rule", pattern)
    assert router.match(event) == ({"rule"} if reference else set()), \
        "the router disagrees with the reference evaluator"
    return reference


@pytest.fixture
def verdict():
    return _verdict
