"""``explain`` names the first condition that failed, and why."""
from __future__ import annotations

from chalicelib.domain.patterns import explain

EVENT = {"type": "order.created", "source": "/shop", "data": {"total": 80, "lines": []},
         "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 9}]}


def test_a_match_has_nothing_to_explain():
    assert explain({"type": ["order.created"]}, EVENT) is None


def test_the_first_failing_condition_in_pattern_order_is_reported():
    report = explain({"type": ["order.created"], "source": ["/other"],
                      "data": {"total": [{"numeric": [">", 100]}]}}, EVENT)
    assert report == {"path": "source", "condition": ["/other"],
                      "reason": 'no value satisfies the condition (value "/shop")'}


def test_a_missing_field_says_so():
    report = explain({"subject": [{"prefix": "o-"}]}, EVENT)
    assert report["path"] == "subject" and report["reason"] == "the field is missing"


def test_an_object_or_empty_array_has_no_value_to_compare():
    assert "no value" in explain({"data": [{"exists": True}]}, EVENT)["reason"]
    assert "no value" in explain({"data": {"lines": ["x"]}}, EVENT)["reason"]


def test_exists_false_reports_the_value_that_exists():
    report = explain({"data": {"total": [{"exists": False}]}}, EVENT)
    assert report["path"] == "data.total" and report["reason"] == "the field exists (value 80)"


def test_array_inconsistency_is_blamed_on_the_later_condition():
    report = explain({"items": {"sku": ["A"], "qty": [9]}}, EVENT)
    assert report["path"] == "items.qty"
    assert "different element of the same array" in report["reason"]


def test_with_or_the_closest_alternative_is_reported_with_its_branch():
    pattern = {"$or": [{"source": ["/x"]},
                       {"type": ["order.created"], "data": {"total": [{"numeric": ["<", 10]}]}}]}
    report = explain(pattern, EVENT)
    assert report["branch"] == 1 and report["path"] == "data.total"
    assert report["condition"] == [{"numeric": ["<", 10]}]


def test_many_values_are_summarised():
    report = explain({"v": ["z"]}, {"v": list(range(8))})
    assert report["reason"].endswith("and 3 more)")
