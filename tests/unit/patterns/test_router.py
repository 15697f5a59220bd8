"""The router: rule lifecycle, and an index that does not try every rule."""
from __future__ import annotations

import pytest

from chalicelib.domain.patterns import Router, validate_pattern
from chalicelib.errors import ValidationFailed


def router_of(**rules) -> Router:
    router = Router()
    for rule_id, pattern in rules.items():
        router.add(rule_id, pattern)
    return router


def test_match_returns_every_matching_rule_id():
    router = router_of(created={"type": ["order.created"]},
                       orders={"type": [{"prefix": "order."}]},
                       big={"data": {"total": [{"numeric": [">", 100]}]}},
                       paid={"type": ["order.paid"]})
    assert router.match({"type": "order.created", "data": {"total": 120}}) == \
        {"created", "orders", "big"}


def test_adding_an_existing_id_replaces_its_pattern():
    router = router_of(s={"type": ["a"]})
    router.add("s", {"type": ["b"]})
    assert len(router) == 1
    assert router.match({"type": "a"}) == set() and router.match({"type": "b"}) == {"s"}


def test_removed_rules_no_longer_match_and_leave_no_trace():
    router = router_of(a={"type": ["x"], "v": [{"prefix": "p"}]}, b={"type": ["x"]})
    assert router.remove("a") is True and router.remove("a") is False
    assert router.match({"type": "x", "v": "pq"}) == {"b"}
    router.remove("b")
    assert len(router) == 0 and router.stats() == {"rules": 0}
    assert router.match({"type": "x"}) == set()


def test_an_invalid_pattern_leaves_the_router_unchanged():
    router = router_of(s={"type": ["a"]})
    with pytest.raises(ValidationFailed):
        router.add("s", {"type": []})
    assert router.match({"type": "a"}) == {"s"}


def test_a_rule_with_several_or_branches_is_reported_once():
    router = router_of(s={"$or": [{"a": ["1"]}, {"b": ["2"]}]})
    assert router.match({"a": "1", "b": "2"}) == {"s"}


def test_compiled_patterns_can_be_added_directly():
    compiled = validate_pattern({"type": ["a"]})
    router = Router()
    assert router.add(1, compiled) is compiled
    assert router.pattern(1) is compiled and 1 in router


def test_events_must_be_objects():
    with pytest.raises(TypeError):
        router_of(s={"a": ["1"]}).match(["not", "an", "object"])


def test_only_rules_sharing_an_event_value_are_checked():
    router = Router()
    for n in range(1000):
        router.add(n, {"type": [f"type.{n}"], "data": {"n": [{"numeric": [">", 0]}]}})
    assert router.candidate_count({"type": "type.7", "data": {"n": 1}}) == 1
    assert router.match({"type": "type.7", "data": {"n": 1}}) == {7}


def test_the_anchor_avoids_crowded_values():
    router = Router()
    for n in range(200):   # every rule has the same type, but its own customer
        router.add(n, {"type": ["order.created"], "data": {"customer": [f"c{n}"]}})
    assert router.candidate_count({"type": "order.created", "data": {"customer": "c5"}}) <= 2


def test_prefix_and_suffix_rules_are_found_by_key_length():
    router = Router()
    for n in range(300):
        router.add(("p", n), {"subject": [{"prefix": f"tenant-{n}/"}]})
        router.add(("s", n), {"subject": [{"suffix": f".{n}.json"}]})
    assert router.candidate_count({"subject": "tenant-12/files/report.7.json"}) == 2
    assert router.match({"subject": "tenant-12/files/report.7.json"}) == {("p", 12), ("s", 7)}


def test_unkeyable_conditions_are_filed_under_their_field():
    router = router_of(big={"data": {"total": [{"numeric": [">", 100]}]}},
                       missing={"subject": [{"exists": False}]})
    stats = router.stats()
    assert stats["present"] == 1 and stats["always"] == 1
    assert router.candidate_count({"type": "x"}) == 1          # only the exists:false rule
    assert router.match({"type": "x"}) == {"missing"}


def test_numeric_equality_is_found_through_the_exact_index():
    router = router_of(n={"v": [{"numeric": ["=", 300]}]}, e={"v": [300]})
    assert router.stats()["exact"] == 2
    assert router.match({"v": 300.0}) == {"n", "e"}
    assert router.match({"v": True}) == set()
