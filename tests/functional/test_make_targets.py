"""What ``make run`` installs and passes to the runner (read with ``make -n``: nothing runs)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST_TOOLS = ("pytest", "cfn-lint", "hypothesis", "dredd-hooks", "json5",
              "openapi-spec-validator", "moto[server")


def _requirements(name: str) -> list[str]:
    """The requirement lines of ``name``, following ``-r`` includes."""
    lines = []
    for raw in (ROOT / name).read_text().splitlines():
        line = raw.split("#")[0].strip()
        if line.startswith("-r "):
            lines += _requirements(line[3:].strip())
        elif line:
            lines.append(line)
    return lines


def _dry_run(*args: str) -> str:
    result = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_run_installs_no_test_tools():
    run = _requirements("requirements-run.txt")
    assert [line for line in run if line.lower().startswith(TEST_TOOLS)] == []
    assert {re.split(r"[<>=\[ ]", line)[0] for line in run} >= {"boto3", "chalice", "moto"}
    assert "requirements-run.txt" in _dry_run("-B", "run")
    assert "requirements-dev.txt" not in _dry_run("-B", "run")


def test_make_test_still_installs_everything_make_run_does():
    dev = _requirements("requirements-dev.txt")
    assert set(_requirements("requirements-run.txt")) <= set(dev)
    assert any(line.startswith(TEST_TOOLS) for line in dev)


@pytest.mark.parametrize("fresh, flag", [("1", True), ("0", False), ("", False)])
def test_make_run_fresh_passes_the_runners_fresh_flag(fresh, flag):
    [command] = [line for line in _dry_run("run", f"FRESH={fresh}").splitlines()
                 if "chalicelib.runtime.local" in line]
    assert ("--fresh" in command.split()) is flag
