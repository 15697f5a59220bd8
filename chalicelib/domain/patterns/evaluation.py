"""Does one branch hold on a flattened event?  The router's hot path.

A branch holds when every condition can pick a value it accepts (or, for
``exists: false``, finds none) such that all picked values are array
consistent: no two of them come from different elements of the same array.
Most fields are outside arrays (empty membership), which makes the common
case one pass with no search.  Otherwise it is a backtracking search over
the distinct memberships of each condition's accepted values, most
constrained condition first, where candidates are looked up by the array
element already chosen rather than scanned, so that two conditions over one
large array cost about the number of elements, not its square.

Absence (``exists: false``) is judged against the final choice: the field
has no value in the chosen array elements (nor outside arrays).
"""
from __future__ import annotations

from typing import Sequence

from chalicelib.domain.patterns.events import FlatEvent, Membership, consistent, merge
from chalicelib.domain.patterns.model import Condition


class _Options:
    """The distinct memberships of the values that satisfy one condition."""

    __slots__ = ("condition", "memberships", "absent_ok", "_index", "_arrays", "_lacking")

    def __init__(self, condition: Condition, memberships: list[Membership]) -> None:
        self.condition = condition
        self.memberships = memberships
        self.absent_ok = condition.may_be_absent
        self._index: dict | None = None
        self._arrays: set = set()
        self._lacking: dict = {}

    def compatible(self, merged: dict) -> Sequence[Membership]:
        """The memberships that agree with ``merged``, found via one chosen array."""
        if not merged or len(self.memberships) < 8:
            return [m for m in self.memberships if consistent(merged, m)]
        if self._index is None:
            self._index = {}
            for membership in self.memberships:
                for choice in membership:
                    self._index.setdefault(choice, []).append(membership)
                    self._arrays.add(choice[0])
        for array, index in merged.items():
            if array in self._arrays:
                if array not in self._lacking:
                    self._lacking[array] = [m for m in self.memberships
                                            if all(c[0] != array for c in m)]
                pool = self._index.get((array, index), []) + self._lacking[array]
                return [m for m in pool if consistent(merged, m)]
        return self.memberships


def branch_holds(conditions: Sequence[Condition], flat: FlatEvent) -> bool:
    """Whether every condition of the branch holds together on ``flat``."""
    leaves = flat.leaves
    # Common case first: no absence, no jsonpath, and each condition met by a value
    # outside arrays (empty membership), which constrains nothing: no search.
    search = False
    for condition in conditions:
        if condition.may_be_absent or condition.node_matchers:
            search = True
            break
        accepts, met, in_array = condition.accepts, False, False
        for value, membership in leaves.get(condition.path, ()):
            if accepts(value):
                if not membership:
                    met = True
                    break
                in_array = True
        if not met:
            if not in_array:
                return False
            search = True
    return _full_check(conditions, flat) if search else True


def _full_check(conditions: Sequence[Condition], flat: FlatEvent) -> bool:
    leaves = flat.leaves
    # Absence that depends on the choice of array elements forces a full search;
    # otherwise a condition met by a value outside arrays needs no search at all.
    absence_matters = any(c.may_be_absent and leaves.get(c.path) for c in conditions)
    options: list[_Options] = []
    for condition in conditions:
        if condition.may_be_absent and not leaves.get(condition.path):
            continue                          # absent whatever we choose
        memberships = _accepted(condition, flat)
        if not memberships and not condition.may_be_absent:
            return False
        if not absence_matters and () in memberships:
            continue                          # met outside arrays: constrains nothing
        options.append(_Options(condition, memberships))
    if not options:
        return True
    options.sort(key=lambda o: (len(o.memberships) + o.absent_ok, o.condition.path))
    # What is left to decide from step i on depends only on the choices made for arrays
    # that later options or absent fields mention; failures are remembered under that
    # restricted key, so independent arrays cost a sum, not a product.
    relevant = [set() for _ in range(len(options) + 1)]
    for option in options:
        if option.absent_ok:
            relevant[-1].update(a for _, m in leaves[option.condition.path] for a, _ in m)
    for i in range(len(options) - 1, -1, -1):
        relevant[i] = relevant[i + 1] | {a for m in options[i].memberships for a, _ in m}
    return _search(options, 0, {}, (), flat, relevant, set())


def _accepted(condition: Condition, flat: FlatEvent) -> list[Membership]:
    found: dict[Membership, None] = {}
    if condition.uses_values:
        for value, membership in flat.leaves.get(condition.path, ()):
            if membership not in found and condition.accepts(value):
                found[membership] = None
    if condition.node_matchers:
        for node, membership in flat.nodes.get(condition.path, ()):
            if membership not in found and condition.accepts_node(node):
                found[membership] = None
    return list(found)


def _search(options: list[_Options], i: int, merged: dict, absent: tuple[str, ...],
            flat: FlatEvent, relevant: list[set], failed: set) -> bool:
    if i == len(options):
        return all(not any(consistent(merged, m) for _, m in flat.leaves.get(path, ()))
                   for path in absent)
    key = (i, absent, frozenset(item for item in merged.items() if item[0] in relevant[i]))
    if key in failed:
        return False
    option = options[i]
    for membership in option.compatible(merged):
        extended = merge(merged, membership)
        if extended is not None and _search(options, i + 1, extended, absent, flat, relevant,
                                            failed):
            return True
    if option.absent_ok and _search(options, i + 1, merged, absent + (option.condition.path,),
                                    flat, relevant, failed):
        return True
    failed.add(key)
    return False
