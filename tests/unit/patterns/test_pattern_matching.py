"""EventBridge matching semantics beyond the conformance files (both evaluators)."""
from __future__ import annotations

import pytest

CLOUDEVENT = {"specversion": "1.0", "id": "e1", "source": "/orders", "type": "order.created",
              "subject": "o-42", "time": "2025-01-02T03:04:05Z", "tenant": "acme",
              "data": {"total": 120.5, "currency": "EUR", "items": [
                  {"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 30}]}}


# -- exact values, types and arrays -------------------------------------------

def test_cloudevent_attributes_extensions_and_data_are_all_fields(verdict):
    pattern = {"type": ["order.created"], "tenant": ["acme"], "data": {"currency": ["EUR"]}}
    assert verdict(pattern, CLOUDEVENT)


def test_eventbridge_style_events_match_the_same_way(verdict):
    event = {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification",
             "detail": {"state": "running"}}
    assert verdict({"source": ["aws.ec2"], "detail": {"state": ["running", "pending"]}}, event)


def test_field_names_are_case_sensitive(verdict):
    assert not verdict({"Type": ["order.created"]}, CLOUDEVENT)


@pytest.mark.parametrize("value, pattern_value, expected", [
    (300, 300, True), (300.0, 300, True), (3.0e2, 300, True), (300, 300.0, True),
    ("300", 300, False), (300, "300", False), (True, 1, False), (1, True, False),
    (False, 0, False), (None, None, True), ("null", None, False), (None, "null", False),
    (True, True, True), ("true", True, False), (0.1, 0.1, True),
    (123456789012, 123456789012, True),      # beyond ±5e9: still equal by value
])
def test_exact_values_compare_by_json_type_and_numbers_by_value(verdict, value, pattern_value,
                                                               expected):
    assert verdict({"v": [pattern_value]}, {"v": value}) is expected


def test_empty_string_matches_only_the_empty_string(verdict):
    assert verdict({"v": [""]}, {"v": ""})
    assert not verdict({"v": [""]}, {"v": None})


def test_an_array_field_matches_when_any_element_matches(verdict):
    assert verdict({"resources": ["b", "z"]}, {"resources": ["a", "b"]})
    assert not verdict({"resources": ["z"]}, {"resources": ["a", "b"]})


def test_nested_arrays_are_crushed(verdict):
    assert verdict({"v": ["deep"]}, {"v": [["x", ["deep"]]]})


def test_an_empty_array_holds_no_value(verdict):
    assert not verdict({"resources": [None]}, {"resources": []})
    assert not verdict({"resources": [{"exists": True}]}, {"resources": []})
    assert verdict({"resources": [{"exists": False}]}, {"resources": []})


def test_objects_are_never_values(verdict):
    assert not verdict({"detail": [{"exists": True}]}, {"detail": {"a": 1}})
    assert not verdict({"detail": [{"anything-but": "x"}]}, {"detail": {"a": 1}})


def test_an_ip_address_equals_other_spellings_of_itself(verdict):
    assert verdict({"ip": ["2001:db8::1"]}, {"ip": "2001:0db8:0000:0000:0000:0000:0000:0001"})
    assert verdict({"ip": ["10.0.0.1"]}, {"ip": "10.0.0.1"})
    assert not verdict({"ip": ["10.0.0.1"]}, {"ip": "10.0.0.2"})


# -- dotted keys ----------------------------------------------------------------

@pytest.mark.parametrize("pattern", [{"detail": {"state": {"status": ["running"]}}},
                                     {"detail": {"state.status": ["running"]}},
                                     {"detail.state.status": ["running"]}])
@pytest.mark.parametrize("event", [{"detail": {"state": {"status": "running"}}},
                                   {"detail": {"state.status": "running"}},
                                   {"detail.state": {"status": "running"}}])
def test_dotted_keys_and_nested_keys_are_the_same_field(verdict, pattern, event):
    assert verdict(pattern, event)


def test_a_later_key_for_the_same_path_replaces_the_earlier_one(verdict):
    pattern = {"a.b": ["one"], "a": {"b": ["two"]}}
    assert verdict(pattern, {"a": {"b": "two"}})
    assert not verdict(pattern, {"a": {"b": "one"}})


# -- prefix, suffix, equals-ignore-case, wildcard -------------------------------

@pytest.mark.parametrize("operator, value, expected", [
    ({"prefix": "ord"}, "order.created", True), ({"prefix": "ord"}, "Order", False),
    ({"prefix": ""}, "anything", True), ({"prefix": ""}, 12, False), ({"prefix": "1"}, 12, False),
    ({"prefix": {"equals-ignore-case": "ORD"}}, "order", True),
    ({"suffix": ".png"}, "a.png", True), ({"suffix": ".png"}, "a.PNG", False),
    ({"suffix": {"equals-ignore-case": ".png"}}, "a.PNG", True),
    ({"equals-ignore-case": "alice"}, "ALICE", True),
    ({"equals-ignore-case": "alice"}, "alic", False),
    ({"equals-ignore-case": "true"}, True, False),
    ({"wildcard": "*.png"}, "dir/a.png", True), ({"wildcard": "a*b*c"}, "abc", True),
    ({"wildcard": "a*b*c"}, "acb", False), ({"wildcard": "*"}, "", True),
    ({"wildcard": "*"}, 5, False), ({"wildcard": "/Users/*/doc.txt"}, "/Users/x/y/doc.txt", True),
    ({"wildcard": "a\\*b"}, "a*b", True), ({"wildcard": "a\\*b"}, "axb", False),
    ({"wildcard": "a\\\\b"}, "a\\b", True), ({"wildcard": "a\\**"}, "a*bc", True),
    ({"wildcard": "a\\**"}, "abc", False), ({"wildcard": "x*x"}, "x", False),
])
def test_string_operators_only_match_strings(verdict, operator, value, expected):
    assert verdict({"v": [operator]}, {"v": value}) is expected


# -- anything-but ---------------------------------------------------------------

@pytest.mark.parametrize("operand, value, expected", [
    ("init", "running", True), ("init", "init", False), ("init", None, True), ("init", 5, True),
    ("123", 123, True), (123, "123", True), (123, 123.0, False), (0, 789, True),
    (["a", "b"], "b", False), (["a", "b"], "c", True), ([100, 200], 200, False),
    ([100, 200], 150, True), ([100, 200], True, True), (100, 1e20, True),
    ({"prefix": "init"}, "initializing", False), ({"prefix": "init"}, "post-init", True),
    ({"prefix": ["a", "b"]}, "bee", False), ({"prefix": "1"}, 12, True),
    ({"suffix": ".txt"}, "a.txt", False), ({"suffix": [".txt", ".jpg"]}, "a.png", True),
    ({"equals-ignore-case": "Init"}, "INIT", False),
    ({"equals-ignore-case": ["a", "b"]}, "C", True),
    ({"wildcard": "*/lib/*"}, "/usr/lib/x", False), ({"wildcard": "*/lib/*"}, "/usr/bin", True),
    ({"wildcard": ["*/lib/*", "*.so"]}, "a.so", False), ({"wildcard": "*"}, None, True),
])
def test_anything_but_accepts_every_present_value_it_does_not_exclude(verdict, operand, value,
                                                                      expected):
    assert verdict({"v": [{"anything-but": operand}]}, {"v": value}) is expected


def test_anything_but_never_matches_a_missing_field(verdict):
    assert not verdict({"v": [{"anything-but": "x"}]}, {"w": "y"})


def test_anything_but_on_an_array_matches_when_some_element_is_not_excluded(verdict):
    assert verdict({"price": [{"anything-but": [100, 500]}]}, {"price": [100, 50]})
    assert not verdict({"price": [{"anything-but": [100, 500]}]}, {"price": [100, 500]})


# -- numeric --------------------------------------------------------------------

@pytest.mark.parametrize("expression, value, expected", [
    ([">", 0], 0, False), ([">=", 0], 0, True), (["<", 0], -0.000001, True),
    (["<=", 5], 5.0, True), (["<", 5], 5, False), (["=", 3.018e2], 301.8, True),
    (["=", 301.8], 301.80, True), ([">", 0, "<=", 5], 5, True), ([">", 0, "<=", 5], 0, False),
    ([">=", 1.5, "<", 2.5], 2.5, False), ([">=", 1.5, "<", 2.5], 1.5, True),
    ([">", 0], "5", False), ([">", 0], True, False), ([">", 0], None, False),
    ([">", 0], [1, -1], True), ([">=", -5e9], -5e9, True), (["<=", 5e9], 5e9, True),
    ([">", 0], 5e9 + 1, False), (["<", 0], -5e9 - 1, False),
    ([">", 0], 0.0000001, False),            # more than 6 decimals: not comparable
    ([">", 0], 0.000001, True),
])
def test_numeric_compares_only_json_numbers_within_range(verdict, expression, value, expected):
    assert verdict({"v": [{"numeric": expression}]}, {"v": value}) is expected


# -- cidr -----------------------------------------------------------------------

@pytest.mark.parametrize("network, value, expected", [
    ("10.0.0.0/24", "10.0.0.255", True), ("10.0.0.0/24", "10.0.1.0", False),
    ("10.0.0.0/24", "10.0.0.256", False), ("10.0.0.7/24", "10.0.0.1", True),
    ("0.0.0.0/0", "192.168.1.1", True), ("10.0.0.1/32", "10.0.0.1", True),
    ("2001:db8::/32", "2001:0db8:ffff::1", True), ("2001:db8::/32", "2001:db9::1", False),
    ("2001:db8::/32", "10.0.0.1", False), ("10.0.0.0/8", "2001:db8::1", False),
    ("10.0.0.0/8", 10, False), ("10.0.0.0/8", "not an ip", False),
])
def test_cidr_matches_addresses_of_the_same_family_inside_the_network(verdict, network, value,
                                                                      expected):
    assert verdict({"ip": [{"cidr": network}]}, {"ip": value}) is expected


# -- exists ---------------------------------------------------------------------

def test_exists_true_needs_a_leaf_value_and_null_is_one(verdict):
    assert verdict({"v": [{"exists": True}]}, {"v": None})
    assert not verdict({"v": [{"exists": True}]}, {"w": 1})


def test_exists_false_matches_absent_fields_and_intermediate_objects(verdict):
    assert verdict({"detail": {"c-count": [{"exists": False}]}}, {"detail": {"state": "x"}})
    assert verdict({"detail": {"c-count": [{"exists": False}]}},
                   {"detail": {"c-count": {"c1": 100}}})
    assert not verdict({"detail": {"c-count": [{"exists": False}]}}, {"detail": {"c-count": 0}})


def test_exists_false_alone_matches_an_empty_event(verdict):
    assert verdict({"v": [{"exists": False}]}, {})


def test_alternatives_in_one_leaf_are_ored_with_exists(verdict):
    pattern = {"v": [{"exists": False}, "x"]}
    assert verdict(pattern, {}) and verdict(pattern, {"v": "x"})
    assert not verdict(pattern, {"v": "y"})


# -- $or ------------------------------------------------------------------------

def test_or_matches_when_any_alternative_matches(verdict):
    pattern = {"source": ["s"], "$or": [{"a": ["1"]}, {"b": {"c": ["2"]}}]}
    assert verdict(pattern, {"source": "s", "b": {"c": "2"}})
    assert not verdict(pattern, {"source": "t", "b": {"c": "2"}})
    assert not verdict(pattern, {"source": "s", "a": "2"})


def test_nested_and_parallel_ors_combine(verdict):
    pattern = {"$or": [{"a": ["1"]}, {"b": ["2"], "$or": [{"c": ["3"]}, {"d": ["4"]}]}],
               "x": {"$or": [{"y": ["5"]}, {"z": ["6"]}]}}
    assert verdict(pattern, {"b": "2", "d": "4", "x": {"z": "6"}})
    assert not verdict(pattern, {"b": "2", "x": {"z": "6"}})
    assert verdict(pattern, {"a": "1", "x": {"y": "5"}})


# -- array consistency ----------------------------------------------------------

EMPLOYEES = {"employees": [{"firstName": "John", "lastName": "Doe"},
                           {"firstName": "Anna", "lastName": "Smith"},
                           {"firstName": "Peter", "lastName": "Jones"}]}


def test_fields_from_one_array_element_match_together(verdict):
    assert verdict({"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}, EMPLOYEES)


def test_fields_from_different_elements_of_one_array_do_not_match_together(verdict):
    assert not verdict({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}, EMPLOYEES)


def test_fields_from_different_arrays_combine_freely(verdict):
    event = {"a": [{"x": 1}, {"x": 2}], "b": [{"y": 1}, {"y": 2}]}
    assert verdict({"a": {"x": [2]}, "b": {"y": [1]}}, event)


def test_exists_false_is_judged_in_the_element_the_other_conditions_chose(verdict):
    event = {"a": [{"b": 1, "c": 2}, {"b": 3}]}
    assert verdict({"a": {"b": [3], "c": [{"exists": False}]}}, event)
    assert not verdict({"a": {"b": [1], "c": [{"exists": False}]}}, event)


def test_a_value_outside_the_array_does_not_hide_an_element_without_the_field(verdict):
    event = {"r.b": "x", "r": [{"b": "x", "c": 1}, {"b": "x"}]}
    assert verdict({"r": {"b": ["x"], "c": [{"exists": False}]}}, event)


def test_array_consistency_holds_in_nested_arrays(verdict):
    event = {"o": [{"i": [{"k": "a", "v": 1}, {"k": "b", "v": 2}]}]}
    assert verdict({"o": {"i": {"k": ["b"], "v": [2]}}}, event)
    assert not verdict({"o": {"i": {"k": ["b"], "v": [1]}}}, event)
