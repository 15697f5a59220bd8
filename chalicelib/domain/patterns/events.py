"""An event seen as fields: ``path -> [(value, array membership)]``.

EventBridge matches a pattern against the event's *leaves*: nested keys are
joined with ``.`` (so ``{"a": {"b": 1}}`` and ``{"a.b": 1}`` both give the field
``a.b``), arrays are crushed (every element is a value of the field, at any
depth), objects and empty arrays give no value.  Each value remembers which
element of which array it came from (``membership``: ``((array id, index),
...)``) so that a rule never matches fields taken from different elements of
one array ("array consistency", as aws/event-ruler's ``rulesForJSONEvent``).

``flatten`` only walks the parts of the event that some rule reads (``Paths``),
so a large ``data`` payload costs nothing unless a filter looks into it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Membership = tuple  # ((array id, index), ...), outermost array first
_SCALARS = frozenset({str, int, float, bool, type(None)})


@dataclass(frozen=True)
class Paths:
    """The fields some rule reads, with every dot-prefix needed to reach them."""

    leaf_paths: frozenset[str]
    node_paths: frozenset[str]
    wanted: frozenset[str]       # leaf/node paths and all of their dot-prefixes
    deeper: frozenset[str]       # paths below which some wanted path continues

    @classmethod
    def of(cls, leaf_paths: Iterable[str], node_paths: Iterable[str] = ()) -> "Paths":
        leaf_paths, node_paths = frozenset(leaf_paths), frozenset(node_paths)
        wanted, deeper = set(leaf_paths | node_paths), set()
        for path in leaf_paths | node_paths:
            parts = path.split(".")
            for n in range(1, len(parts)):
                prefix = ".".join(parts[:n])
                wanted.add(prefix)
                deeper.add(prefix)
        return cls(leaf_paths, node_paths, frozenset(wanted), frozenset(deeper))


@dataclass
class FlatEvent:
    """The values (and, for ``jsonpath``, whole nodes) at each wanted path."""

    leaves: dict[str, list[tuple[Any, Membership]]] = field(default_factory=dict)
    nodes: dict[str, list[tuple[Any, Membership]]] = field(default_factory=dict)


def flatten(event: Mapping, paths: Paths) -> FlatEvent:
    """The leaves (and nodes) of ``event`` at ``paths``.

    Raises:
        TypeError: the event is not a JSON object.
    """
    if not isinstance(event, Mapping):
        raise TypeError("an event must be a JSON object (a dict)")
    flat = FlatEvent()
    leaves, nodes = flat.leaves, flat.nodes
    wanted, deeper = paths.wanted, paths.deeper
    leaf_paths, node_paths = paths.leaf_paths, paths.node_paths

    def walk_object(obj: Mapping, base: str, membership: Membership) -> None:
        for key, value in obj.items():
            path = base + key
            if path not in wanted:
                continue
            if path in node_paths:
                nodes.setdefault(path, []).append((value, membership))
            walk_value(value, path, membership)

    def walk_value(value: Any, path: str, membership: Membership) -> None:
        kind = type(value)
        if kind is list:
            array = id(value)
            for index, element in enumerate(value):
                walk_value(element, path, membership + ((array, index),))
        elif kind is dict or (kind not in _SCALARS and isinstance(value, Mapping)):
            if path in deeper:
                walk_object(value, path + ".", membership)
        elif path in leaf_paths:
            leaves.setdefault(path, []).append((value, membership))

    walk_object(event, "", ())
    return flat


def merge(merged: dict | None, membership: Membership) -> dict | None:
    """``merged`` extended with ``membership``, or None if they disagree on an array.

    ``merged`` maps array id -> chosen index; None/empty means "no choice yet".
    """
    if not membership:
        return merged if merged is not None else {}
    result = dict(merged) if merged else {}
    for array, index in membership:
        chosen = result.get(array)
        if chosen is None:
            result[array] = index
        elif chosen != index:
            return None
    return result


def consistent(merged: dict | None, membership: Membership) -> bool:
    """Whether a value with ``membership`` may join the choices in ``merged``."""
    if not merged or not membership:
        return True
    for array, index in membership:
        chosen = merged.get(array)
        if chosen is not None and chosen != index:
            return False
    return True
