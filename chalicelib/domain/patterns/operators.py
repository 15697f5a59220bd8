"""One element of a pattern leaf, validated and compiled as EventBridge does it.

A leaf element is a JSON scalar (exact match) or an object with exactly one
operator key.  The syntax rules are aws/event-ruler's (JsonRuleCompiler):
``prefix``/``suffix`` take a string or ``{"equals-ignore-case": string}``;
``anything-but`` takes a string, a number, a non-empty list of only strings or
only numbers, or an object with one of ``equals-ignore-case``/``prefix``/
``suffix``/``wildcard`` (string or list of strings; prefixes and suffixes
non-empty); ``numeric`` is ``[op, n]`` with op in ``= < <= > >=`` or
``[">"|">=", low, "<"|"<=", high]`` with low < high, every number within
±5e9 and six decimals; ``exists`` is a boolean; ``cidr`` is an IPv4/IPv6
network with a prefix length; ``wildcard`` is a string without ``**`` or bad
escapes.  ``regex`` and ``jsonpath`` are our extensions (extensions.py).
"""
from __future__ import annotations

import ipaddress
import math
from decimal import Decimal
from typing import Any

from chalicelib.domain.patterns import numbers
from chalicelib.domain.patterns.extensions import (MAX_JSONPATH_LENGTH, MAX_REGEX_LENGTH,
                                                   JsonPath, Regex)
from chalicelib.domain.patterns.limits import PatternError, at, item
from chalicelib.domain.patterns.matchers import (
    AnythingBut, AnythingButIgnoreCase, AnythingButPrefix, AnythingButSuffix,
    AnythingButWildcard, Cidr, Equals, EqualsIgnoreCase, IpEquals, Matcher, Numeric, Prefix,
    Suffix, Wildcard, parse_ip)
from chalicelib.domain.patterns.wildcard import WildcardPattern, WildcardSyntaxError

EXISTS_TRUE = "exists:true"
EXISTS_FALSE = "exists:false"

_BOTTOM_OPS = {">": True, ">=": False}     # operator -> open end
_TOP_OPS = {"<": True, "<=": False}


class ValueBudget:
    """Counts pattern values against MAX_VALUES across one pattern."""

    def __init__(self, limit: int) -> None:
        self.limit, self.count = limit, 0

    def add(self, location: str, n: int = 1) -> None:
        self.count += n
        if self.count > self.limit:
            raise PatternError(location, f"too many values in the pattern (at most {self.limit})")


def compile_element(element: Any, location: str, counter: ValueBudget, *,
                    in_match: bool = False) -> Matcher | JsonPath | str:
    """A leaf element as a matcher, a ``JsonPath``, or EXISTS_TRUE/EXISTS_FALSE."""
    counter.add(location)
    if isinstance(element, str):
        address = parse_ip(element)
        return IpEquals(element, address) if address is not None else Equals(element)
    if element is None or isinstance(element, bool):
        return Equals(element)
    if numbers.is_number(element):
        if isinstance(element, float) and not math.isfinite(element):
            raise PatternError(location, "numbers must be finite")
        return Equals(element)
    if isinstance(element, dict):
        return _compile_operator(element, location, counter, in_match)
    raise PatternError(location, "match value must be a string, number, true, false, null "
                                 "or an object with one operator")


