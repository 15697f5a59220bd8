"""Our extensions: ``regex`` (RE2, linear time) and ``jsonpath`` (RFC 9535)."""
from __future__ import annotations

import time

import pytest

from chalicelib.domain.patterns import Router, validate_pattern
from chalicelib.errors import ValidationFailed

ORDER = {"type": "order.created", "data": {"total": 120, "items": [
    {"sku": "A-1", "qty": 2, "tags": ["gift"]}, {"sku": "B-7", "qty": 30, "tags": []}]}}


# -- regex ----------------------------------------------------------------------

@pytest.mark.parametrize("expression, value, expected", [
    ("order", "new order placed", True),          # search: anywhere in the value
    ("^order", "new order placed", False), ("^o.*d$", "order.created", True),
    ("[0-9]{3}-[0-9]{4}", "call 555-1234", True), ("(?i)ORDER", "order", True),
    ("x", 5, False), ("null", None, False), ("", "", True),
])
def test_regex_searches_string_values(verdict, expression, value, expected):
    assert verdict({"v": [{"regex": expression}]}, {"v": value}) is expected


def test_regex_cannot_stall_matching():
    # (a+)+$ backtracks exponentially in backtracking engines on "aaa...a!"; RE2 answers in
    # linear time.  A safety property, not a speed target: the bound is deliberately generous.
    router = Router()
    router.add("redos", {"v": [{"regex": "(a+)+$"}, {"regex": "^(a|aa)+$"}]})
    router.add("tail", {"v": [{"regex": "(a+)+!$"}]})
    started = time.perf_counter()
    assert router.match({"v": "a" * 10_000 + "!"}) == {"tail"}
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("expression", ["(a)\\1", "(?=a)", "(?<=a)b", "[", "x" * 257])
def test_regex_outside_re2_or_too_long_is_refused(expression):
    with pytest.raises(ValidationFailed) as caught:
        validate_pattern({"v": [{"regex": expression}]})
    assert caught.value.extra["errors"][0]["field"] == "v[0].regex"


def test_regex_operand_must_be_a_string():
    with pytest.raises(ValidationFailed):
        validate_pattern({"v": [{"regex": ["a"]}]})


# -- jsonpath -------------------------------------------------------------------

def test_jsonpath_matches_when_the_query_selects_a_node(verdict):
    assert verdict({"data": [{"jsonpath": "$.items[?@.qty > 10]"}]}, ORDER)
    assert not verdict({"data": [{"jsonpath": "$.items[?@.qty > 100]"}]}, ORDER)


def test_jsonpath_match_conditions_apply_to_the_selected_values(verdict):
    assert verdict({"data": [{"jsonpath": "$.items[*].sku", "match": [{"prefix": "B-"}]}]}, ORDER)
    assert not verdict({"data": [{"jsonpath": "$.items[?@.qty < 10].sku",
                                  "match": [{"prefix": "B-"}]}]}, ORDER)
    assert verdict({"data": [{"jsonpath": "$..qty", "match": [{"numeric": [">=", 30]}]}]}, ORDER)


def test_jsonpath_match_crushes_selected_arrays(verdict):
    assert verdict({"data": [{"jsonpath": "$.items[0].tags", "match": ["gift"]}]}, ORDER)


def test_jsonpath_sees_the_whole_value_at_its_field_even_an_array(verdict):
    assert verdict({"data": {"items": [{"jsonpath": "$[1].sku", "match": ["B-7"]}]}}, ORDER)
    assert verdict({"data": {"items": [{"jsonpath": "$[?length(@.tags) == 0]"}]}}, ORDER)


def test_jsonpath_combines_with_other_conditions_and_alternatives(verdict):
    pattern = {"type": ["order.created"],
               "data": [{"jsonpath": "$.items[?@.sku == 'Z-9']"}, {"jsonpath": "$.coupon"}]}
    assert not verdict(pattern, ORDER)
    assert verdict(pattern, {**ORDER, "data": {**ORDER["data"], "coupon": "X"}})
    assert not verdict(pattern, {**ORDER, "type": "order.paid",
                                 "data": {**ORDER["data"], "coupon": "X"}})


def test_jsonpath_match_and_search_functions_run_on_re2(verdict):
    assert verdict({"data": [{"jsonpath": "$.items[?match(@.sku, 'A-.')]"}]}, ORDER)
    assert not verdict({"data": [{"jsonpath": "$.items[?match(@.sku, 'A')]"}]}, ORDER)
    assert verdict({"data": [{"jsonpath": "$.items[?search(@.sku, '7')]"}]}, ORDER)
    started = time.perf_counter()
    assert not verdict({"data": [{"jsonpath": "$[?match(@, '(a+)+')]"}]},
                       {"data": ["a" * 10_000 + "!"]})
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("operator, field", [
    ({"jsonpath": "items"}, "v[0].jsonpath"), ({"jsonpath": "$["}, "v[0].jsonpath"),
    ({"jsonpath": 1}, "v[0].jsonpath"), ({"jsonpath": "$." + "a" * 300}, "v[0].jsonpath"),
    ({"jsonpath": "$.a", "match": []}, "v[0].match"),
    ({"jsonpath": "$.a", "match": "x"}, "v[0].match"),
    ({"jsonpath": "$.a", "match": [{"exists": True}]}, "v[0].match[0].exists"),
    ({"jsonpath": "$.a", "match": [{"jsonpath": "$"}]}, "v[0].match[0].jsonpath"),
    ({"jsonpath": "$.a", "other": 1}, "v[0].other"),
    ({"jsonpath": "$[?nope(@)]"}, "v[0].jsonpath"),
])
def test_invalid_jsonpath_expressions_are_refused(operator, field):
    with pytest.raises(ValidationFailed) as caught:
        validate_pattern({"v": [operator]})
    assert caught.value.extra["errors"][0]["field"] == field
