"""The README's walkthrough block runs verbatim against the live local server, twice in a row:
a newcomer who pastes it again gets the same answers, not a wall of tracebacks."""
import os
import re
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough_block() -> str:
    text = README.read_text()
    found = re.search(r"<!-- walkthrough:.*?-->\s*```sh\n(.*?)```", text, re.DOTALL)
    assert found, "README.md lost its walkthrough block"
    return found.group(1)


def paste(live_bus) -> subprocess.CompletedProcess:
    env = {**os.environ, "BUS": live_bus.url, "ADMIN": live_bus.admin_token}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough_block()], env=env,
                          capture_output=True, text=True, timeout=120)


def assert_walkthrough_answers(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    orders = [line for line in lines if line.startswith(("fifo:", "lifo:", "priority:"))]
    bodies = {line.split(":")[0]: line.split(":")[1].split() for line in orders}
    assert bodies == {"fifo": ["a", "b", "c"], "lifo": ["c", "b", "a"],
                      "priority": ["b", "c", "a"]}, result.stdout
    fires = [line for line in lines if line.endswith(("+01:00", "+02:00"))]
    assert len(fires) == 5 and all("T09:00:00" in line for line in fires), result.stdout
    # the deliberate mistake of the last step is one readable line naming the field, no traceback
    assert "Traceback" not in result.stderr, result.stderr
    [mistake] = result.stderr.strip().splitlines()
    assert mistake.startswith("400 ") and "'data'" in mistake, mistake


def test_readme_walkthrough_runs_verbatim(live_bus):
    assert_walkthrough_answers(paste(live_bus))


def test_readme_walkthrough_can_be_pasted_twice_in_a_row(live_bus):
    first, second = paste(live_bus), paste(live_bus)
    assert_walkthrough_answers(first)
    assert_walkthrough_answers(second)


def test_walkthrough_helper_prints_an_error_answer_instead_of_a_traceback(live_bus):
    block = walkthrough_block().split("# 1.")[0]      # the settings and the api() helper
    script = block + "\napi POST /services \"$ADMIN\" '{\"name\": \"dup\"}' >/dev/null\n" \
                     "api POST /services \"$ADMIN\" '{\"name\": \"dup\"}'\n"
    env = {**os.environ, "BUS": live_bus.url, "ADMIN": live_bus.admin_token}
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("409 "), result.stderr
    assert "Traceback" not in result.stderr
