"""EventBridge ``wildcard`` strings: parsing, matching and the complexity limit.

``*`` matches any run of characters (including none); ``\\*`` is a literal
star and ``\\\\`` a literal backslash; any other backslash escape, a trailing
backslash and two consecutive ``*`` are invalid, as in aws/event-ruler.

Matching is done without regular expressions or backtracking: the literal
segments between stars are found left to right (leftmost occurrence), which is
exact for patterns whose only metacharacter is ``*`` and costs
O(len(value) * segments) at worst.

EventBridge also rejects wildcard patterns that are "too complex", in the
words of aws/event-ruler, whose MachineComplexityEvaluator counts the wildcard
rule prefixes a theoretical worst-case input matches at once, over all the
wildcards of one field's byte machine.  ``complexity`` computes that figure (it
gives every figure event-ruler's own tests state).  event-ruler leaves the
limit to its caller and AWS publishes none, so ``MAX_COMPLEXITY`` is read off
what AWS does: its documentation refuses ``*:*:*:*:*:event-bus/*`` (11), and a
public Terraform configuration records AWS accepting two values
``*/datasync/*.bif``, ``*/datasync/*.tif`` in one field (8) but refusing four
(16).  10 is the most lenient limit those facts allow: a single ``*`` before a
long literal passes, even with some repeated segments (``*/a/a/a/a/a/a/a/a``
scores 9), where our former calibration (6, on another measure) refused it.
"""
from __future__ import annotations

from dataclasses import dataclass

STAR = None  # token for "*" in a parsed pattern (literal characters are str)
MAX_COMPLEXITY = 10      # refused above this, as EventBridge does (see above)


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


def complexity(patterns: list[str], cap: int = MAX_COMPLEXITY) -> int:
    """The most wildcard rule prefixes one input can match at once (event-ruler's figure).

    A prefix of a pattern is its first k tokens, k >= 1 (``*ab`` has ``*``,
    ``*a``, ``*ab``); an input matches it as a wildcard of its own.  The figure
    is the largest number of (pattern, prefix) pairs that one input matches,
    over every possible input: ``*aa`` scores 3 (``"aa"`` matches ``*``, ``*a``
    and ``*aa``), ``*:*:*:*:*:event-bus/*`` scores 11.  Identical patterns
    count once; patterns sharing a prefix each count it.  As in event-ruler,
    the automaton reads UTF-8 bytes.

    Every input is covered by a subset construction over the patterns' byte
    automaton (one position per prefix, a position after ``*`` looping on any
    byte), where each byte no active position expects behaves alike.  Counting
    stops as soon as the figure exceeds ``cap``, so a hostile pattern costs
    little: the figure returned is then only known to be over ``cap``.
    """
    token_lists = [_bytes(p) for p in dict.fromkeys(patterns)]
    start = _closure(token_lists, {(which, 0) for which in range(len(token_lists))})
    seen, frontier, worst = {start}, [start], _count(start)
    while frontier and worst <= cap:
        states = frontier.pop()
        expected = {token_lists[which][pos] for which, pos in states
                    if pos < len(token_lists[which]) and token_lists[which][pos] is not STAR}
        for byte in (*expected, _OTHER):
            moved = set()
            for which, pos in states:
                tokens = token_lists[which]
                if pos and tokens[pos - 1] is STAR:
                    moved.add((which, pos))            # the star takes the byte
                if pos < len(tokens) and tokens[pos] == byte:
                    moved.add((which, pos + 1))
            if not moved:
                continue
            following = _closure(token_lists, moved)
            worst = max(worst, _count(following))
            if worst > cap:
                break
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    return worst


_OTHER = -1     # any byte no active position expects


def _bytes(pattern: str) -> list[int | None]:
    tokens: list[int | None] = []
    for token in parse(pattern):
        if token is STAR:
            tokens.append(STAR)
        else:
            tokens.extend(token.encode("utf-8", "surrogatepass"))
    return tokens


def _closure(token_lists, states) -> frozenset[tuple[int, int]]:
    """``states`` and every position a star's empty match leads to."""
    result, stack = set(states), list(states)
    while stack:
        which, pos = stack.pop()
        tokens = token_lists[which]
        if pos < len(tokens) and tokens[pos] is STAR and (which, pos + 1) not in result:
            result.add((which, pos + 1))
            stack.append((which, pos + 1))
    return frozenset(result)


def _count(states) -> int:
    # Position k >= 1 is active when the input matches the pattern's first k tokens.
    return sum(1 for _, pos in states if pos)
