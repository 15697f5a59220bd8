"""DynamoDB storage: the production driver.

Layout (tables defined in ``infra/tables.json``):

* **state** table - one item per document: ``pk`` = collection, ``sk`` = key,
  ``doc`` = the document as JSON text, ``expires_at`` = epoch seconds (the
  table's TTL attribute).  DynamoDB's TTL sweeper is lazy, so reads filter
  expired documents themselves.
* **queue** table - one partition per queue: ``queue`` = queue name, ``key`` =
  the discipline sort key (the smallest is delivered first), and ``id``,
  ``payload`` (JSON text), ``priority``, ``enqueued_at``, ``visible_at``,
  ``deliveries`` (numbers, ms), ``lease`` (absent unless leased) and
  ``attributes`` (JSON text, absent when empty).

Requests per operation (``n`` items; all reads strongly consistent):

=================  ==========================================================
push               1 PutItem; n > 1: ceil(n / 25) BatchWriteItem
lease              1 Query (more pages only past in-flight items) + 1 UpdateItem
                   (one item) or 1 TransactWriteItems (up to 100 items)
ack/nack/extend    1 DeleteItem / UpdateItem; n > 1: ceil(n / 100)
                   TransactWriteItems
peek, size, purge  Query pages (+ BatchWriteItem deletes for purge)
=================  ==========================================================

A lease reads candidates with ``Query`` + ``FilterExpression visible_at <=
now``, then claims them with writes conditioned on ``visible_at`` and
``deliveries`` being what it read, so two consumers never win the same item;
a consumer that loses some items in a transaction drops them (the
``CancellationReasons`` say which) and retries with the rest.  A claim write
may also find the item already holding its own lease token: botocore retried
it after its reply was lost.  A lease stops at the first throttled or failed
request, keeps what it had won, and gives back (conditioned on its token) what
a write it got no answer to may have claimed.

Known trade-offs:

* The filter applies *after* the read, so leased or delayed items at the head
  of a partition are read (and paid for) by every lease until they are acked
  or become visible; pages grow (up to ``MAX_PAGE`` items) to get past them.
  Queues whose consumers keep many items in flight pay extra read capacity;
  ordering and exactness are kept.
* A transaction is all-or-nothing, so consumers racing for the head of one
  queue cancel each other's claims and spend extra requests.  A store that
  has just lost a claim picks its next ones at random among the visible
  candidates it read, instead of chasing the head with everyone else: under
  contention the order between concurrent consumers is approximate (it
  cannot be otherwise); a lone consumer always gets the head.

Features:

=============  ==============================================================
ordering       smallest sort key first (FIFO / LIFO / priority via the key)
leases         conditional writes / transactions; visibility timeout
durability     DynamoDB (replicated, point-in-time recovery if enabled)
multi-process  yes: any number of Lambdas and processes share a table
=============  ==============================================================
"""
from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter
from typing import Any, Iterator

from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

from chalicelib.errors import StorageUnavailable, Throttled
from chalicelib.storage.base import (
    AlreadyExists, Clock, DocumentStore, QueueStore, Ref, Sizes, StoredItem, evolve,
)

THROTTLING_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
})
UNAVAILABLE_CODES = frozenset({"ResourceNotFoundException"})
BATCH_WRITE_MAX = 25          # items per BatchWriteItem
TRANSACTION_MAX = 100         # actions per TransactWriteItems

# Expression attribute names: several of ours ("queue", "key") are reserved words.
_NAMES = {"#pk": "pk", "#exp": "expires_at", "#q": "queue", "#k": "key",
          "#vis": "visible_at", "#del": "deliveries", "#lease": "lease"}


def client_config() -> Config:
    """Retries and timeouts fit for a Lambda that answers HTTP requests."""
    return Config(retries={"mode": "standard", "max_attempts": 3},
                  connect_timeout=2, read_timeout=5, max_pool_connections=32)


def _names(*aliases: str) -> dict[str, str]:
    return {alias: _NAMES[alias] for alias in aliases}


def _s(value: str) -> dict:
    return {"S": value}


def _n(value: float) -> dict:
    return {"N": str(value) if isinstance(value, int) else format(value, ".6f")}