def _compile_operator(element: dict, location: str, counter: ValueBudget,
                      in_match: bool) -> Matcher | JsonPath | str:
    if "jsonpath" in element and not in_match:
        return _jsonpath(element, location, counter)
    if len(element) != 1:
        raise PatternError(location, "match expression name not found" if not element
                           else "only one key allowed in match expression")
    (name, value), = element.items()
    where = at(location, name)
    if name == "prefix":
        return _affix(Prefix, value, where)
    if name == "suffix":
        return _affix(Suffix, value, where)
    if name == "equals-ignore-case":
        return EqualsIgnoreCase(_string(value, where, "equals-ignore-case match pattern"))
    if name == "wildcard":
        return Wildcard(_wildcard(_string(value, where, "wildcard match pattern"), where))
    if name == "anything-but":
        return _anything_but(value, where, counter)
    if name == "numeric":
        return _numeric(value, where)
    if name == "cidr":
        return _cidr(value, where)
    if name == "exists" and not in_match:
        if not isinstance(value, bool):
            raise PatternError(where, "exists match pattern must be either true or false")
        return EXISTS_TRUE if value else EXISTS_FALSE
    if name == "regex":
        return _regex(value, where)
    raise PatternError(where, f"unrecognized match type {name!r}"
                       + (" inside match" if in_match and name in ("exists", "jsonpath") else ""))


def _string(value: Any, location: str, what: str) -> str:
    if not isinstance(value, str):
        raise PatternError(location, f"{what} must be a string")
    return value


def _affix(kind: type, value: Any, location: str) -> Matcher:
    name = kind.op
    if isinstance(value, dict):
        if len(value) != 1 or "equals-ignore-case" not in value:
            raise PatternError(location, f"unsupported {name} pattern: only "
                                         "{\"equals-ignore-case\": string} may be nested")
        text = _string(value["equals-ignore-case"], at(location, "equals-ignore-case"),
                       "equals-ignore-case match pattern")
        return kind(text, ignore_case=True)
    return kind(_string(value, location, f"{name} match pattern"))


def _wildcard(text: str, location: str) -> WildcardPattern:
    try:
        return WildcardPattern.compile(text)
    except WildcardSyntaxError as exc:
        raise PatternError(location, str(exc)) from None


def _anything_but(value: Any, location: str, counter: ValueBudget) -> Matcher:
    if isinstance(value, str):
        return AnythingBut(strings=frozenset([value]))
    if numbers.is_number(value):
        return AnythingBut(numbers_=frozenset([_comparable(value, location)]))
    if isinstance(value, list):
        counter.add(location, len(value))
        if value and all(isinstance(v, str) for v in value):
            return AnythingBut(strings=frozenset(value))
        if value and all(numbers.is_number(v) for v in value):
            return AnythingBut(numbers_=frozenset(_comparable(v, item(location, i))
                                                  for i, v in enumerate(value)))
        raise PatternError(location, "inside an anything-but list, values must be all strings "
                                     "or all numbers (null, booleans and mixed types are "
                                     "not supported)")
    if isinstance(value, dict):
        if len(value) != 1:
            raise PatternError(location, "anything-but expression name not found" if not value
                               else "only one key allowed in anything-but expression")
        (name, operand), = value.items()
        where = at(location, name)
        if name not in ("equals-ignore-case", "prefix", "suffix", "wildcard"):
            raise PatternError(where, f"unsupported anything-but pattern: {name}")
        texts = _string_set(operand, where, name, counter)
        if name == "equals-ignore-case":
            return AnythingButIgnoreCase(texts)
        if name == "wildcard":
            return AnythingButWildcard([_wildcard(t, where) for t in texts])
        if any(t == "" for t in texts):
            raise PatternError(where, "null prefix/suffix not allowed")
        return AnythingButPrefix(texts) if name == "prefix" else AnythingButSuffix(texts)
    raise PatternError(location, "value of anything-but must be an array or a single "
                                 "string/number value")


def _string_set(operand: Any, location: str, name: str, counter: ValueBudget) -> list[str]:
    if isinstance(operand, str):
        return [operand]
    if isinstance(operand, list):
        counter.add(location, len(operand))
        for i, text in enumerate(operand):
            if not isinstance(text, str):
                raise PatternError(item(location, i), f"anything-but/{name} values must be "
                                                      "strings")
        return list(operand)
    raise PatternError(location, f"anything-but/{name} takes a string or a list of strings")


def _comparable(value: Any, location: str) -> Decimal:
    problem = numbers.comparable_problem(value)
    if problem:
        raise PatternError(location, f"numeric value {problem}")
    return numbers.to_decimal(value)


