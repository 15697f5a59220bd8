"""The reference evaluator: ``matches`` and ``explain``, written to be obviously right.

It walks the raw event recursively for each condition and searches every
combination of values, with none of the router's shortcuts (no flattening,
no candidate index, no search ordering).  The router's answers are tested
against it.  It is also the right tool for one pattern and one event (a
"test my filter" endpoint), and ``explain`` tells why a pattern did not match.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Iterator

from chalicelib.domain.patterns.compiler import validate_pattern
from chalicelib.domain.patterns.model import Condition

Choice = dict  # array id -> index of the element a picked value came from


def matches(pattern: Any, event: Mapping) -> bool:
    """Whether ``event`` matches ``pattern`` (a dict or a ``CompiledPattern``).

    Raises:
        ValidationFailed: the pattern is invalid (code ``invalid-pattern``).
        TypeError: the event is not a dict.
    """
    compiled = validate_pattern(pattern)
    _check_event(event)
    return any(_holds(branch, event, 0, {}, []) for branch in compiled.branches)


def explain(pattern: Any, event: Mapping) -> dict | None:
    """None if ``event`` matches ``pattern``; else the first condition that failed.

    Returns:
        ``{"path", "condition", "reason"}``: the event field, the pattern leaf
        as written, and why.  With ``$or``, the alternative that came closest
        is reported and ``"branch"`` gives its index in the expanded pattern.
    """
    compiled = validate_pattern(pattern)
    _check_event(event)
    failures = []
    for number, branch in enumerate(compiled.branches):
        failed_at = _first_failure(branch, event)
        if failed_at is None:
            return None
        failures.append((failed_at, number, branch))
    failed_at, number, branch = max(failures, key=lambda f: (f[0], -f[1]))
    condition = branch[failed_at]
    report = {"path": condition.path, "condition": condition.source,
              "reason": _reason(condition, event)}
    if len(compiled.branches) > 1:
        report["branch"] = number
    return report


def _check_event(event: Any) -> None:
    if not isinstance(event, Mapping):
        raise TypeError("an event must be a JSON object (a dict)")


def _first_failure(branch: tuple[Condition, ...], event: Mapping) -> int | None:
    """Index of the first condition that cannot hold together with those before it."""
    for n in range(1, len(branch) + 1):
        if not _holds(branch[:n], event, 0, {}, []):
            return n - 1
    return None


def _holds(conditions, event, i: int, chosen: Choice, absent: list[str]) -> bool:
    if i == len(conditions):
        return all(not any(_agrees(chosen, where) for _, where in _values(event, path, {}))
                   for path in absent)
    condition = conditions[i]
    for where in _satisfying(condition, event):
        if _agrees(chosen, where) and _holds(conditions, event, i + 1, {**chosen, **where},
                                             absent):
            return True
    return condition.may_be_absent and _holds(conditions, event, i + 1, chosen,
                                              absent + [condition.path])


def _satisfying(condition: Condition, event: Mapping) -> Iterator[Choice]:
    if condition.uses_values:
        for value, where in _values(event, condition.path, {}):
            if condition.accepts(value):
                yield where
    if condition.node_matchers:
        for node, where in _nodes(event, condition.path, {}):
            if condition.accepts_node(node):
                yield where


def _agrees(chosen: Choice, where: Choice) -> bool:
    return all(chosen.get(array, index) == index for array, index in where.items())


def _values(node: Any, path: str, where: Choice) -> Iterator[tuple[Any, Choice]]:
    """Every scalar at ``path`` below ``node``, with the array elements it sits in."""
    for child, child_where in _nodes(node, path, where):
        yield from _scalars(child, child_where)


def _nodes(node: Any, path: str, where: Choice) -> Iterator[tuple[Any, Choice]]:
    """Every whole value at ``path`` (arrays above it crossed, the value itself kept)."""
    if isinstance(node, list):
        for index, element in enumerate(node):
            yield from _nodes(element, path, {**where, id(node): index})
    elif isinstance(node, Mapping):
        for key, child in node.items():
            if key == path:
                yield child, where
            elif path.startswith(key + "."):
                yield from _nodes(child, path[len(key) + 1:], where)


def _scalars(node: Any, where: Choice) -> Iterator[tuple[Any, Choice]]:
    if isinstance(node, list):
        for index, element in enumerate(node):
            yield from _scalars(element, {**where, id(node): index})
    elif not isinstance(node, Mapping):
        yield node, where


def _reason(condition: Condition, event: Mapping) -> str:
    values = [value for value, _ in _values(event, condition.path, {})]
    nodes = [node for node, _ in _nodes(event, condition.path, {})]
    alone = any(True for _ in _satisfying(condition, event)) or (
        condition.may_be_absent and not values)
    if alone:
        if condition.may_be_absent and not condition.uses_values and values:
            return "the field exists in the array element chosen for the other conditions"
        return ("the values that satisfy this condition are in a different element of the "
                "same array than those that satisfy the conditions before it")
    if condition.may_be_absent and not condition.uses_values and not condition.node_matchers:
        return f"the field exists ({_show(values)})"
    if condition.node_matchers and nodes and not condition.uses_values:
        return "the jsonpath query selected nothing that satisfies the condition"
    if not nodes:
        return "the field is missing"
    if not values and condition.uses_values:
        return "the field holds no value to compare (an object or an empty array)"
    return f"no value satisfies the condition ({_show(values)})"


def _show(values: list) -> str:
    shown = [json.dumps(v, default=str)[:60] for v in values[:5]]
    more = f" and {len(values) - 5} more" if len(values) > 5 else ""
    return ("value " if len(values) == 1 else "values ") + ", ".join(shown) + more


