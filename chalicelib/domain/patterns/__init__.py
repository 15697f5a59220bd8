"""Content-based routing: EventBridge event patterns as subscription filters.

A subscription's ``filter`` is an EventBridge event pattern (plus two clearly
marked extensions, ``regex`` and ``jsonpath``) evaluated against the event as
a dict: our CloudEvent envelope or an EventBridge-style event alike.  Pure
domain code, no I/O.  See docs/patterns.md for the language, limits and index.

Public API:
    validate_pattern(pattern) -> CompiledPattern   (raises ValidationFailed)
    matches(pattern, event) -> bool                 (reference evaluator)
    explain(pattern, event) -> None | {"path", "condition", "reason"}
    Router: add(rule_id, pattern), remove(rule_id), match(event) -> set of ids
"""
from chalicelib.domain.patterns.compiler import validate_pattern
from chalicelib.domain.patterns.model import CompiledPattern, Condition
from chalicelib.domain.patterns.reference import explain, matches
from chalicelib.domain.patterns.router import Router

__all__ = ["CompiledPattern", "Condition", "Router", "explain", "matches", "validate_pattern"]