def _chunks(seq: list, size: int) -> Iterator[list]:
    for start in range(0, len(seq), size):
        yield seq[start:start + size]


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _cancellation_codes(exc: ClientError, count: int) -> list[str]:
    """The per-action codes of a cancelled transaction ("None" = would have succeeded)."""
    reasons = exc.response.get("CancellationReasons")
    if reasons:
        return [r.get("Code") or "None" for r in reasons]
    # Older endpoints only put them in the message: "... reasons [None, ConditionalCheckFailed]"
    found = re.search(r"\[([^\]]*)\]\s*$", exc.response.get("Error", {}).get("Message", ""))
    codes = [c.strip() for c in found.group(1).split(",")] if found else []
    return codes if len(codes) == count else ["Unknown"] * count


def _backoff(attempt: int) -> float:
    return min(0.05 * 2 ** attempt, 1.0) * random.uniform(0.5, 1.0)


class RequestCounter:
    """How many DynamoDB API calls a client made, by operation name.

    Retries that botocore makes inside one call are not counted separately.
    """

    _EVENT = "before-call.dynamodb"

    def __init__(self, client: Any) -> None:
        self.by_operation: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._client = client
        client.meta.events.register(self._EVENT, self._on_call)

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())

    def reset(self) -> None:
        with self._lock:
            self.by_operation.clear()

    def stop(self) -> None:
        """Stop counting (unregister from the client's events)."""
        self._client.meta.events.unregister(self._EVENT, self._on_call)

    def _on_call(self, model: Any = None, **kwargs: Any) -> None:
        with self._lock:
            self.by_operation[getattr(model, "name", "?")] += 1


def count_requests(client: Any) -> RequestCounter:
    """Count the API calls ``client`` makes from now on (for benchmarks)."""
    return RequestCounter(client)


class _Table:
    """A table behind an injected (or lazily built) low-level client."""

    def __init__(self, table: str, client: Any = None) -> None:
        self.table = table
        self._client = client
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    import boto3
                    self._client = boto3.session.Session().client(
                        "dynamodb", config=client_config())
        return self._client

    def _call(self, operation: str, **params: Any) -> dict:
        """Call the client, translating backend failures into bus errors.

        Other ``ClientError``s (conditions, cancelled transactions) propagate
        for the caller to interpret.
        """
        try:
            return getattr(self.client, operation)(**params)
        except ClientError as exc:
            code = _code(exc)
            if code in THROTTLING_CODES:
                raise Throttled(f"DynamoDB throttled {operation} on {self.table}") from exc
            if code in UNAVAILABLE_CODES:
                raise StorageUnavailable(f"DynamoDB table {self.table} not found") from exc
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                raise StorageUnavailable(f"DynamoDB failed {operation} (HTTP 5xx after "
                                         f"retries)") from exc
            raise
        except (BotoConnectionError, HTTPClientError) as exc:
            raise StorageUnavailable(f"DynamoDB did not answer {operation}") from exc

    def _query_pages(self, params: dict[str, Any]) -> Iterator[dict]:
        """Query pages; the caller may change ``params`` between pages."""
        while True:
            page = self._call("query", TableName=self.table, ConsistentRead=True, **params)
            yield page
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _batch_write(self, requests: list[dict]) -> None:
        for chunk in _chunks(requests, BATCH_WRITE_MAX):
            pending = chunk
            for attempt in range(8):
                page = self._call("batch_write_item", RequestItems={self.table: pending})
                pending = page.get("UnprocessedItems", {}).get(self.table, [])
                if not pending:
                    break
                time.sleep(_backoff(attempt))
            else:
                raise Throttled(f"DynamoDB left {len(pending)} writes unprocessed on {self.table}")

    def ping(self) -> None:
        self._call("describe_table", TableName=self.table)


# ---------------------------------------------------------------- documents

