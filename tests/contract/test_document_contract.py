"""The document store contract, held against every driver."""
from __future__ import annotations

import pytest

from chalicelib.storage.base import AlreadyExists

C = "topics"


def test_put_then_get_returns_the_document(docs):
    docs.put(C, "orders", {"name": "orders", "tags": ["a", "b"], "n": 1.5})
    assert docs.get(C, "orders") == {"name": "orders", "tags": ["a", "b"], "n": 1.5}


def test_get_of_a_missing_document_returns_none(docs):
    assert docs.get(C, "nothing") is None


def test_put_overwrites_by_default(docs):
    docs.put(C, "orders", {"v": 1})
    docs.put(C, "orders", {"v": 2})
    assert docs.get(C, "orders") == {"v": 2}


def test_create_only_refuses_a_live_document(docs):
    docs.put(C, "orders", {"v": 1})
    with pytest.raises(AlreadyExists):
        docs.put(C, "orders", {"v": 2}, create_only=True)
    assert docs.get(C, "orders") == {"v": 1}


def test_create_only_creates_a_missing_document(docs):
    docs.put(C, "orders", {"v": 1}, create_only=True)
    assert docs.get(C, "orders") == {"v": 1}


def test_document_lives_until_its_expiry(docs, clock):
    docs.put(C, "orders", {"v": 1}, expires_at=int(clock.now) + 10)
    clock.advance(10)
    assert docs.get(C, "orders") == {"v": 1}


def test_expired_document_is_absent_from_get_list_and_delete(docs, clock):
    docs.put(C, "gone", {"v": 1}, expires_at=int(clock.now) + 10)
    docs.put(C, "kept", {"v": 2})
    clock.advance(11)
    assert docs.get(C, "gone") is None
    assert docs.list(C) == [{"v": 2}]
    assert docs.delete(C, "gone") is False


def test_expired_document_can_be_created_again(docs, clock):
    docs.put(C, "idem", {"v": 1}, create_only=True, expires_at=int(clock.now) + 10)
    clock.advance(11)
    docs.put(C, "idem", {"v": 2}, create_only=True)
    assert docs.get(C, "idem") == {"v": 2}
    with pytest.raises(AlreadyExists):
        docs.put(C, "idem", {"v": 3}, create_only=True)


def test_delete_reports_whether_a_document_was_there(docs):
    docs.put(C, "orders", {"v": 1})
    assert docs.delete(C, "orders") is True
    assert docs.get(C, "orders") is None
    assert docs.delete(C, "orders") is False


def test_list_returns_documents_in_key_order(docs):
    for key in ["b", "a/2", "c", "a", "a/10", "B"]:
        docs.put(C, key, {"key": key})
    assert [d["key"] for d in docs.list(C)] == ["B", "a", "a/10", "a/2", "b", "c"]


def test_list_of_an_empty_collection_is_empty(docs):
    assert docs.list("nothing-here") == []


def test_collections_are_isolated(docs):
    docs.put("topics", "x", {"kind": "topic"})
    docs.put("services", "x", {"kind": "service"})
    assert docs.get("topics", "x") == {"kind": "topic"}
    assert docs.list("services") == [{"kind": "service"}]
    docs.delete("topics", "x")
    assert docs.get("services", "x") == {"kind": "service"}


def test_stored_documents_are_copies(docs):
    doc = {"tags": ["a"], "nested": {"n": 1}}
    docs.put(C, "orders", doc)
    doc["tags"].append("mutated")
    got = docs.get(C, "orders")
    got["nested"]["n"] = 99
    docs.list(C)[0]["tags"].clear()
    assert docs.get(C, "orders") == {"tags": ["a"], "nested": {"n": 1}}
