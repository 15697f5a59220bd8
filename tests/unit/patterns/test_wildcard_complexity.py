"""Wildcard complexity is event-ruler's figure, and the limit refuses what EventBridge refuses.

The figures are the ones aws/event-ruler's MachineComplexityEvaluatorTest
states, each with the worst-case input its comment names: "the number of
wildcard rule prefixes matching a theoretical worst-case input".
"""
from __future__ import annotations

import pytest

from chalicelib.domain.patterns import validate_pattern
from chalicelib.domain.patterns.wildcard import MAX_COMPLEXITY, complexity
from chalicelib.errors import ValidationFailed

UNCAPPED = 10 ** 6
TOO_COMPLEX = "rule is too complex"

EVENT_RULER_FIGURES = [
    (["*"], 1), (["abc"], 1), (["*ab"], 2), (["*aa"], 3), (["a*b"], 2), (["aa*"], 2),
    (["a*bc"], 2), (["a*bb"], 3), (["a*bcb"], 3), (["a*bbb"], 4), (["*ab*ad"], 4),
    (["*ab*d"], 3), (["*aba*"], 4), (["a*b*bb"], 5), (["a*b*cb"], 4), (["a*b*cd"], 3),
    (["a*b*b"], 4), (["a*bb*"], 4), (["ab*b*"], 3), (["*ab*b*b*"], 7), (["*a*a*a*"], 7),
    (["*a*a*a*a*a*a*a*a*"], 17), (["a*a*a*a*a*a*"], 11),
    (["*", "ab*c"], 3), (["ab*c", "x*xx"], 3), (["*abc", "*abcde"], 4),
    (["a*bcd", "ab*cd"], 4), (["a*bc", "a*bcde"], 4), (["a*aaa", "aa*aa"], 7),
    (["a*bc", "abc*d"], 4), (["a*aaa", "aaa*a"], 6), (["a*aax", "aaa*x"], 5),
    (["a*bc", "abc*"], 4), (["a*aa", "aaa*"], 5), (["abc*", "abcde*"], 3),
    (["ab*cd", "ab*wx", "ab*yz"], 6), (["ab*c", "ab*c"], 2),
    (["F*eatureFeature", "Fe*atureFeature", "Fea*tureFeature"], 10),
]


@pytest.mark.parametrize("patterns, figure", EVENT_RULER_FIGURES,
                         ids=["+".join(p) for p, _ in EVENT_RULER_FIGURES])
def test_complexity_is_the_figure_event_ruler_states(patterns, figure):
    assert complexity(patterns, cap=UNCAPPED) == figure
    assert complexity(list(reversed(patterns)), cap=UNCAPPED) == figure


def test_the_quamina_exploder_scores_what_event_ruler_says():
    exploder = ["aahed*", "aal*ii", "aargh*", "aarti*", "a*baca", "*abaci", "a*back", "ab*acs",
                "abaf*t", "*abaka", "ab*amp", "a*band", "*abase", "abash*", "abas*k", "ab*ate",
                "aba*ya", "abbas*", "abbed*", "ab*bes", "abbey*", "*abbot", "ab*cee", "abea*m",
                "abe*ar", "a*bele", "a*bers", "abet*s", "*abhor", "abi*de", "a*bies", "*abled"]
    assert complexity(exploder, cap=UNCAPPED) == 45


def wildcards(*values: str) -> dict:
    return {"v": [{"wildcard": value} for value in values]}


def refusal(pattern) -> dict:
    with pytest.raises(ValidationFailed) as caught:
        validate_pattern(pattern)
    assert caught.value.code == "invalid-pattern"
    (only,) = caught.value.extra["errors"]
    return only


@pytest.mark.parametrize("wildcard", [
    "*/home/user/data/2024/01/logs/app/service/file.log",
    "*/a/a/a/a/a/a/a/a",                  # 9
    "*aaaaaaaa",                          # 9
    "x*aaaaaaaaa",                        # 10, the limit
    "*abababababab",
    "*ab*ab*ab*",
    "*/logs/2024/logs/2024/logs/2024/logs/x.log",
    "*" + "".join(f"/dir{i}" for i in range(300)),   # long, but few prefixes at a time
    "*/données/été/*.txt",
])
def test_a_single_wildcard_before_a_long_literal_is_accepted_as_on_aws(wildcard):
    validate_pattern(wildcards(wildcard))


@pytest.mark.parametrize("pattern", [
    wildcards("*:*:*:*:*:event-bus/*"),                      # AWS's documented refusal: 11
    wildcards("*a*a*a*a*a*a*a*a*"),                          # 17
    wildcards("*aaaaaaaaaa"),                                # 11
    wildcards("*a*b*c*d*e*f*g*h*i*j*k*"),
    wildcards("*" + "/data" * 10),                           # each repetition counts: 11
    # many wildcard values in one field: four refused on AWS, two accepted (below)
    wildcards("*/datasync/*.bif", "*/datasync/*.tif", "*/datasync/*.tiff",
              "*/datasync/*.svs"),
    {"v": [{"anything-but": {"wildcard": ["*a*b*", "*c*d*", "*e*f*", "*g*h*"]}}]},
])
def test_a_too_complex_wildcard_is_refused_with_the_aws_message(pattern):
    assert TOO_COMPLEX in refusal(pattern)["message"]


def test_the_refusal_names_the_field():
    assert refusal({"detail": {"arn": [{"wildcard": "*:*:*:*:*:event-bus/*"}]}})["field"] \
        == "detail.arn"


def test_a_few_wildcard_values_in_one_field_are_accepted():
    validate_pattern(wildcards("*/datasync/*.bif", "*/datasync/*.tif"))          # 8
    validate_pattern(wildcards("*.bif", "*.tiff", "*.tif", "*.svs"))              # 8


def test_or_alternatives_reaching_the_same_field_share_its_machine():
    two = [{"wildcard": "*/datasync/*.bif"}, {"wildcard": "*/datasync/*.tif"}]
    other_two = [{"wildcard": "*/datasync/*.tiff"}, {"wildcard": "*/datasync/*.svs"}]
    validate_pattern({"v": two})
    refusal({"$or": [{"v": two}, {"v": other_two}]})
    refusal({"$or": [{"a": ["1"], "v": two}, {"a": ["1"], "v": other_two}]})
    # different values of an earlier field lead to different machines
    validate_pattern({"$or": [{"a": ["1"], "v": two}, {"a": ["2"], "v": other_two}]})
    # a later field does not
    refusal({"$or": [{"v": two, "z": ["1"]}, {"v": other_two, "z": ["2"]}]})


def test_a_hostile_wildcard_stops_being_counted_once_over_the_limit():
    assert complexity(["F*e*a*t*u*r*e*" * 250]) > MAX_COMPLEXITY
    assert complexity(["*" + "ab" * 2000]) > MAX_COMPLEXITY
    assert complexity(["*" + "".join(f"/d{i}" for i in range(800))]) <= MAX_COMPLEXITY