class DynamoDocumentStore(_Table, DocumentStore):
    """Documents in the state table: ``pk`` = collection, ``sk`` = key."""

    def __init__(self, table: str, client: Any = None, clock: Clock = time.time) -> None:
        _Table.__init__(self, table, client)
        DocumentStore.__init__(self, clock)

    @staticmethod
    def _key(collection: str, key: str) -> dict:
        return {"pk": _s(collection), "sk": _s(key)}

    @staticmethod
    def _live(item: dict | None, now: float) -> bool:
        return item is not None and ("expires_at" not in item
                                     or float(item["expires_at"]["N"]) >= now)

    def get(self, collection: str, key: str) -> dict | None:
        item = self._call("get_item", TableName=self.table, Key=self._key(collection, key),
                          ConsistentRead=True).get("Item")
        return json.loads(item["doc"]["S"]) if self._live(item, self.clock()) else None

    def put(self, collection: str, key: str, doc: dict, *, create_only: bool = False,
            expires_at: int | None = None) -> None:
        item = {**self._key(collection, key), "doc": _s(json.dumps(doc, separators=(",", ":")))}
        if expires_at is not None:
            item["expires_at"] = _n(expires_at)
        params: dict[str, Any] = {"TableName": self.table, "Item": item}
        if create_only:
            # An expired document still in the table (TTL is lazy) may be replaced.
            params.update(ConditionExpression="attribute_not_exists(#pk) OR #exp < :now",
                          ExpressionAttributeNames=_names("#pk", "#exp"),
                          ExpressionAttributeValues={":now": _n(self.clock())})
        try:
            self._call("put_item", **params)
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise AlreadyExists(f"{collection}/{key} already exists") from exc
            raise

    def delete(self, collection: str, key: str) -> bool:
        old = self._call("delete_item", TableName=self.table, Key=self._key(collection, key),
                         ReturnValues="ALL_OLD").get("Attributes")
        return self._live(old, self.clock())

    def list(self, collection: str) -> list[dict]:
        docs = []
        for page in self._query_pages(dict(
                KeyConditionExpression="#pk = :pk",
                FilterExpression="attribute_not_exists(#exp) OR #exp >= :now",
                ExpressionAttributeNames=_names("#pk", "#exp"),
                ExpressionAttributeValues={":pk": _s(collection), ":now": _n(self.clock())})):
            docs.extend(json.loads(item["doc"]["S"]) for item in page.get("Items", []))
        return docs


# ------------------------------------------------------------------ queues

def _to_item(queue: str, item: StoredItem) -> dict:
    record = {
        "queue": _s(queue), "key": _s(item.key), "id": _s(item.id),
        "payload": _s(item.payload), "priority": _n(item.priority),
        "enqueued_at": _n(item.enqueued_at), "visible_at": _n(item.visible_at),
        "deliveries": _n(item.deliveries),
    }
    if item.lease:
        record["lease"] = _s(item.lease)
    if item.attributes:
        record["attributes"] = _s(json.dumps(item.attributes, separators=(",", ":")))
    return record


def _from_item(record: dict) -> StoredItem:
    return StoredItem(
        key=record["key"]["S"], id=record["id"]["S"], payload=record["payload"]["S"],
        priority=int(record["priority"]["N"]), enqueued_at=int(record["enqueued_at"]["N"]),
        visible_at=int(record["visible_at"]["N"]), deliveries=int(record["deliveries"]["N"]),
        lease=record["lease"]["S"] if "lease" in record else None,
        attributes=json.loads(record["attributes"]["S"]) if "attributes" in record else {},
    )


# Claim: take the item only if it is still visible and nobody leased it since we read it -
# or if it already holds this claim's lease: botocore retries a request whose reply was
# lost, and the retry must find its own write (the values set are absolute, not increments).
_CLAIM_UPDATE = "SET #lease = :lease, #vis = :until, #del = :next"
_CLAIM_CONDITION = "(#vis <= :now AND #del = :seen) OR #lease = :lease"
# Give back a claim: as it was before, if it holds the claim's lease.
_UNCLAIM_UPDATE = "SET #vis = :vis, #del = :seen REMOVE #lease"
_LOST = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
_THROTTLED = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded",
                        "RequestLimitExceeded"})


