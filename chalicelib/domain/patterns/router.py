"""``Router``: which of many rules match an event, without trying every rule.

Publishing routes each event through every subscription filter of its topic,
so matching cost must grow far slower than the number of filters.  Like
aws/event-ruler, the router looks values up instead of testing rules:

* every branch of every rule (one per ``$or`` alternative) is filed under one
  *anchor* condition, the one expected to be most selective: exact values
  (a hash lookup per event value), then equals-ignore-case, prefix, suffix and
  wildcard literal prefixes (a lookup per distinct key length), then "this
  field has some value" for conditions that cannot be keyed (ranges,
  anything-but, cidr, regex, exists), and only branches made of nothing but
  ``exists: false``/``jsonpath`` conditions are tried on every event;
* among conditions of the same kind the anchor is the one whose index slots
  are least crowded at insertion time, so rules sharing a popular value
  (say one ``type``) spread over their other fields;
* an event is flattened once (only along paths some rule reads), each of its
  values is looked up, and only the branches found are checked in full
  (evaluation.py), so the cost is about (event values x key lengths) plus the
  candidates, not the number of rules.

The router agrees with the reference evaluator (``matches``) on every pattern
and event; the property tests check that.  It is not thread-safe for
concurrent ``add``/``remove``; build it once per process and share it read-only.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from typing import Any

from chalicelib.domain.patterns.compiler import validate_pattern
from chalicelib.domain.patterns.evaluation import branch_holds
from chalicelib.domain.patterns.events import Paths, flatten
from chalicelib.domain.patterns.model import CompiledPattern, Condition
from chalicelib.domain.patterns.numbers import value_key

_TIER = {"exact": 0, "ignore-case": 0, "prefix": 1, "prefix-ic": 1, "suffix": 1,
         "suffix-ic": 1}


class _Entry:
    """One branch of one rule, as filed in the index."""

    __slots__ = ("rule_id", "conditions", "filed")

    def __init__(self, rule_id: Hashable, conditions: tuple[Condition, ...]) -> None:
        self.rule_id = rule_id
        self.conditions = conditions
        self.filed: list[tuple] = []    # (table, key, lengths counter or None, kind)


class _Affix:
    """Prefix or suffix keys of one field: key -> entries, and the key lengths in use."""

    __slots__ = ("suffix", "lower", "table", "lengths")

    def __init__(self, kind: str) -> None:
        self.suffix = kind.startswith("suffix")
        self.lower = kind.endswith("-ic")
        self.table: dict[str, set[_Entry]] = {}
        self.lengths: Counter[int] = Counter()

    def lookup(self, value: str, found: set[_Entry]) -> None:
        text = value.lower() if self.lower else value
        size, table = len(text), self.table
        for length in self.lengths:
            if length <= size:
                key = text[size - length:] if self.suffix else text[:length]
                bucket = table.get(key)
                if bucket:
                    found |= bucket


class Router:
    """Rules (id -> pattern) indexed for fast matching of events.

    >>> router = Router()
    >>> router.add("s1", {"type": ["order.created"]})
    >>> router.match({"type": "order.created"})
    {'s1'}
    """

    def __init__(self) -> None:
        self._rules: dict[Hashable, CompiledPattern] = {}
        self._entries: dict[Hashable, list[_Entry]] = {}
        self._exact: dict[str, dict[Any, set[_Entry]]] = {}
        self._ignore_case: dict[str, dict[str, set[_Entry]]] = {}
        self._affixes: dict[str, dict[str, _Affix]] = {}     # path -> kind -> keys
        self._present: dict[str, set[_Entry]] = {}
        self._always: set[_Entry] = set()
        self._leaf_refs: Counter[str] = Counter()
        self._node_refs: Counter[str] = Counter()
        self._paths: Paths | None = None

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, rule_id: Hashable) -> bool:
        return rule_id in self._rules

    def add(self, rule_id: Hashable, pattern: Any) -> CompiledPattern:
        """Add (or replace) rule ``rule_id``; returns its compiled pattern.

        Raises:
            ValidationFailed: the pattern is invalid (code ``invalid-pattern``);
                the router is left unchanged.
        """
        compiled = validate_pattern(pattern)
        self.remove(rule_id)
        self._rules[rule_id] = compiled
        entries = self._entries[rule_id] = []
        for branch in compiled.branches:
            entry = _Entry(rule_id, branch)
            self._file(entry)
            entries.append(entry)
        self._leaf_refs.update(compiled.leaf_paths)
        self._node_refs.update(compiled.node_paths)
        self._paths = None
        return compiled

    def remove(self, rule_id: Hashable) -> bool:
        """Remove rule ``rule_id``; returns whether it was there."""
        compiled = self._rules.pop(rule_id, None)
        if compiled is None:
            return False
        for entry in self._entries.pop(rule_id):
            for table, key, lengths, _kind in entry.filed:
                bucket = table.get(key)
                if bucket is not None:
                    bucket.discard(entry)
                    if not bucket:
                        del table[key]
                if lengths is not None:
                    lengths[len(key)] -= 1
                    if lengths[len(key)] <= 0:
                        del lengths[len(key)]
            self._always.discard(entry)
        self._leaf_refs.subtract(compiled.leaf_paths)
        self._node_refs.subtract(compiled.node_paths)
        self._leaf_refs = +self._leaf_refs
        self._node_refs = +self._node_refs
        self._paths = None
        return True

    def pattern(self, rule_id: Hashable) -> CompiledPattern | None:
        """The compiled pattern of ``rule_id`` (None if absent)."""
        return self._rules.get(rule_id)

    def match(self, event: Mapping) -> set:
        """The ids of the rules that match ``event`` (a dict).

        Raises:
            TypeError: the event is not a dict.
        """
        flat = self._flatten(event)
        matched = set()
        for entry in self._candidates(flat):
            if entry.rule_id not in matched and branch_holds(entry.conditions, flat):
                matched.add(entry.rule_id)
        return matched

    def candidate_count(self, event: Mapping) -> int:
        """How many branches the index hands over for a full check (diagnostics)."""
        return len(self._candidates(self._flatten(event)))

    def _flatten(self, event: Mapping):
        if self._paths is None:
            self._paths = Paths.of(self._leaf_refs, self._node_refs)
        return flatten(event, self._paths)

    def _candidates(self, flat) -> set[_Entry]:
        found = set(self._always)
        for path, leaves in flat.leaves.items():
            present = self._present.get(path)
            if present:
                found |= present
            exact = self._exact.get(path)
            ignore_case = self._ignore_case.get(path)
            affixes = self._affixes.get(path)
            for value, _ in leaves:
                if exact:
                    bucket = exact.get(value if type(value) is str else value_key(value))
                    if bucket:
                        found |= bucket
                if type(value) is str:
                    if ignore_case:
                        bucket = ignore_case.get(value.lower())
                        if bucket:
                            found |= bucket
                    if affixes:
                        for affix in affixes.values():
                            affix.lookup(value, found)
        return found

    def stats(self) -> dict[str, int]:
        """How branches are filed (for benchmarks and diagnostics)."""
        counts: Counter[str] = Counter()
        for entries in self._entries.values():
            for entry in entries:
                counts[entry.filed[0][3] if entry.filed else "always"] += 1
        return dict(counts, rules=len(self._rules))

    # -- filing -------------------------------------------------------------

    def _file(self, entry: _Entry) -> None:
        anchor = self._choose_anchor(entry.conditions)
        if anchor is None:
            self._always.add(entry)
            return
        condition, keyed = anchor
        path = condition.path
        if keyed is None:
            self._put(entry, self._present, path, None, "present")
            return
        for kind, keys in keyed:
            for key in keys:
                if kind == "exact":
                    self._put(entry, self._exact.setdefault(path, {}), key, None, kind)
                elif kind == "ignore-case":
                    self._put(entry, self._ignore_case.setdefault(path, {}), key, None, kind)
                else:
                    affix = self._affixes.setdefault(path, {}).setdefault(kind, _Affix(kind))
                    affix.lengths[len(key)] += 1
                    self._put(entry, affix.table, key, affix.lengths, kind)

    @staticmethod
    def _put(entry: _Entry, table: dict, key: Any, lengths: Counter | None, kind: str) -> None:
        table.setdefault(key, set()).add(entry)
        entry.filed.append((table, key, lengths, kind))

    def _choose_anchor(self, conditions: tuple[Condition, ...]):
        best, best_rank = None, None
        for condition in conditions:
            if condition.may_be_absent or condition.node_matchers or not condition.uses_values:
                continue
            keyed = None if condition.any_value else [m.index() for m in condition.matchers]
            if keyed is not None and all(k is not None for k in keyed):
                tier = max(_TIER[kind] for kind, _ in keyed)
                crowd = sum(self._crowd(condition.path, kind, key)
                            for kind, keys in keyed for key in keys)
            else:
                keyed, tier = None, 2
                crowd = len(self._present.get(condition.path, ()))
            rank = (tier, crowd, len(condition.matchers), condition.path)
            if best_rank is None or rank < best_rank:
                best, best_rank = (condition, keyed), rank
        return best

    def _crowd(self, path: str, kind: str, key: Any) -> int:
        if kind == "exact":
            table = self._exact.get(path, {})
        elif kind == "ignore-case":
            table = self._ignore_case.get(path, {})
        else:
            affix = self._affixes.get(path, {}).get(kind)
            table = affix.table if affix else {}
        return len(table.get(key, ()))
