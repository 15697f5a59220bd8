"""The spec is the test: docs/api.apib, run by Dredd against a live bus, and the OpenAPI
document generated from it.

Dredd sends every request of the blueprint to the real local server and checks the status,
the documented headers and the shape of each body; tests/dredd/hooks.py builds the state
each request needs.  The bus runs on the memory driver: the blueprint describes HTTP behaviour,
which the drivers share (tests/contract holds them to one contract, and the HTTP walkthrough
runs on each), and memory is up in about a second with nothing beside it, where the DynamoDB
driver needs a moto server of its own.

Dredd and its drafter.js parser come from npm (``make test`` installs node_modules).  Without
them these tests skip with an install hint, except under ``CI=true``, where they fail.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT, _free_port, local_bus

BLUEPRINT = ROOT / "docs" / "api.apib"
DREDD = ROOT / "node_modules" / ".bin" / "dredd"
INSTALL_HINT = ("the API Blueprint tests need Node.js 18+ and Dredd: install Node.js, then run "
                "`make test` (or `npm ci --omit=optional` in the repository)")
SUMMARY = re.compile(r"^complete: (\d+) passing, (\d+) failing, (\d+) errors, (\d+) skipped, "
                     r"(\d+) total$", re.MULTILINE)


def require_dredd() -> None:
    """Skip the calling test for want of node / Dredd - or fail it under ``CI=true``."""
    missing = [name for name in ("node", "npm") if shutil.which(name) is None]
    if not missing and not DREDD.exists():
        missing = ["node_modules (Dredd)"]
    if not missing:
        return
    message = f"{', '.join(missing)} not found: {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: these tests may not be skipped)", pytrace=False)
    pytest.skip(message)


def documented_transactions() -> int:
    """Request / response pairs in the blueprint: each response has a request of its own."""
    return len(re.findall(r"^\+ Response \d{3}\b", BLUEPRINT.read_text(), re.MULTILINE))


def test_every_transaction_of_the_blueprint_passes_against_a_live_bus(tmp_path):
    require_dredd()
    expected = documented_transactions()
    port = _free_port()               # the hooks worker's: runs in parallel must not share one
    worker = f"{sys.executable} {ROOT / 'tests' / 'dredd' / 'worker.py'} --port {port}"
    with local_bus(tmp_path / "server.log", "memory") as (bus, _):
        env = {**os.environ, "TLKS_DREDD_URL": bus.url, "TLKS_DREDD_ADMIN_TOKEN": bus.admin_token}
        done = subprocess.run(
            [str(DREDD), str(BLUEPRINT), bus.url, "--language", worker,
             "--hookfiles", str(ROOT / "tests" / "dredd" / "hooks.py"),
             "--hooks-worker-handler-port", str(port), "--hooks-worker-timeout", "30000",
             "--hooks-worker-connect-timeout", "30000", "--no-color"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    output = done.stdout + done.stderr
    report = "\n".join(line for line in output.splitlines()
                       if line.startswith(("fail", "error", "warn", "skip", "complete")))
    found = SUMMARY.search(output)
    assert found, f"no Dredd summary (exit {done.returncode}):\n{output[-5000:]}"
    passing, failing, errors, skipped, total = map(int, found.groups())
    assert (failing, errors, skipped) == (0, 0, 0), report[-20000:]
    assert passing == total == expected, report[-20000:]
    assert done.returncode == 0, output[-5000:]


def _build_openapi():
    spec = importlib.util.spec_from_file_location("build_openapi",
                                                  ROOT / "docs" / "build_openapi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_openapi_document_is_generated_from_the_current_blueprint():
    require_dredd()
    build = _build_openapi()
    generated = build.render(build.to_openapi(build.parse_blueprint()))
    assert build.OUTPUT.read_text() == generated, (
        "chalicelib/openapi.json is not what docs/api.apib gives: run "
        "`.venv/bin/python docs/build_openapi.py` and commit both")