def _numeric(value: Any, location: str) -> Numeric:
    if not isinstance(value, list):
        raise PatternError(location, "value of numeric must be an array")
    if not value or not isinstance(value[0], str):
        raise PatternError(location, "numeric must start with an operator (=, <, <=, >, >=)")
    op = value[0]
    if op not in ("=", "<", "<=", ">", ">="):
        raise PatternError(item(location, 0), f"unrecognized numeric range operator: {op}")
    if len(value) < 2 or not numbers.is_number(value[1]):
        raise PatternError(item(location, 1), f"value of {op} must be numeric")
    first = _comparable(value[1], item(location, 1))
    if op == "=":
        _no_more(value, 2, location)
        return Numeric(first, False, first, False)
    if op in _TOP_OPS:
        _no_more(value, 2, location)
        return _range(-numbers.LIMIT, False, first, _TOP_OPS[op], location)
    if len(value) == 2:
        return _range(first, _BOTTOM_OPS[op], numbers.LIMIT, False, location)
    top_op = value[2]
    if top_op not in _TOP_OPS:
        raise PatternError(item(location, 2), f"bad numeric range operator: {top_op!r} "
                                              "(after > or >= only < or <= may follow)")
    if len(value) < 4 or not numbers.is_number(value[3]):
        raise PatternError(item(location, 3), f"value of {top_op} must be numeric")
    top = _comparable(value[3], item(location, 3))
    _no_more(value, 4, location)
    return _range(first, _BOTTOM_OPS[op], top, _TOP_OPS[top_op], location)


def _no_more(value: list, expected: int, location: str) -> None:
    if len(value) > expected:
        raise PatternError(location, "too many elements in numeric expression")


def _range(low: Decimal, low_open: bool, high: Decimal, high_open: bool,
           location: str) -> Numeric:
    if low >= high:
        raise PatternError(location, "bottom must be less than top")
    return Numeric(low, low_open, high, high_open)


def _cidr(value: Any, location: str) -> Cidr:
    text = _string(value, location, "cidr match pattern")
    address, slash, bits = text.partition("/")
    if not slash or parse_ip(address) is None or not bits.isdigit():
        raise PatternError(location, f"malformed CIDR {text!r}: expected an IPv4 or IPv6 "
                                     "address, '/', and a prefix length")
    try:
        return Cidr(ipaddress.ip_network(text, strict=False))
    except ValueError as exc:
        raise PatternError(location, f"malformed CIDR {text!r}: {exc}") from None


def _regex(value: Any, location: str) -> Regex:
    text = _string(value, location, "regex (extension)")
    if len(text) > MAX_REGEX_LENGTH:
        raise PatternError(location, f"regex longer than {MAX_REGEX_LENGTH} characters")
    try:
        return Regex(text)
    except ValueError as exc:
        raise PatternError(location, str(exc)) from None


def _jsonpath(element: dict, location: str, counter: ValueBudget) -> JsonPath:
    where = at(location, "jsonpath")
    unknown = sorted(set(element) - {"jsonpath", "match"})
    if unknown:
        raise PatternError(at(location, unknown[0]), "a jsonpath expression takes only "
                                                     "\"jsonpath\" and \"match\"")
    query = _string(element["jsonpath"], where, "jsonpath (extension)")
    if len(query) > MAX_JSONPATH_LENGTH:
        raise PatternError(where, f"jsonpath longer than {MAX_JSONPATH_LENGTH} characters")
    conditions: tuple[Matcher, ...] = ()
    if "match" in element:
        match_at = at(location, "match")
        listed = element["match"]
        if not isinstance(listed, list) or not listed:
            raise PatternError(match_at, "match must be a non-empty array of match values")
        conditions = tuple(compile_element(v, item(match_at, i), counter, in_match=True)
                           for i, v in enumerate(listed))
    try:
        return JsonPath(query, conditions)
    except ValueError as exc:
        raise PatternError(where, str(exc)) from None
