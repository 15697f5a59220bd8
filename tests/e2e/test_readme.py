"""The README's walkthrough block runs verbatim against the live local server."""
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


def test_readme_walkthrough_runs_verbatim(live_bus):
    env = {**os.environ, "BUS": live_bus.url, "ADMIN": live_bus.admin_token}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough_block()], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    orders = [line for line in lines if line.startswith(("fifo:", "lifo:", "priority:"))]
    bodies = {line.split(":")[0]: line.split(":")[1].split() for line in orders}
    assert bodies == {"fifo": ["a", "b", "c"], "lifo": ["c", "b", "a"],
                      "priority": ["b", "c", "a"]}, result.stdout
    fires = [line for line in lines if line.endswith(("+01:00", "+02:00"))]
    assert len(fires) == 5 and all("T09:00:00" in line for line in fires), result.stdout
