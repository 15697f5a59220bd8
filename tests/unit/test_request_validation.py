"""A request body with a missing or unknown field says which, and what was probably meant.

Every request schema of ``chalicelib/domain/schemas.py`` is covered: the body
schemas are found by looking, so a new one is covered the day it is added.
"""
from __future__ import annotations

import pytest

from chalicelib.domain import schemas
from chalicelib.domain.validation import MAX_UNKNOWN_LISTED, validate
from chalicelib.errors import ValidationFailed

BODY_SCHEMAS = sorted(name for name, value in vars(schemas).items()
                      if name.islower() and not name.startswith("_") and isinstance(value, dict)
                      and value.get("type") == "object" and "properties" in value)
WITH_REQUIRED = [(name, field) for name in BODY_SCHEMAS
                 for field in getattr(schemas, name).get("required", [])]
CLOSED = [name for name in BODY_SCHEMAS
          if getattr(schemas, name).get("additionalProperties") is False]


def refusal(schema_name: str, body) -> list[dict]:
    with pytest.raises(ValidationFailed) as caught:
        validate(schema_name, body)
    assert caught.value.status == 400 and caught.value.code == "validation-failed"
    return caught.value.extra["errors"]


def test_the_schemas_are_found():
    assert {"event", "topic_create", "subscription_create", "queue_create", "schedule_create",
            "hub_request", "service_create", "ack"} <= set(BODY_SCHEMAS)


def test_a_misspelt_field_names_the_missing_one_and_the_unknown_one():
    assert refusal("event", {"type": "order.created", "dat": {"id": 1}}) == [
        {"field": "data", "message": "missing required field 'data'"},
        {"field": "dat", "message": "unknown field 'dat': did you mean 'data'?"},
    ]


def test_the_detail_says_it_too():
    with pytest.raises(ValidationFailed) as caught:
        validate("event", {"type": "order.created", "dat": 1})
    assert caught.value.detail == ("missing required field 'data'; "
                                   "unknown field 'dat': did you mean 'data'?")


@pytest.mark.parametrize("schema_name, field", WITH_REQUIRED,
                         ids=[f"{n}.{f}" for n, f in WITH_REQUIRED])
def test_every_missing_required_field_is_named(schema_name, field):
    errors = refusal(schema_name, {})
    assert {"field": field, "message": f"missing required field {field!r}"} in errors


@pytest.mark.parametrize("schema_name", CLOSED)
def test_every_unknown_field_is_named(schema_name):
    errors = refusal(schema_name, {"zz-unheard-of": 1})
    assert {"field": "zz-unheard-of", "message": "unknown field 'zz-unheard-of'"} in errors


@pytest.mark.parametrize("schema_name, field", [
    (name, field) for name, field in WITH_REQUIRED if len(field) >= 4])
def test_a_required_field_missing_its_last_letter_is_suggested(schema_name, field):
    typo = field[:-1]
    errors = refusal(schema_name, {typo: 1})
    assert {"field": typo,
            "message": f"unknown field {typo!r}: did you mean {field!r}?"} in errors


@pytest.mark.parametrize("schema_name, body, typo, meant", [
    ("event", {"type": "x", "data": 1, "subjet": "s"}, "subjet", "subject"),
    ("event", {"Type": "x", "data": 1}, "Type", "type"),
    ("topic_create", {"name": "t", "disciplin": "fifo"}, "disciplin", "discipline"),
    ("subscription_create", {"topics": ["t"], "mode": "push", "callbak": "http://h/x"},
     "callbak", "callback"),
    ("queue_create", {"name": "q", "max_delivery": 3}, "max_delivery", "max_deliveries"),
    ("lease", {"max_message": 3}, "max_message", "max_messages"),
    ("extend", {"receipts": ["r"], "visibility_timout": 3}, "visibility_timout",
     "visibility_timeout"),
    ("schedule_patch", {"timezon": "UTC"}, "timezon", "timezone"),
    ("hub_request", {"hub.mode": "subscribe", "hub.topik": "t", "hub.callback": "http://h/x"},
     "hub.topik", "hub.topic"),
    ("service_update", {"descripton": "d"}, "descripton", "description"),
])
def test_an_unknown_field_close_to_a_known_one_is_suggested(schema_name, body, typo, meant):
    errors = refusal(schema_name, body)
    assert {"field": typo, "message": f"unknown field {typo!r}: did you mean {meant!r}?"} \
        in errors


def test_a_field_already_given_is_not_suggested_again():
    errors = refusal("event", {"type": "x", "data": 1, "dataa": 2})
    assert errors == [{"field": "dataa", "message": "unknown field 'dataa'"}]


def test_an_unknown_field_nothing_like_a_known_one_gets_no_suggestion():
    assert refusal("topic_create", {"name": "z", "colour": "red"}) == [
        {"field": "colour", "message": "unknown field 'colour'"}]


def test_nested_objects_name_the_field_by_its_path():
    assert refusal("event_batch", {"events": [{"type": "x", "data": 1},
                                              {"typ": "x", "data": 1}]}) == [
        {"field": "events[1].type", "message": "missing required field 'type' in events[1]"},
        {"field": "events[1].typ",
         "message": "unknown field 'typ' in events[1]: did you mean 'type'?"},
    ]
    assert refusal("schedule_create", {"name": "s", "expression": "rate(1 hour)",
                                       "target": {"topik": "t"}}) == [
        {"field": "target.topik",
         "message": "unknown field 'topik' in target: did you mean 'topic'?"}]
    assert refusal("routing_explain", {"event": {"type": "x"}}) == [
        {"field": "event.data", "message": "missing required field 'data' in event"}]


def test_a_field_required_by_a_condition_is_named():
    errors = refusal("subscription_create", {"topics": ["t"], "mode": "push"})
    assert errors == [{"field": "callback", "message": "missing required field 'callback'"}]


def test_thousands_of_unknown_fields_get_a_bounded_answer():
    errors = refusal("lease", {f"k{i:05}": 1 for i in range(10_000)})
    assert len(errors) == MAX_UNKNOWN_LISTED + 1
    assert errors[-1] == {"field": "", "message": f"{10_000 - MAX_UNKNOWN_LISTED} more "
                                                  "unknown field(s)"}


def test_a_huge_unknown_name_is_cut_in_the_answer():
    [error] = refusal("lease", {"x" * 100_000: 1})
    assert len(error["field"]) == 101 and error["field"].endswith("…")
    assert len(error["message"]) < 200


def test_other_failures_keep_their_own_message():
    assert refusal("event", {"type": 5, "data": 1}) == [
        {"field": "type", "message": "type must be string"}]
    assert refusal("event", []) == [{"field": "", "message": "body must be object"}]
