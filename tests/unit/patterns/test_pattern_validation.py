"""Invalid patterns are refused with a 400 ``invalid-pattern`` naming the offending spot."""
from __future__ import annotations

import pytest

from chalicelib.domain.patterns import CompiledPattern, validate_pattern
from chalicelib.errors import ValidationFailed


def refusal(pattern) -> dict:
    with pytest.raises(ValidationFailed) as caught:
        validate_pattern(pattern)
    error = caught.value
    assert error.status == 400 and error.code == "invalid-pattern"
    assert error.to_problem()["code"] == "invalid-pattern"
    (only,) = error.extra["errors"]
    return only


@pytest.mark.parametrize("pattern, field", [
    ([], ""), ("not json", ""), ({}, ""), ({"a": {}}, "a"), ({"a": []}, "a"),
    ({"a": "x"}, "a"), ({"a": 1}, "a"), ({"a": None}, "a"), ({"a": [["x"]]}, "a[0]"),
    ({"a": [{}]}, "a[0]"), ({"a": [{"prefix": "x", "suffix": "y"}]}, "a[0]"),
    ({"a": [{"unknown": "x"}]}, "a[0].unknown"), ({"a": [float("nan")]}, "a[0]"),
    ({"a": [{1, 2}]}, "a[0]"),
])
def test_structure_errors_name_their_location(pattern, field):
    assert refusal(pattern)["field"] == field


@pytest.mark.parametrize("operator, field", [
    ({"prefix": 1}, "v[0].prefix"), ({"prefix": ["x"]}, "v[0].prefix"),
    ({"prefix": {"equals-ignore-case": 1}}, "v[0].prefix.equals-ignore-case"),
    ({"prefix": {"suffix": "x"}}, "v[0].prefix"), ({"suffix": None}, "v[0].suffix"),
    ({"equals-ignore-case": ["x"]}, "v[0].equals-ignore-case"),
    ({"exists": "true"}, "v[0].exists"), ({"exists": 1}, "v[0].exists"),
    ({"cidr": "10.0.0.1"}, "v[0].cidr"), ({"cidr": "10.0.0.0/33"}, "v[0].cidr"),
    ({"cidr": "2001:db8::/129"}, "v[0].cidr"), ({"cidr": "bad/8"}, "v[0].cidr"),
    ({"cidr": 10}, "v[0].cidr"),
])
def test_operator_operands_are_type_checked(operator, field):
    assert refusal({"v": [operator]})["field"] == field


@pytest.mark.parametrize("operand, field", [
    (None, "v[0].anything-but"), (True, "v[0].anything-but"), ([], "v[0].anything-but"),
    (["a", 1], "v[0].anything-but"), ([None], "v[0].anything-but"),
    ({"prefix": ""}, "v[0].anything-but.prefix"),
    ({"suffix": ["x", ""]}, "v[0].anything-but.suffix"),
    ({"prefix": [1]}, "v[0].anything-but.prefix[0]"),
    ({"suffix": {"equals-ignore-case": "x"}}, "v[0].anything-but.suffix"),
    ({"numeric": [">", 1]}, "v[0].anything-but.numeric"),
    ({"prefix": "a", "suffix": "b"}, "v[0].anything-but"),
    ({"wildcard": "a**"}, "v[0].anything-but.wildcard"), (5e9 + 1, "v[0].anything-but"),
    ([1, 0.0000001], "v[0].anything-but[1]"),
])
def test_anything_but_operands_follow_eventbridge_rules(operand, field):
    assert refusal({"v": [{"anything-but": operand}]})["field"] == field


@pytest.mark.parametrize("expression, field", [
    (10, "v[0].numeric"), ([], "v[0].numeric"), ([">"], "v[0].numeric[1]"),
    (["!=", 1], "v[0].numeric[0]"), ([">", "1"], "v[0].numeric[1]"),
    ([">", True], "v[0].numeric[1]"), ([">", 0, ">", 0], "v[0].numeric[2]"),
    ([">", 0, "<"], "v[0].numeric[3]"), (["<", 10, ">", 0], "v[0].numeric"),
    (["=", 1, "<", 2], "v[0].numeric"), ([">", 5, "<", 5], "v[0].numeric"),
    ([">", 6, "<", 5], "v[0].numeric"), ([">", 0, "<", 5, 6], "v[0].numeric"),
    (["=", 5_000_000_001], "v[0].numeric[1]"), (["<", -5e9], "v[0].numeric"),
    ([">", 5e9], "v[0].numeric"), (["=", 1.0000001], "v[0].numeric[1]"),
])
def test_numeric_syntax_and_limits(expression, field):
    assert refusal({"v": [{"numeric": expression}]})["field"] == field


