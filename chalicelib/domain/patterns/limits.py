"""Why a pattern is refused: our size limits and the error that names the spot.

EventBridge's own validation rules live with the operators (operators.py) and
the structure walk (compiler.py).  The limits here are ours, on top of them:
a subscription filter runs on every publish to its topic, so its size, depth
and ``$or`` fan-out are bounded.  Every refusal becomes one
``ValidationFailed`` (400, code ``invalid-pattern``) whose ``errors[0].field``
is the dotted location in the pattern, e.g. ``detail.c-count[0].numeric``.
"""
from __future__ import annotations

from chalicelib.errors import ValidationFailed

MAX_PATTERN_CHARS = 4096      # compact JSON text; EventBridge's own EventPattern limit too
MAX_DEPTH = 16                # nested objects (``$or`` included)
MAX_VALUES = 512              # values in all leaves, anything-but lists and match lists
MAX_BRANCHES = 256            # alternatives after expanding every ``$or``

# Field names that may not appear inside ``$or`` (aws/event-ruler reserves them).
RESERVED_IN_OR = frozenset({
    "equals", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists", "wildcard",
    "numeric", "cidr", "=", "<", "<=", ">", ">=", "regex", "not-wildcard",
    "not-equals-ignore-case", "date-after", "date-on-or-after", "date-before",
    "date-on-or-before", "in-date-range", "ip-address-in-range", "ip-address-not-in-range",
    "jsonpath",
})


class PatternError(Exception):
    """A pattern EventBridge (or one of our limits) refuses, at ``location``."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(f"{location or 'pattern'}: {message}")
        self.location = location
        self.message = message

    def to_validation_failed(self) -> ValidationFailed:
        detail = f"invalid event pattern at {self.location or 'the top level'}: {self.message}"
        return ValidationFailed(detail, code="invalid-pattern",
                                extra={"errors": [{"field": self.location,
                                                   "message": self.message}]})


def at(location: str, key: str) -> str:
    """The location of ``key`` inside the object at ``location``."""
    return f"{location}.{key}" if location else key


def item(location: str, index: int) -> str:
    """The location of element ``index`` of the array at ``location``."""
    return f"{location}[{index}]"
