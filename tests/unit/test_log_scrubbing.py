"""observability.scrub: no credential survives into a log line."""
from __future__ import annotations

import logging

import pytest

from chalicelib.observability import REDACTED, ScrubbingFormatter, add_secret, scrub


@pytest.mark.parametrize("text, secret", [
    ("Authorization=Bearer tlks_abc-DEF_123", "tlks_abc-DEF_123"),
    ('{"Authorization": "Bearer abc.def.ghi"}', "abc.def.ghi"),
    ("{'authorization': 'raw-token-value'}", "raw-token-value"),
    ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    ("sent bearer abc123 to x", "abc123"),
    ("the token tlks_Zz9 was refused", "tlks_Zz9"),
])
def test_credentials_are_redacted_wherever_they_appear(text, secret):
    assert secret not in scrub(text) and REDACTED in scrub(text)


def test_text_without_credentials_is_unchanged():
    text = 'GET /topics/orders HTTP/1.1" 200 - {"name": "orders", "authorized": true}'
    assert scrub(text) == text


def test_a_registered_secret_is_redacted_even_without_a_marker():
    add_secret("admin-7Hq2xW9bLr4ZkP1c")
    assert scrub("admin-7Hq2xW9bLr4ZkP1c at the start") == f"{REDACTED} at the start"


def test_the_formatter_scrubs_tracebacks_too():
    try:
        raise ValueError("bad header Authorization=Bearer tlks_inside")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None,
                                   exc_info=__import__("sys").exc_info())
    line = ScrubbingFormatter("%(message)s").format(record)
    assert "Traceback" in line and "tlks_inside" not in line