def test_numeric_accepts_the_edges_of_its_range_and_six_decimals():
    validate_pattern({"v": [{"numeric": [">=", -5e9, "<=", 5e9]}]})
    validate_pattern({"v": [{"numeric": ["=", 1.000001]}, {"numeric": ["=", 1.10000000]}]})


@pytest.mark.parametrize("wildcard, message", [
    ("a**b", "consecutive"), ("a\\b", "escape"), ("trailing\\", "escape"),
    ("*:*:*:*:*:event-bus/*", "too complex"),
])
def test_wildcard_syntax_and_complexity(wildcard, message):
    assert message in refusal({"v": [{"wildcard": wildcard}]})["message"]


def test_wildcards_of_one_field_count_together_towards_complexity():
    # each scores 4 alone; three score 10 together (the limit), four 13
    validate_pattern({"v": [{"wildcard": "*a*b*"}]})
    validate_pattern({"v": [{"wildcard": "*a*b*"}, {"wildcard": "*c*d*"}, {"wildcard": "*e*f*"}]})
    refusal({"v": [{"wildcard": "*a*b*"}, {"wildcard": "*c*d*"}, {"wildcard": "*e*f*"},
                   {"wildcard": "*g*h*"}]})


def test_documented_wildcards_are_accepted():
    for wildcard in ("arn:aws:events:us-east-1:*:event-bus/*", "*Title*", "*.png",
                     "/Users/*/doc.txt", "Simple*Service", "a\\*b", "*"):
        validate_pattern({"v": [{"wildcard": wildcard}]})


@pytest.mark.parametrize("pattern, field", [
    ({"$or": [{"a": ["x"]}]}, "$or"), ({"$or": {"a": ["x"]}}, "$or"),
    ({"$or": [{"a": ["x"]}, "b"]}, "$or[1]"), ({"$or": [{"a": ["x"]}, {}]}, "$or[1]"),
    ({"$or": [{"a": ["x"]}, {"numeric": [1]}]}, "$or[1].numeric"),
    ({"d": {"$or": [{"a": ["x"]}, {"b": {"prefix": ["y"]}}]}}, "d.$or[1].b.prefix"),
])
def test_or_needs_two_or_more_objects_without_reserved_field_names(pattern, field):
    assert refusal(pattern)["field"] == field


def test_reserved_names_are_ordinary_fields_outside_or():
    validate_pattern({"prefix": ["x"], "numeric": {"exists": [1]}})


def test_or_combinations_are_limited():
    alternatives = [{f"k{i}": ["x"]} for i in range(17)]   # 17 x 17 > 256
    pattern = {"$or": alternatives, "d": {"$or": alternatives}}
    assert "combinations" in refusal(pattern)["message"]


def test_pattern_size_depth_and_value_count_are_limited():
    assert "longer" in refusal({"v": ["x" * 5000]})["message"]
    deep: dict = {"v": ["x"]}
    for _ in range(20):
        deep = {"k": deep}
    assert "deeper" in refusal(deep)["message"]
    assert "too many values" in refusal({f"k{i}": list(range(60)) for i in range(10)})["message"]


def test_problem_body_carries_the_field_and_the_message():
    with pytest.raises(ValidationFailed) as caught:
        validate_pattern({"detail": {"c-count": [{"numeric": [">", 0, "<"]}]}})
    problem = caught.value.to_problem()
    assert problem["status"] == 400
    assert problem["errors"][0]["field"] == "detail.c-count[0].numeric[3]"
    assert "detail.c-count[0].numeric[3]" in problem["detail"]


def test_json_text_is_accepted_and_compiled_patterns_pass_through():
    compiled = validate_pattern('{"type": ["a"], "$or": [{"x": [1]}, {"y": [2]}]}')
    assert isinstance(compiled, CompiledPattern)
    assert validate_pattern(compiled) is compiled
    assert len(compiled.branches) == 2
    assert compiled.leaf_paths == {"type", "x", "y"}
