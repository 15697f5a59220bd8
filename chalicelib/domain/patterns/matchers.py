"""Value matchers: one class per EventBridge comparison, applied to one event value.

A pattern leaf such as ``"state": ["a", {"prefix": "b"}]`` compiles to a tuple
of matchers, any of which may accept a value.  The matchers only ever see
scalars (strings, numbers, booleans, null): arrays in the event are crushed
into their elements before matching, and objects never satisfy a value.

Each matcher also says how the router may find it without testing it
(``index``): by exact key, by lower-cased key, or by prefix/suffix.  Matchers
that cannot be indexed (ranges, anything-but, cidr, ...) return None there.

Type rules follow aws/event-ruler: prefix, suffix, equals-ignore-case,
wildcard and cidr only accept strings; numeric comparisons only accept JSON
numbers; every anything-but accepts any present value (null, booleans and
numbers included) except the values it excludes.
"""
from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from typing import Any

from chalicelib.domain.patterns import numbers
from chalicelib.domain.patterns.wildcard import WildcardPattern

# event-ruler only tries to read a string as an IP address when it looks like one
_IPV4_SHAPE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_SHAPE = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address written in ``text``, or None if it is not one."""
    if not (_IPV4_SHAPE.fullmatch(text) or _IPV6_SHAPE.fullmatch(text)):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class Matcher:
    """Base class: ``test(value)`` says whether one event value satisfies it."""

    __slots__ = ()
    op = "equals"

    def test(self, value: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def index(self) -> tuple[str, tuple] | None:
        """``(kind, keys)`` for the router's index, or None if not indexable."""
        return None

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Equals(Matcher):
    """An exact JSON value: string, number (by decimal value), boolean or null."""

    __slots__ = ("value", "key")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.key = numbers.value_key(value)

    def test(self, value: Any) -> bool:
        if isinstance(self.key, str):
            return type(value) is str and value == self.key
        return numbers.value_key(value) == self.key

    def index(self):
        return ("exact", (self.key,))


class IpEquals(Matcher):
    """An exact string that is an IP address: also equals other spellings of it."""

    __slots__ = ("value", "address")

    def __init__(self, value: str, address) -> None:
        self.value = value
        self.address = address

    def test(self, value: Any) -> bool:
        return isinstance(value, str) and (value == self.value or parse_ip(value) == self.address)


class EqualsIgnoreCase(Matcher):
    __slots__ = ("lowered",)
    op = "equals-ignore-case"

    def __init__(self, text: str) -> None:
        self.lowered = text.lower()

    def test(self, value: Any) -> bool:
        return isinstance(value, str) and value.lower() == self.lowered

    def index(self):
        return ("ignore-case", (self.lowered,))


class Prefix(Matcher):
    __slots__ = ("text", "ignore_case")
    op = "prefix"

    def __init__(self, text: str, ignore_case: bool = False) -> None:
        self.text = text.lower() if ignore_case else text
        self.ignore_case = ignore_case

    def test(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        return (value.lower() if self.ignore_case else value).startswith(self.text)

    def index(self):
        return ("prefix-ic" if self.ignore_case else "prefix", (self.text,))


class Suffix(Matcher):
    __slots__ = ("text", "ignore_case")
    op = "suffix"

    def __init__(self, text: str, ignore_case: bool = False) -> None:
        self.text = text.lower() if ignore_case else text
        self.ignore_case = ignore_case

    def test(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        return (value.lower() if self.ignore_case else value).endswith(self.text)

    def index(self):
        return ("suffix-ic" if self.ignore_case else "suffix", (self.text,))


class Wildcard(Matcher):
    __slots__ = ("pattern",)
    op = "wildcard"

    def __init__(self, pattern: WildcardPattern) -> None:
        self.pattern = pattern

    def test(self, value: Any) -> bool:
        return isinstance(value, str) and self.pattern.matches(value)

    def index(self):
        if not self.pattern.stars:
            return ("exact", (self.pattern.segments[0],))
        if self.pattern.literal_prefix:
            return ("prefix", (self.pattern.literal_prefix,))
        return None


class Numeric(Matcher):
    """``numeric``: a range (open or closed ends) or ``=`` (lo == hi, both closed)."""

    __slots__ = ("low", "low_open", "high", "high_open")
    op = "numeric"

    def __init__(self, low: Decimal, low_open: bool, high: Decimal, high_open: bool) -> None:
        self.low, self.low_open, self.high, self.high_open = low, low_open, high, high_open

    def test(self, value: Any) -> bool:
        number = numbers.comparable(value)
        if number is None:
            return False
        if number < self.low or (self.low_open and number == self.low):
            return False
        return not (number > self.high or (self.high_open and number == self.high))

    def index(self):
        if self.low == self.high:  # ["=", x]: the exact key of x finds every candidate
            return ("exact", (("n", self.low),))
        return None


class Cidr(Matcher):
    __slots__ = ("network",)
    op = "cidr"

    def __init__(self, network) -> None:
        self.network = network

    def test(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        address = parse_ip(value)
        return address is not None and address.version == self.network.version \
            and address in self.network


class AnythingBut(Matcher):
    """``anything-but`` a set of strings, or of (comparable) numbers."""

    __slots__ = ("strings", "numbers")
    op = "anything-but"

    def __init__(self, strings: frozenset[str] = frozenset(),
                 numbers_: frozenset[Decimal] = frozenset()) -> None:
        self.strings, self.numbers = strings, numbers_

    def test(self, value: Any) -> bool:
        if self.numbers:
            number = numbers.comparable(value)
            return number is None or number not in self.numbers
        return not (type(value) is str and value in self.strings)


class AnythingButIgnoreCase(Matcher):
    __slots__ = ("lowered",)
    op = "anything-but"

    def __init__(self, texts: list[str]) -> None:
        self.lowered = frozenset(t.lower() for t in texts)

    def test(self, value: Any) -> bool:
        return not (isinstance(value, str) and value.lower() in self.lowered)


class AnythingButPrefix(Matcher):
    __slots__ = ("texts",)
    op = "anything-but"

    def __init__(self, texts: list[str]) -> None:
        self.texts = tuple(texts)

    def test(self, value: Any) -> bool:
        return not (isinstance(value, str) and value.startswith(self.texts))


class AnythingButSuffix(Matcher):
    __slots__ = ("texts",)
    op = "anything-but"

    def __init__(self, texts: list[str]) -> None:
        self.texts = tuple(texts)

    def test(self, value: Any) -> bool:
        return not (isinstance(value, str) and value.endswith(self.texts))


class AnythingButWildcard(Matcher):
    __slots__ = ("patterns",)
    op = "anything-but"

    def __init__(self, patterns: list[WildcardPattern]) -> None:
        self.patterns = tuple(patterns)

    def test(self, value: Any) -> bool:
        return not (isinstance(value, str) and any(p.matches(value) for p in self.patterns))
