"""Our extensions to the EventBridge pattern language: ``regex`` and ``jsonpath``.

Neither exists in EventBridge; a pattern that uses them is a tlks-bus pattern.

* ``{"regex": "..."}`` runs on RE2 (the ``google-re2`` package), whose
  matching time is linear in the input whatever the expression, so no filter
  can stall publishing (no ReDoS).  Semantics: *search* (the expression may
  match anywhere; anchor it with ``^``/``$``), strings only, RE2 syntax
  (no backreferences or look-around: rejected when the filter is created).
* ``{"jsonpath": "$...", "match": [...]}`` runs an RFC 9535 JSONPath query
  (the ``jsonpath-rfc9535`` package) on the value of the field it is placed
  at; it matches when the query selects at least one node and, if ``match``
  is given, one of the selected values satisfies one of the ``match``
  conditions (the same conditions as a pattern leaf).  RFC 9535's ``match()``
  and ``search()`` filter functions are re-bound to RE2 as well.

Both libraries are imported on first use, so patterns without extensions cost
nothing at cold start.
"""
from __future__ import annotations

import functools
from typing import Any

from chalicelib.domain.patterns.matchers import Matcher

MAX_REGEX_LENGTH = 256
MAX_JSONPATH_LENGTH = 256


def _re2_options():
    import re2

    options = re2.Options()
    options.log_errors = False        # an invalid filter is a 400, not log noise
    options.max_mem = 1 << 20         # bounds the compiled program (and so the pattern)
    return options


@functools.lru_cache(maxsize=512)
def compile_regex(expression: str):
    """The RE2 program for ``expression``; raises ValueError if RE2 refuses it."""
    import re2

    try:
        return re2.compile(expression, _re2_options())
    except Exception as exc:  # re2 raises its own error type, bytes message
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(f"not a valid RE2 expression: {reason}") from exc


class Regex(Matcher):
    """Extension: RE2 search on string values."""

    __slots__ = ("expression", "program")
    op = "regex"

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.program = compile_regex(expression)

    def test(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            return self.program.search(value) is not None
        except UnicodeEncodeError:  # lone surrogates cannot reach RE2 (UTF-8)
            return False


def _iregexp_to_re2(pattern: str) -> str:
    # I-Regexp's "." excludes \n and \r; RE2's excludes only \n.
    out, escaped, in_class = [], False, False
    for ch in pattern:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            out.append(ch)
            escaped = True
        elif ch == "[":
            in_class = True
            out.append(ch)
        elif ch == "]":
            in_class = False
            out.append(ch)
        elif ch == "." and not in_class:
            out.append(r"[^\n\r]")
        else:
            out.append(ch)
    return "".join(out)


@functools.lru_cache(maxsize=1)
def _environment():
    from iregexp_check import check
    from jsonpath_rfc9535 import JSONPathEnvironment
    from jsonpath_rfc9535.function_extensions import ExpressionType, FilterFunction

    class _Re2Function(FilterFunction):
        arg_types = [ExpressionType.VALUE, ExpressionType.VALUE]
        return_type = ExpressionType.LOGICAL
        full = False

        def __call__(self, string: object, pattern: object) -> bool:
            if not isinstance(string, str) or not isinstance(pattern, str):
                return False
            if len(pattern) > MAX_REGEX_LENGTH or not check(pattern):
                return False
            try:
                program = compile_regex(_iregexp_to_re2(pattern))
                found = program.fullmatch(string) if self.full else program.search(string)
            except (ValueError, UnicodeEncodeError):
                return False
            return found is not None

    class _Match(_Re2Function):
        full = True

    class _Env(JSONPathEnvironment):
        max_recursion_depth = 64

        def setup_function_extensions(self) -> None:
            super().setup_function_extensions()
            self.function_extensions["match"] = _Match()
            self.function_extensions["search"] = _Re2Function()

    return _Env()


def compile_jsonpath(query: str):
    """The compiled RFC 9535 query; raises ValueError with the parser's reason."""
    from jsonpath_rfc9535 import JSONPathError

    try:
        return _environment().compile(query)
    except JSONPathError as exc:
        raise ValueError(f"not a valid RFC 9535 JSONPath query: {exc}") from exc


def _scalars(value: Any):
    if isinstance(value, list):
        for item in value:
            yield from _scalars(item)
    elif not isinstance(value, dict):
        yield value


class JsonPath:
    """Extension: an RFC 9535 query on the field's value, optionally with conditions.

    Unlike value matchers it sees the whole value at the field (objects and
    arrays included), so it is applied to *nodes*, not to crushed scalars.
    """

    __slots__ = ("query_text", "query", "conditions")
    op = "jsonpath"

    def __init__(self, query_text: str, conditions: tuple[Matcher, ...] = ()) -> None:
        self.query_text = query_text
        self.query = compile_jsonpath(query_text)
        self.conditions = conditions

    def test_node(self, node: Any) -> bool:
        from jsonpath_rfc9535 import JSONPathError

        try:
            selected = self.query.finditer(node)
            if not self.conditions:
                return next(iter(selected), None) is not None
            return any(condition.test(scalar)
                       for found in selected
                       for scalar in _scalars(found.value)
                       for condition in self.conditions)
        except JSONPathError:  # e.g. recursion limit on a pathological document
            return False

    def __repr__(self) -> str:
        return f"JsonPath({self.query_text!r}, {self.conditions!r})"
