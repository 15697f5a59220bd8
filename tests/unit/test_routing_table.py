"""The routing table: what patterns see, who may receive, and one compile per change."""
import json

import pytest

from chalicelib.domain.routing import (DERIVED_TOPIC, SUBSCRIPTION, RoutingTable, check_depth,
                                       matching_view, may_receive)
from chalicelib.errors import ValidationFailed
from chalicelib.services.routing_table import RoutingTables
from chalicelib.storage.memory import MemoryDocumentStore


class CountingDocs(MemoryDocumentStore):
    """Counts reads, as a DynamoDB bill would."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = self.lists = 0

    def get(self, collection, key):
        self.gets += 1
        return super().get(collection, key)

    def list(self, collection):
        self.lists += 1
        return super().list(collection)


def subscription(sub_id, pattern, topics=(), owner="billing"):
    return {"id": sub_id, "queue": f"s.{sub_id}", "discipline": "fifo", "owner": owner,
            "owner_id": f"svc_{owner}", "topics": list(topics), "filter": pattern}


def test_patterns_see_the_published_topics_as_a_list_and_no_topic_when_there_is_none():
    envelope = {"id": "1", "type": "x", "topic": "a", "data": {}}
    assert matching_view(envelope, ["a", "b"])["topic"] == ["a", "b"]
    assert "topic" not in matching_view(envelope, [])
    assert envelope["topic"] == "a"


def test_depth_check_refuses_only_what_is_deeper_than_the_limit():
    check_depth(json.loads("[" * 10 + "]" * 10), "data", limit=10)
    with pytest.raises(ValidationFailed) as refused:
        check_depth({"a": json.loads("[" * 10 + "]" * 10)}, "data", limit=10)
    assert refused.value.extra["errors"][0]["field"] == "data"


@pytest.mark.parametrize("topics, allowed", [
    ([], True),
    ([{"owner_id": "svc_orders", "subscribers": None}], True),
    ([{"owner_id": "svc_orders", "subscribers": ["orders"]}], False),
    ([{"owner_id": "svc_orders", "subscribers": ["billing"]}], True),
    ([{"owner_id": "svc_billing", "subscribers": []}], True),
    ([{"owner_id": "svc_orders", "subscribers": []}, {"owner_id": "x", "subscribers": None}], True),
])
def test_routes_by_content_respect_the_topics_subscribers_lists(topics, allowed):
    assert may_receive({"owner": "billing", "owner_id": "svc_billing"}, topics) is allowed


def test_table_matches_subscriptions_and_derived_topics_in_one_lookup():
    table = RoutingTable()
    table.add(SUBSCRIPTION, {"id": "s1"}, {"type": ["a"]})
    table.add(DERIVED_TOPIC, {"name": "d1"}, {"type": ["a", "b"]})
    table.add(DERIVED_TOPIC, {"name": "d0"}, {"type": ["a"]})
    assert table.match({"type": "a"}) == ({"s1"}, ["d0", "d1"])
    assert table.match({"type": "b"}) == (set(), ["d1"])
    assert RoutingTable().match({"type": "a"}) == (set(), [])


def test_table_is_compiled_once_per_version_with_one_read_per_lookup():
    docs = CountingDocs()
    tables = RoutingTables(docs)
    tables.add_subscription(subscription("s1", {"type": ["a"]}))
    first = tables.current()
    assert first.match({"type": "a"})[0] == {"s1"}
    gets, lists = docs.gets, docs.lists
    for _ in range(5):
        assert tables.current() is first
    assert (docs.gets - gets, docs.lists - lists, tables.builds) == (5, 0, 1)
    tables.add_derived_topic({"name": "d", "pattern": {"type": ["a"]}, "discipline": "fifo",
                              "owner": "billing", "owner_id": "svc_billing"})
    assert tables.current().match({"type": "a"}) == ({"s1"}, ["d"]) and tables.builds == 2


def test_a_change_made_by_another_process_is_seen_on_the_next_lookup():
    docs = MemoryDocumentStore()
    here, there = RoutingTables(docs), RoutingTables(docs)
    assert here.current().match({"type": "a"}) == (set(), [])
    there.add_subscription(subscription("s1", {"type": ["a"]}))
    assert here.current().match({"type": "a"})[0] == {"s1"}
    there.remove_subscription(subscription("s1", {"type": ["a"]}))
    assert here.current().match({"type": "a"})[0] == set()


def test_a_stored_rule_that_no_longer_compiles_is_skipped_not_fatal():
    docs = MemoryDocumentStore()
    tables = RoutingTables(docs)
    tables.add_subscription(subscription("good", {"type": ["a"]}))
    docs.put("filtered-subs", "bad", subscription("bad", {"type": "not-a-leaf"}))
    tables.bump()
    table = tables.current()
    assert table.skipped == ["bad"] and table.match({"type": "a"})[0] == {"good"}
