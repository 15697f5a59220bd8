"""``validate_pattern``: check a pattern as EventBridge would, and compile it once.

The walk follows aws/event-ruler's JsonRuleCompiler: the pattern is a
non-empty object; every key maps to a non-empty object (nested keys, joined
with ``.`` into a path) or to a non-empty array (a leaf: the accepted values);
``"$or"`` maps to an array of at least two non-empty objects, and inside it
operator names may not be used as field names.  When two keys name the same
path (``{"a.b": [1], "a": {"b": [2]}}``) the later one wins, as in event-ruler.

The result is a ``CompiledPattern`` in disjunctive normal form (one branch per
combination of ``$or`` alternatives).  Compiling costs far more than matching,
so callers compile when a subscription is created or loaded, never per event.
"""
from __future__ import annotations

import json
import math
from typing import Any

from chalicelib.domain.patterns import operators
from chalicelib.domain.patterns.extensions import JsonPath
from chalicelib.domain.patterns.limits import (MAX_BRANCHES, MAX_DEPTH, MAX_PATTERN_CHARS,
                                               MAX_VALUES, RESERVED_IN_OR, PatternError, at,
                                               item)
from chalicelib.domain.patterns.matchers import AnythingButWildcard, Wildcard
from chalicelib.domain.patterns.model import CompiledPattern, Condition
from chalicelib.domain.patterns.wildcard import MAX_COMPLEXITY, complexity

Branch = dict  # path -> Condition, in insertion order


def validate_pattern(pattern: Any) -> CompiledPattern:
    """Validate ``pattern`` (a dict, or its JSON text) and compile it.

    Returns:
        the ``CompiledPattern``; passing it back in returns it unchanged.
    Raises:
        ValidationFailed: code ``invalid-pattern``; ``errors[0].field`` is the
            dotted location of the offending part (``""`` for the whole pattern).
    """
    if isinstance(pattern, CompiledPattern):
        return pattern
    try:
        return _compile(pattern)
    except PatternError as exc:
        raise exc.to_validation_failed() from None


