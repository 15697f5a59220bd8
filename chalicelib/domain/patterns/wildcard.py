"""EventBridge ``wildcard`` strings: parsing, matching and the complexity limit.

``*`` matches any run of characters (including none); ``\\*`` is a literal
star and ``\\\\`` a literal backslash; any other backslash escape, a trailing
backslash and two consecutive ``*`` are invalid, as in aws/event-ruler.

Matching is done without regular expressions or backtracking: the literal
segments between stars are found left to right (leftmost occurrence), which is
exact for patterns whose only metacharacter is ``*`` and costs
O(len(value) * segments) at worst.

EventBridge also rejects wildcard patterns that are "too complex": too many
wildcard prefixes that one worst-case value can keep alive at once (event-ruler
measures this on its byte machine).  We compute the same kind of figure on the
pattern's own automaton: the largest set of simultaneously active positions
over every possible input (see ``complexity``), and reject above
``MAX_COMPLEXITY``.  The threshold is our calibration, not AWS's published
number (AWS publishes none); it accepts the patterns AWS documents and rejects
``*:*:*:*:*:event-bus/*``, which AWS rejects.
"""
from __future__ import annotations

from dataclasses import dataclass

STAR = None  # token for "*" in a parsed pattern (literal characters are str)
MAX_COMPLEXITY = 6


class WildcardSyntaxError(ValueError):
    """The wildcard string is malformed; the message says where."""


def parse(pattern: str) -> list[str | None]:
    """Tokens of ``pattern``: literal characters and ``STAR`` markers."""
    tokens: list[str | None] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in "*\\":
                raise WildcardSyntaxError(f"invalid escape character at position {i}: "
                                          "only \\* and \\\\ are allowed")
            tokens.append(pattern[i + 1])
            i += 2
            continue
        if ch == "*":
            if tokens and tokens[-1] is STAR:
                raise WildcardSyntaxError(f"consecutive wildcard characters at position {i}")
            tokens.append(STAR)
        else:
            tokens.append(ch)
        i += 1
    return tokens


@dataclass(frozen=True)
class WildcardPattern:
    """A compiled wildcard: literal segments separated by stars."""

    source: str
    segments: tuple[str, ...]   # len(stars) + 1 segments; inner ones may not be empty
    stars: int

    @classmethod
    def compile(cls, source: str) -> "WildcardPattern":
        tokens = parse(source)
        segments, current = [], []
        for token in tokens:
            if token is STAR:
                segments.append("".join(current))
                current = []
            else:
                current.append(token)
        segments.append("".join(current))
        return cls(source, tuple(segments), len(segments) - 1)

    @property
    def literal_prefix(self) -> str:
        """The text every match starts with (usable as an index key)."""
        return self.segments[0]

    def matches(self, value: str) -> bool:
        segments = self.segments
        if not self.stars:
            return value == segments[0]
        first, last = segments[0], segments[-1]
        if len(value) < len(first) + len(last):
            return False
        if not value.startswith(first) or not value.endswith(last):
            return False
        position, end = len(first), len(value) - len(last)
        for segment in segments[1:-1]:
            found = value.find(segment, position, end)
            if found < 0:
                return False
            position = found + len(segment)
        return True


def complexity(patterns: list[str]) -> int:
    """Largest number of automaton positions one input keeps alive at once.

    The automaton of a pattern has one position per token boundary; a star
    position loops on every character.  The union of several patterns (all the
    wildcards of one field in one rule) is explored by subset construction over
    an alphabet made of the patterns' literal characters plus one "other"
    character, so the figure is exact for every possible input.
    """
    token_lists = [parse(p) for p in patterns]
    alphabet = {t for tokens in token_lists for t in tokens if t is not STAR}
    alphabet.add("\0other")

    def closure(states: set[tuple[int, int]]) -> frozenset[tuple[int, int]]:
        result, stack = set(states), list(states)
        while stack:
            which, pos = stack.pop()
            tokens = token_lists[which]
            if pos < len(tokens) and tokens[pos] is STAR and (which, pos + 1) not in result:
                result.add((which, pos + 1))
                stack.append((which, pos + 1))
        return frozenset(result)

    start = closure({(which, 0) for which in range(len(token_lists))})
    seen, frontier, worst = {start}, [start], 0
    while frontier:
        states = frontier.pop()
        worst = max(worst, sum(1 for which, pos in states if _alive(token_lists[which], pos)))
        if worst > MAX_COMPLEXITY:
            return worst
        for ch in alphabet:
            moved = set()
            for which, pos in states:
                tokens = token_lists[which]
                if pos < len(tokens):
                    if tokens[pos] is STAR:
                        moved.add((which, pos))
                    elif tokens[pos] == ch:
                        moved.add((which, pos + 1))
            if moved:
                nxt = closure(moved)
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
    return worst


def _alive(tokens: list[str | None], pos: int) -> bool:
    # Count a position once: the entry of a star and the position right after
    # it (reached by the empty match) are one wildcard prefix, as in the byte
    # machine where both are the same state.
    return not (pos > 0 and tokens[pos - 1] is STAR)