class DynamoQueueStore(_Table, QueueStore):
    """Queue items in the queue table: one partition per queue."""

    #: bounded work per lease: candidate reads and claim writes
    MAX_CANDIDATE_READS = 3
    MAX_CLAIM_WRITES = 6
    #: items evaluated per Query page at most, when paging past items in flight
    MAX_PAGE = 400
    #: seconds a lost claim makes this store spread its next claims on that queue
    CONTENTION_MEMORY = 1.0
    #: bounded retries of an ack / nack transaction cancelled by conflicts
    MAX_SETTLE_ATTEMPTS = 4

    def __init__(self, table: str, client: Any = None, clock: Clock = time.time) -> None:
        _Table.__init__(self, table, client)
        QueueStore.__init__(self, clock)
        self._contention: dict[str, float] = {}   # queue -> monotonic time of the last lost claim

    def _key(self, queue: str, key: str) -> dict:
        return {"queue": _s(queue), "key": _s(key)}

    # ---- push

    def _append(self, queue: str, items: list[StoredItem]) -> None:
        unique = list({i.key: i for i in items}.values())   # a batch may not repeat a key
        if len(unique) == 1:
            self._call("put_item", TableName=self.table, Item=_to_item(queue, unique[0]))
        else:
            self._batch_write([{"PutRequest": {"Item": _to_item(queue, i)}} for i in unique])

    # ---- lease

    def _claim(self, queue: str, limit: int, now: int, until: int,
               upto: str | None = None) -> list[StoredItem]:
        won: list[StoredItem] = []
        pool: list[StoredItem] = []    # visible candidates read but not tried yet
        resume: dict | None = None     # where the next read starts
        drained, reads = False, 0
        spread = self._contended(queue)
        for _ in range(self.MAX_CLAIM_WRITES):
            need = limit - len(won)
            if need <= 0:
                break
            if len(pool) < need and not drained and reads < self.MAX_CANDIDATE_READS:
                try:
                    found, resume = self._candidates(queue, need - len(pool), limit, now,
                                                     resume, upto)
                except StorageUnavailable:
                    if won:
                        break          # keep what was won: the template returns it
                    raise
                pool.extend(found)
                drained, reads = resume is None, reads + 1
            if not pool:
                break
            if spread and len(pool) > need:
                # Consumers racing for the head spread over the candidates
                # instead of all chasing the same next items.
                picks = set(random.sample(range(len(pool)), need))
            else:
                picks = set(range(min(need, len(pool))))
            batch = [item for n, item in enumerate(pool) if n in picks]
            pool = [item for n, item in enumerate(pool) if n not in picks]
            try:
                taken, retry = self._take(queue, batch, now, until)
            except StorageUnavailable:
                if won:
                    break
                raise
            won.extend(taken)
            if len(taken) + len(retry) < len(batch):
                spread = True
                self._contention[queue] = time.monotonic()
            pool = sorted(retry + pool, key=lambda i: i.key)
        won.sort(key=lambda i: i.key)
        return won

    def _contended(self, queue: str) -> bool:
        """Whether this store lost a claim on ``queue`` moments ago."""
        lost_at = self._contention.get(queue)
        return lost_at is not None and time.monotonic() - lost_at < self.CONTENTION_MEMORY

    def _candidates(self, queue: str, want: int, limit: int, now: int, start: dict | None,
                    upto: str | None = None) -> tuple[list[StoredItem], dict | None]:
        """Visible items in key order from ``start``: at least ``want`` unless
        the partition ends first.  Returns them and where the read stopped."""
        page_size = max(limit * 3, 25)
        params: dict[str, Any] = dict(
            KeyConditionExpression="#q = :q", FilterExpression="#vis <= :now",
            ExpressionAttributeNames=_names("#q", "#vis"),
            ExpressionAttributeValues={":q": _s(queue), ":now": _n(now)}, Limit=page_size)
        if upto is not None:   # a time-keyed queue: read only the due head
            params["KeyConditionExpression"] += " AND #key <= :upto"
            params["ExpressionAttributeNames"]["#key"] = "key"
            params["ExpressionAttributeValues"][":upto"] = _s(upto)
        if start:
            params["ExclusiveStartKey"] = start
        found: list[StoredItem] = []
        for page in self._query_pages(params):
            found.extend(_from_item(r) for r in page.get("Items", []))
            if len(found) >= want:
                return found, page.get("LastEvaluatedKey")
            # Past a head of items in flight: read further per request.
            params["Limit"] = min(params["Limit"] * 2, self.MAX_PAGE)
        return found, None

    def _claim_action(self, queue: str, item: StoredItem, now: int, until: int,
                      lease: str) -> dict:
        return {
            "TableName": self.table, "Key": self._key(queue, item.key),
            "UpdateExpression": _CLAIM_UPDATE, "ConditionExpression": _CLAIM_CONDITION,
            "ExpressionAttributeNames": _names("#lease", "#vis", "#del"),
            "ExpressionAttributeValues": {
                ":lease": _s(lease), ":until": _n(until), ":next": _n(item.deliveries + 1),
                ":now": _n(now), ":seen": _n(item.deliveries)},
        }

    def _take(self, queue: str, batch: list[StoredItem], now: int,
              until: int) -> tuple[list[StoredItem], list[StoredItem]]:
        """Try to claim ``batch``.  Returns the items won and the items worth
        retrying (not applied only because their transaction was cancelled)."""
        leases = [self.new_lease() for _ in batch]
        if len(batch) == 1:
            try:
                record = self._call("update_item", ReturnValues="ALL_NEW",
                                    **self._claim_action(queue, batch[0], now, until, leases[0]))
            except ClientError as exc:
                if _code(exc) in ("ConditionalCheckFailedException",
                                  "TransactionConflictException"):
                    return [], []
                raise
            except StorageUnavailable:
                self._unclaim(queue, batch, leases)
                raise
            return [_from_item(record["Attributes"])], []
        won: list[StoredItem] = []
        retry: list[StoredItem] = []
        for start in range(0, len(batch), TRANSACTION_MAX):
            chunk = batch[start:start + TRANSACTION_MAX]
            chunk_leases = leases[start:start + TRANSACTION_MAX]
            try:
                codes = self._take_chunk(queue, chunk, chunk_leases, now, until)
            except StorageUnavailable:
                if won:
                    break                  # the chunks before this one stay won
                raise
            if codes is None:
                won.extend(evolve(i, visible_at=until, deliveries=i.deliveries + 1, lease=lease)
                           for i, lease in zip(chunk, chunk_leases))
            else:
                # Items taken by someone else are dropped; the rest may be retried.
                retry.extend(item for item, code in zip(chunk, codes) if code == "None")
        return won, retry

    def _take_chunk(self, queue: str, chunk: list[StoredItem], leases: list[str], now: int,
                    until: int) -> list[str] | None:
        """One claim transaction: None when applied, else its cancellation codes
        (items lost to others, untried ones).  On a backend failure, what it may
        have claimed is given back before the error is raised."""
        actions = [{"Update": self._claim_action(queue, item, now, until, lease)}
                   for item, lease in zip(chunk, leases)]
        try:
            self._call("transact_write_items", TransactItems=actions)
            return None
        except StorageUnavailable:
            self._unclaim(queue, chunk, leases)
            raise
        except ClientError as exc:
            if _code(exc) != "TransactionCanceledException":
                raise
            codes = _cancellation_codes(exc, len(chunk))
            if _THROTTLED.intersection(codes):
                # Nothing applied by this request - but an earlier attempt of it may
                # have been, its reply lost before botocore retried.
                self._unclaim(queue, chunk, leases)
                raise Throttled(f"DynamoDB throttled a lease on {self.table}") from exc
            if not {"None", *_LOST}.issuperset(codes):
                raise
            return codes

    def _unclaim(self, queue: str, items: list[StoredItem], leases: list[str]) -> None:
        """Give back what a claim write whose outcome is unknown may have won: each
        item that holds its claim's lease returns to its state before (visible,
        its deliveries as read).  One request when the write was not applied (a
        transaction is all or nothing: the first conditions fail and cancel it).
        If this fails too, the items come back when the claim's lease runs out."""
        before = {item.key: item for item in items}
        try:
            self._settle_refs(queue, [Ref(i.key, lease) for i, lease in zip(items, leases)],
                              lambda ref: ("Update", {
                                  "TableName": self.table, "Key": self._key(queue, ref.key),
                                  "UpdateExpression": _UNCLAIM_UPDATE,
                                  "ConditionExpression": "#lease = :lease",
                                  "ExpressionAttributeNames": _names("#lease", "#vis", "#del"),
                                  "ExpressionAttributeValues": {
                                      ":lease": _s(ref.lease),
                                      ":vis": _n(before[ref.key].visible_at),
                                      ":seen": _n(before[ref.key].deliveries)}}))
        except (ClientError, StorageUnavailable):
            pass

    # ---- ack / nack

    def _delete(self, queue: str, refs: list[Ref]) -> list[bool]:
        return self._settle_refs(queue, refs, lambda ref: ("Delete", {
            "TableName": self.table, "Key": self._key(queue, ref.key),
            "ConditionExpression": "#lease = :lease",
            "ExpressionAttributeNames": _names("#lease"),
            "ExpressionAttributeValues": {":lease": _s(ref.lease)}}))

    def _reschedule(self, queue: str, refs: list[Ref], visible_at: int,
                    keep_lease: bool) -> list[bool]:
        update = "SET #vis = :vis" if keep_lease else "SET #vis = :vis REMOVE #lease"
        return self._settle_refs(queue, refs, lambda ref: ("Update", {
            "TableName": self.table, "Key": self._key(queue, ref.key),
            "UpdateExpression": update, "ConditionExpression": "#lease = :lease",
            "ExpressionAttributeNames": _names("#lease", "#vis"),
            "ExpressionAttributeValues": {":lease": _s(ref.lease), ":vis": _n(visible_at)}}))

    def _settle_refs(self, queue: str, refs: list[Ref], action) -> list[bool]:
        """Apply one conditional action per ref; True where the lease still owned the item."""
        results = [False] * len(refs)
        pending = list(range(len(refs)))
        while pending:
            # One transaction may touch an item only once: repeated keys wait a round.
            keys: set[str] = set()
            this_round, later = [], []
            for i in pending:
                (later if refs[i].key in keys else this_round).append(i)
                keys.add(refs[i].key)
            for chunk in _chunks(this_round, TRANSACTION_MAX):
                for i, ok in zip(chunk, self._settle_chunk([action(refs[i]) for i in chunk])):
                    results[i] = ok
            pending = later
        return results

    def _settle_chunk(self, actions: list[tuple[str, dict]]) -> list[bool]:
        results = [False] * len(actions)
        todo = list(range(len(actions)))
        for attempt in range(self.MAX_SETTLE_ATTEMPTS):
            try:
                if len(todo) == 1:
                    kind, params = actions[todo[0]]
                    self._call("delete_item" if kind == "Delete" else "update_item", **params)
                else:
                    self._call("transact_write_items",
                               TransactItems=[{actions[i][0]: actions[i][1]} for i in todo])
            except ClientError as exc:
                code = _code(exc)
                if code == "ConditionalCheckFailedException":
                    return results
                if code == "TransactionConflictException":
                    time.sleep(_backoff(attempt))
                    continue
                if code != "TransactionCanceledException":
                    raise
                codes = _cancellation_codes(exc, len(todo))
                if _THROTTLED.intersection(codes):
                    raise Throttled(f"DynamoDB throttled an ack / nack on {self.table}") from exc
                if not {"None", *_LOST}.issuperset(codes):
                    raise
                # A failed condition means the lease was lost: that ref is stale.
                # Conflicts and untried actions are retried.
                todo = [i for i, c in zip(todo, codes) if c != "ConditionalCheckFailed"]
                if not todo:
                    return results
                if "TransactionConflict" in codes:
                    time.sleep(_backoff(attempt))
                continue
            for i in todo:
                results[i] = True
            return results
        return results   # still conflicting: reported stale; the items will be redelivered

    def _delete_unleased(self, queue: str, key: str) -> None:
        self._call("delete_item", TableName=self.table, Key=self._key(queue, key))

    # ---- inspection and maintenance

    def _scan(self, queue: str, limit: int, now: int | None) -> list[StoredItem]:
        if limit <= 0:
            return []
        params: dict[str, Any] = dict(
            KeyConditionExpression="#q = :q", ExpressionAttributeNames=_names("#q"),
            ExpressionAttributeValues={":q": _s(queue)}, Limit=limit)
        if now is not None:
            params.update(FilterExpression="#vis <= :now", Limit=max(limit * 3, 25),
                          ExpressionAttributeNames=_names("#q", "#vis"),
                          ExpressionAttributeValues={":q": _s(queue), ":now": _n(now)})
        found: list[StoredItem] = []
        for page in self._query_pages(params):
            found.extend(_from_item(r) for r in page.get("Items", []))
            if len(found) >= limit:
                break
            if now is not None:
                params["Limit"] = min(params["Limit"] * 2, self.MAX_PAGE)
        return found[:limit]

    def _count(self, queue: str, now: int) -> Sizes:
        # One pass reading only visible_at, instead of two filtered COUNT queries.
        visible = invisible = 0
        for page in self._query_pages(dict(
                KeyConditionExpression="#q = :q", ProjectionExpression="#vis",
                ExpressionAttributeNames=_names("#q", "#vis"),
                ExpressionAttributeValues={":q": _s(queue)})):
            for record in page.get("Items", []):
                if int(record["visible_at"]["N"]) <= now:
                    visible += 1
                else:
                    invisible += 1
        return Sizes(visible, invisible)

    def _purge(self, queue: str) -> None:
        for page in self._query_pages(dict(
                KeyConditionExpression="#q = :q", ProjectionExpression="#q, #k",
                ExpressionAttributeNames=_names("#q", "#k"),
                ExpressionAttributeValues={":q": _s(queue)})):
            keys = page.get("Items", [])
            if keys:
                self._batch_write([{"DeleteRequest": {"Key": k}} for k in keys])