def _compile(pattern: Any) -> CompiledPattern:
    if isinstance(pattern, (str, bytes)):
        if len(pattern) > 4 * MAX_PATTERN_CHARS:     # spare the parser absurd inputs
            raise PatternError("", f"pattern longer than {MAX_PATTERN_CHARS} characters of JSON")
        try:
            pattern = json.loads(pattern)
        except (ValueError, RecursionError) as exc:
            raise PatternError("", f"not valid JSON: {exc}") from None
    if not isinstance(pattern, dict):
        raise PatternError("", "filter is not an object")
    _check_shape(pattern, "", 0)
    try:
        size = len(json.dumps(pattern, separators=(",", ":"), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise PatternError("", f"not JSON-compatible: {exc}") from None
    if size > MAX_PATTERN_CHARS:
        raise PatternError("", f"pattern longer than {MAX_PATTERN_CHARS} characters of JSON")
    counter = operators.ValueBudget(MAX_VALUES)
    branches = _object(pattern, "", "", counter, in_or=False)
    _check_wildcard_complexity(branches)
    compiled = tuple(tuple(branch.values()) for branch in branches)
    leaf_paths = frozenset(c.path for b in compiled for c in b if c.uses_values
                           or c.may_be_absent)
    node_paths = frozenset(c.path for b in compiled for c in b if c.node_matchers)
    return CompiledPattern(pattern, compiled, leaf_paths, node_paths)


def _check_shape(value: Any, location: str, depth: int) -> None:
    # Depth first, so that json.dumps never meets a structure deep enough to recurse out.
    if depth > MAX_DEPTH:
        raise PatternError(location, f"pattern nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise PatternError(location, "numbers must be finite (NaN and Infinity are not JSON)")
    if not isinstance(value, (dict, list, str, int, float, bool, type(None))):
        raise PatternError(location, f"not a JSON value ({type(value).__name__})")
    if isinstance(value, dict):
        for key, child in value.items():
            if not isinstance(key, str):
                raise PatternError(location, "field names must be strings")
            _check_shape(child, at(location, key), depth + 1)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            _check_shape(child, item(location, i), depth + 1)


def _object(obj: dict, path: str, location: str, counter: operators.ValueBudget,
            in_or: bool) -> list[Branch]:
    if not obj:
        raise PatternError(location, "empty objects are not allowed")
    branches: list[Branch] = [{}]
    for key, value in obj.items():
        where = at(location, key)
        if key == "$or":
            branches = _cross(branches, _or(value, path, where, counter), where)
            continue
        if in_or and key in RESERVED_IN_OR:
            raise PatternError(where, f"{key} is a reserved keyword and cannot be used as a "
                                      "field name inside $or")
        child_path = at(path, key)
        if isinstance(value, dict):
            branches = _cross(branches, _object(value, child_path, where, counter, in_or), where)
        elif isinstance(value, list):
            condition = _leaf(value, child_path, where, counter)
            for branch in branches:
                branch.pop(child_path, None)   # a later key for the same path wins
                branch[child_path] = condition
        else:
            raise PatternError(where, f"{json.dumps(key)} must be an object or an array")
    return branches


def _or(value: Any, path: str, location: str, counter: operators.ValueBudget) -> list[Branch]:
    if not isinstance(value, list):
        raise PatternError(location, "$or must be followed by an array")
    if len(value) < 2:
        raise PatternError(location, "there must be at least 2 objects in a $or relationship")
    alternatives: list[Branch] = []
    for i, option in enumerate(value):
        if not isinstance(option, dict):
            raise PatternError(item(location, i), "only JSON objects are allowed in the array "
                                                  "of a $or relationship")
        alternatives.extend(_object(option, path, item(location, i), counter, in_or=True))
        if len(alternatives) > MAX_BRANCHES:
            raise PatternError(location, f"more than {MAX_BRANCHES} $or combinations")
    return alternatives


def _cross(branches: list[Branch], alternatives: list[Branch], location: str) -> list[Branch]:
    if len(branches) * len(alternatives) > MAX_BRANCHES:
        raise PatternError(location, f"more than {MAX_BRANCHES} $or combinations")
    crossed = []
    for branch in branches:
        for alternative in alternatives:
            merged = dict(branch)
            for path, condition in alternative.items():
                merged.pop(path, None)
                merged[path] = condition
            crossed.append(merged)
    return crossed


def _leaf(values: list, path: str, location: str, counter: operators.ValueBudget) -> Condition:
    if not values:
        raise PatternError(location, "empty arrays are not allowed")
    matchers, node_matchers, any_value, may_be_absent = [], [], False, False
    for i, element in enumerate(values):
        compiled = operators.compile_element(element, item(location, i), counter)
        if compiled == operators.EXISTS_TRUE:
            any_value = True
        elif compiled == operators.EXISTS_FALSE:
            may_be_absent = True
        elif isinstance(compiled, JsonPath):
            node_matchers.append(compiled)
        else:
            matchers.append(compiled)
    return Condition(path=path, location=location, source=values, matchers=tuple(matchers),
                     node_matchers=tuple(node_matchers), any_value=any_value,
                     may_be_absent=may_be_absent)


def _wildcards(condition: Condition) -> list[str]:
    found = []
    for matcher in condition.matchers:
        if isinstance(matcher, Wildcard):
            found.append(matcher.pattern.source)
        elif isinstance(matcher, AnythingButWildcard):
            found.extend(p.source for p in matcher.patterns)
    return found


def _check_wildcard_complexity(branches: list[Branch]) -> None:
    """Refuse a field whose wildcards are too complex, counted as event-ruler counts them.

    event-ruler keeps one byte machine per field per name state: the fields of a
    branch are taken in sorted order, and branches (``$or`` alternatives) that
    agree on every earlier field share the machine of the next one, so their
    wildcards for it count together (``{"$or": [{"a": [w1]}, {"a": [w2]}]}``).
    """
    machines: dict[tuple, tuple[str, list[str]]] = {}
    for branch in branches:
        before: list[tuple[str, str]] = []
        for condition in sorted(branch.values(), key=lambda c: c.path):
            wildcards = _wildcards(condition)
            if wildcards:
                key = (tuple(before), condition.path)
                location, known = machines.setdefault(key, (condition.location, []))
                known.extend(wildcards)
            before.append((condition.path, json.dumps(condition.source, sort_keys=True)))
    for location, wildcards in machines.values():
        if complexity(wildcards) > MAX_COMPLEXITY:
            raise PatternError(location, "rule is too complex - try using fewer wildcard "
                                         "characters or fewer repeating character sequences "
                                         "after a wildcard character")
