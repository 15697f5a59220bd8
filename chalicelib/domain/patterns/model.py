"""The compiled form of an event pattern, shared by every evaluator.

A pattern is compiled once (``validate_pattern``) into *branches*: ``$or`` is
expanded into disjunctive normal form, so a pattern matches when any branch
matches, and a branch matches when all of its conditions hold together.  A
condition names one event field by its dotted path (nested keys and keys that
contain dots are the same thing, as in EventBridge) and says which values it
accepts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from chalicelib.domain.patterns.extensions import JsonPath
from chalicelib.domain.patterns.matchers import Matcher


@dataclass(frozen=True, eq=False)
class Condition:
    """One field of one branch: the values (or absence) that satisfy it.

    Attributes:
        path: the event field, keys joined with ``.``.
        location: where the leaf sits in the pattern (for errors and explain).
        source: the leaf array as the pattern wrote it.
        matchers: value matchers; any one accepting a value satisfies the field.
        node_matchers: ``jsonpath`` extensions, applied to whole values.
        any_value: ``{"exists": true}`` is among the alternatives.
        may_be_absent: ``{"exists": false}`` is among the alternatives.
    """

    path: str
    location: str
    source: list
    matchers: tuple[Matcher, ...] = ()
    node_matchers: tuple[JsonPath, ...] = ()
    any_value: bool = False
    may_be_absent: bool = False

    uses_values: bool = field(init=False)
    accepts: Callable[[Any], bool] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Precomputed: ``accepts`` runs once per candidate value on the publish path.
        object.__setattr__(self, "uses_values", self.any_value or bool(self.matchers))
        object.__setattr__(self, "accepts", self._acceptor())

    def _acceptor(self) -> Callable[[Any], bool]:
        """Whether one scalar event value satisfies this condition."""
        if self.any_value:
            return lambda value: True
        if len(self.matchers) == 1:
            return self.matchers[0].test
        tests = tuple(matcher.test for matcher in self.matchers)
        return lambda value: any(test(value) for test in tests)

    def accepts_node(self, node: Any) -> bool:
        """Whether a whole value at the path satisfies a ``jsonpath`` alternative."""
        return any(matcher.test_node(node) for matcher in self.node_matchers)


@dataclass(frozen=True, eq=False)
class CompiledPattern:
    """A validated pattern, ready for ``matches``, ``explain`` and ``Router``.

    Attributes:
        source: the pattern as given (JSON-compatible), for storage and display.
        branches: alternatives (from ``$or``); each a tuple of conditions.
        leaf_paths: every path whose scalar values some condition reads.
        node_paths: every path whose whole values a ``jsonpath`` reads.
    """

    source: dict
    branches: tuple[tuple[Condition, ...], ...]
    leaf_paths: frozenset[str] = field(default=frozenset())
    node_paths: frozenset[str] = field(default=frozenset())

    @property
    def paths(self) -> frozenset[str]:
        return self.leaf_paths | self.node_paths
