"""Every error code the code can raise is documented in docs/errors.md."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def codes_in_source() -> set[str]:
    codes = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        text = path.read_text()
        codes |= set(re.findall(r'code\s*=\s*"([a-z][a-z-]+)"', text))
    codes |= {f"not-a-{field}" for field in ("publisher", "subscriber")}
    codes |= {"method-not-allowed", "not-found"}
    return codes


def test_every_error_code_is_in_the_catalogue():
    catalogue = (ROOT / "docs" / "errors.md").read_text()
    missing = sorted(c for c in codes_in_source() if f"`{c}`" not in catalogue)
    assert missing == []
