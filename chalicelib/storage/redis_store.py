"""Redis storage (``TLKS_STORAGE=redis``): the bus on a Redis 6+ (or Valkey) server.

For a team that runs the bus as plain processes, on one machine or several,
next to a Redis it already operates.  Needs the ``redis`` package (imported
only when this driver is chosen).

Layout, all keys under ``<prefix>:`` (the settings' table prefix), each group
sharing one ``{hash tag}`` so every script touches one cluster slot:

* queue ``Q``:
  ``q:{Q}:i`` hash  key -> item record (``visible_at|deliveries|lease|...``),
  ``q:{Q}:r`` sorted set of the *visible* keys, all with score 0, so
  ``ZRANGEBYLEX`` gives them in exact key (byte) order, and
  ``q:{Q}:l`` sorted set of the leased or delayed keys, scored by ``visible_at``.
  A lease first moves the ``l`` members whose time has come back into ``r``,
  then takes the smallest keys of ``r``: no scan past items in flight.
* documents of collection ``C``: ``d:{C}:<key>`` string ``expires_at|op|json``
  with ``EXPIREAT`` a minute after it expires (reads check the expiry against the
  bus's clock; Redis's clock only collects garbage), ``dx:{C}`` the keys in order
  (score 0) for ``list``, and ``de:{C}`` the expiring keys by time, trimmed from
  the index as they pass.
* ``op:{Q}:<id>`` the outcome of a recent ack, nack or lease (see below).

Every write is one Lua script (one round trip, atomic):

=================  ==========================================================
push               1 script (any batch)
lease              1 script: promote due keys, take the first n, re-score them
ack/nack/extend    1 script per 1,000 receipts, conditioned on each lease token
peek, size, purge  1 script / MULTI of counts / UNLINK
=================  ==========================================================

Connection loss: a call that fails on the connection (or on ``BUSY`` /
``LOADING`` / ``READONLY``) is tried ``ATTEMPTS`` times with exponential backoff
(the client's own retries are off), then raises ``StorageUnavailable`` (503);
an out-of-memory server is a 503 at once.  A retry may follow a script that *did* run and
whose reply was lost, so the scripts are idempotent per call: ack, nack and
lease record their outcome under an operation id for ``OP_MEMORY_MS`` and a
retry gets the first outcome back (an ack is never lost nor done twice; a
lease hands out the same items again, and a lease whose every reply was lost
gives back what it claimed, deliveries as before); a retried push keeps items
already written; a create-only put recognises its own write by the id stored
with it.

Features:

=============  ==============================================================
ordering       smallest sort key first, exact (ZRANGEBYLEX on score-0 members)
leases         Lua scripts (atomic on the server); visibility timeout
durability     as the server is configured (AOF ``appendfsync everysec``: up
               to ~1 s on a crash of the server; none without persistence);
               needs ``maxmemory-policy noeviction`` (eviction drops items)
multi-process  yes: any number of processes and machines share one server
=============  ==============================================================
"""
from __future__ import annotations

import json
import random
import secrets
import time
from typing import Any, Callable, TypeVar

from chalicelib.errors import StorageUnavailable
from chalicelib.storage.base import (
    AlreadyExists, Clock, DocumentStore, QueueStore, Ref, Sizes, StoredItem,
)

DEFAULT_URL = "redis://127.0.0.1:6379/0"
OP_MEMORY_MS = 30_000            # how long an ack / nack / lease outcome is kept for retries
SETTLE_CHUNK = 1000              # receipts per ack / nack script call
EXPIRY_GRACE = 60                # seconds Redis keeps an expired document (clock skew)
RETRYABLE_REPLIES = ("BUSY", "LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN")
T = TypeVar("T")


def _import_redis() -> Any:
    """The ``redis`` package, imported only when this driver is used."""
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("TLKS_STORAGE=redis needs the redis package: "
                          "pip install 'redis>=5'") from exc
    return redis


def redis_client_for(url: str | None) -> Any:
    """A client for ``url`` whose own retries are off: the driver retries itself."""
    redis = _import_redis()
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    return redis.Redis.from_url(url or DEFAULT_URL, socket_connect_timeout=2, socket_timeout=5,
                                retry=Retry(NoBackoff(), 0), health_check_interval=30)


def _backoff(attempt: int) -> float:
    return min(0.05 * 2 ** attempt, 1.0) * random.uniform(0.5, 1.0)


class _Script:
    """A Lua script run by its SHA1, loaded again when the server lost it (restart)."""

    def __init__(self, source: str) -> None:
        import hashlib
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def __call__(self, client: Any, keys: list, args: list) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except _import_redis().exceptions.NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, len(keys), *keys, *args)


class _OnRedis:
    """A Redis client (injected or built from the URL), its key prefix and retries."""

    #: attempts of one call on connection failures, with backoff between them
    ATTEMPTS = 3

    def __init__(self, client: Any, prefix: str) -> None:
        redis = _import_redis()
        self.client = client
        self.prefix = prefix
        self.sleep: Callable[[float], None] = time.sleep   # between attempts (tests: no wait)
        self._retryable = (redis.ConnectionError, redis.TimeoutError)
        self._reply_error = redis.ResponseError
        kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
        if kwargs.get("decode_responses"):
            raise ValueError("the Redis driver needs a client with decode_responses=False")

    def _call(self, operation: str, work: Callable[[], T]) -> T:
        """Run ``work``, retrying connection failures; ``StorageUnavailable`` at the end."""
        for attempt in range(self.ATTEMPTS):
            try:
                return work()
            except self._retryable as exc:
                failure: Exception = exc
            except self._reply_error as exc:
                if not str(exc).startswith(RETRYABLE_REPLIES):
                    if str(exc).startswith("OOM"):
                        raise StorageUnavailable(f"Redis is out of memory ({operation})") from exc
                    raise
                failure = exc
            if attempt + 1 < self.ATTEMPTS:
                self.sleep(_backoff(attempt))
        raise StorageUnavailable(f"Redis did not answer {operation} after {self.ATTEMPTS} "
                                 f"attempts: {failure}") from failure

    def ping(self) -> None:
        self._call("ping", self.client.ping)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# ---------------------------------------------------------------- documents

# KEYS: doc, index, expiring, doc key prefix.
# ARGV: key, value, expires_at|'', create_only, now, op, grace.  Returns 1, or 0 when refused.
_DOC_PUT = _Script("""
local old = ARGV[4] == '1' and redis.call('GET', KEYS[1])
if old then
  local bar = string.find(old, '|', 1, true)
  local op = string.sub(old, bar + 1, string.find(old, '|', bar + 1, true) - 1)
  if op == ARGV[6] then return 1 end   -- our own write, whose reply was lost
  local exp = string.sub(old, 1, bar - 1)
  if exp == '' or tonumber(exp) >= tonumber(ARGV[5]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
if ARGV[3] ~= '' then
  redis.call('EXPIREAT', KEYS[1], tonumber(ARGV[3]) + tonumber(ARGV[7]))   -- skew grace
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
else
  redis.call('ZREM', KEYS[3], ARGV[1])
end
-- a few documents that have expired since leave the index (and the server)
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[5], 'LIMIT', 0, 20)
for _, key in ipairs(gone) do
  redis.call('ZREM', KEYS[3], key)
  redis.call('ZREM', KEYS[2], key)
  redis.call('DEL', KEYS[4] .. key)
end
return 1
""")

# KEYS: doc, index, expiring.  ARGV: key.  Returns the old value or false.
_DOC_DELETE = _Script("""
local old = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return old
""")

# KEYS: index, doc key prefix.  Returns the values in key order (false where gone).
_DOC_LIST = _Script("""
local keys = redis.call('ZRANGEBYLEX', KEYS[1], '-', '+')
local out = {}
for start = 1, #keys, 500 do
  local names = {}
  for n = start, math.min(start + 499, #keys) do names[#names + 1] = KEYS[2] .. keys[n] end
  local values = redis.call('MGET', unpack(names))
  for n = 1, #names do
    if values[n] then out[#out + 1] = values[n]
    else redis.call('ZREM', KEYS[1], keys[start + n - 1]) end
  end
end
return out
""")


def _live_doc(value: bytes | None, now: float) -> dict | None:
    if value is None:
        return None
    expires_at, _, rest = _text(value).partition("|")
    if expires_at and int(expires_at) < now:
        return None
    return json.loads(rest.partition("|")[2])


class RedisDocumentStore(_OnRedis, DocumentStore):
    """Documents as Redis strings, with a sorted index per collection."""

    def __init__(self, client: Any = None, prefix: str = "tlks", clock: Clock = time.time) -> None:
        _OnRedis.__init__(self, client if client is not None else redis_client_for(None), prefix)
        DocumentStore.__init__(self, clock)

    def _keys(self, collection: str, key: str) -> list[str]:
        p = self.prefix
        return [f"{p}:d:{{{collection}}}:{key}", f"{p}:dx:{{{collection}}}",
                f"{p}:de:{{{collection}}}", f"{p}:d:{{{collection}}}:"]

    def get(self, collection: str, key: str) -> dict | None:
        name = self._keys(collection, key)[0]
        return _live_doc(self._call("get", lambda: self.client.get(name)), self.clock())

    def put(self, collection: str, key: str, doc: dict, *, create_only: bool = False,
            expires_at: int | None = None) -> None:
        op = secrets.token_hex(8) if create_only else ""
        exp = "" if expires_at is None else str(int(expires_at))
        value = f"{exp}|{op}|{json.dumps(doc, separators=(',', ':'))}"
        args = [key, value, exp, "1" if create_only else "0", repr(float(self.clock())), op,
                EXPIRY_GRACE]
        keys = self._keys(collection, key)
        if not self._call("put", lambda: _DOC_PUT(self.client, keys, args)):
            raise AlreadyExists(f"{collection}/{key} already exists")

    def delete(self, collection: str, key: str) -> bool:
        keys = self._keys(collection, key)[:3]
        old = self._call("delete", lambda: _DOC_DELETE(self.client, keys, [key]))
        return _live_doc(old, self.clock()) is not None

    def list(self, collection: str) -> list[dict]:
        keys = self._keys(collection, "")
        values = self._call("list", lambda: _DOC_LIST(self.client, [keys[1], keys[3]], []))
        now = self.clock()
        return [doc for doc in (_live_doc(v, now) for v in values) if doc is not None]


# ------------------------------------------------------------------ queues
#
# Item record: "visible_at|deliveries|lease|enqueued_at|priority|len(id)|len(attrs)|"
# followed by id, attributes (JSON or empty) and payload, lengths in UTF-8 bytes.
# Scripts only ever read or rewrite the first three fields.

_LUA_HELPERS = """
local function fields(v)   -- visible_at, deliveries, lease, the rest
  local a = string.find(v, '|', 1, true)
  local b = string.find(v, '|', a + 1, true)
  local c = string.find(v, '|', b + 1, true)
  return string.sub(v, 1, a - 1), string.sub(v, a + 1, b - 1), string.sub(v, b + 1, c - 1),
         string.sub(v, c + 1)
end
local function bulk(command, key, args)   -- one call per 1000 arguments (Lua's unpack limit)
  for i = 1, #args, 1000 do
    redis.call(command, key, unpack(args, i, math.min(i + 999, #args)))
  end
end
local function hmget(key, fields_)   -- HMGET in chunks, for the same reason
  local values = {}
  for i = 1, #fields_, 1000 do
    local part = redis.call('HMGET', key, unpack(fields_, i, math.min(i + 999, #fields_)))
    for n = 1, #part do values[i + n - 1] = part[n] end
  end
  return values
end
local function promote(ready, later, now)   -- due keys become visible again
  while true do
    local due = redis.call('ZRANGEBYSCORE', later, '-inf', now, 'LIMIT', 0, 500)
    if #due == 0 then return end
    local args = {}
    for _, k in ipairs(due) do args[#args + 1] = 0; args[#args + 1] = k end
    bulk('ZADD', ready, args)
    bulk('ZREM', later, due)
    if #due < 500 then return end
  end
end
"""

# KEYS: items, ready, later.  ARGV: now, retry, then key, visible_at, record per item.
_APPEND = _Script(_LUA_HELPERS + """
local now = tonumber(ARGV[1])
local records, visible, invisible, scored = {}, {}, {}, {}
for i = 3, #ARGV, 3 do
  local k, vis = ARGV[i], ARGV[i + 1]
  if ARGV[2] == '0' or redis.call('HEXISTS', KEYS[1], k) == 0 then
    records[#records + 1] = k; records[#records + 1] = ARGV[i + 2]
    if tonumber(vis) <= now then
      visible[#visible + 1] = k
    else
      invisible[#invisible + 1] = k; scored[#scored + 1] = vis; scored[#scored + 1] = k
    end
  end
end
bulk('HSET', KEYS[1], records)
if #visible > 0 then
  local zero = {}
  for _, k in ipairs(visible) do zero[#zero + 1] = 0; zero[#zero + 1] = k end
  bulk('ZADD', KEYS[2], zero); bulk('ZREM', KEYS[3], visible)
end
if #invisible > 0 then bulk('ZADD', KEYS[3], scored); bulk('ZREM', KEYS[2], invisible) end
return 1
""")

# KEYS: items, ready, later, op.  ARGV: now, until, limit, lease, op ttl, highest key
# ('+' or '[<key>').  Returns key, record, key, record, ... in key order.
_CLAIM = _Script(_LUA_HELPERS + """
local out = {}
local done = redis.call('GET', KEYS[4])
if done then   -- a retry of a lease whose reply was lost: the same items again
  for k in string.gmatch(done, '[^\\31]+') do
    local v = redis.call('HGET', KEYS[1], k)
    if v then
      local _, _, lease = fields(v)
      if lease == ARGV[4] then out[#out + 1] = k; out[#out + 1] = v end
    end
  end
  return out
end
promote(KEYS[2], KEYS[3], ARGV[1])
local keys = redis.call('ZRANGEBYLEX', KEYS[2], '-', ARGV[6], 'LIMIT', 0, tonumber(ARGV[3]))
if #keys == 0 then return out end
local values = hmget(KEYS[1], keys)
local records, scores = {}, {}
for i, k in ipairs(keys) do
  local _, deliveries, _, rest = fields(values[i])
  local v = ARGV[2] .. '|' .. (tonumber(deliveries) + 1) .. '|' .. ARGV[4] .. '|' .. rest
  records[#records + 1] = k; records[#records + 1] = v
  scores[#scores + 1] = ARGV[2]; scores[#scores + 1] = k
  out[#out + 1] = k; out[#out + 1] = v
end
bulk('HSET', KEYS[1], records)
bulk('ZADD', KEYS[3], scores)
bulk('ZREM', KEYS[2], keys)
redis.call('SET', KEYS[4], table.concat(keys, '\\31'), 'PX', ARGV[5])
return out
""")

# KEYS: items, ready, later, op.  ARGV: lease, now.  Gives back what a lease whose replies
# were all lost had claimed (the keys its op recorded that still hold its token): visible
# now, deliveries as before.  Returns how many.
_UNCLAIM = _Script(_LUA_HELPERS + """
local done = redis.call('GET', KEYS[4])
if not done then return 0 end
local back = {}
for k in string.gmatch(done, '[^\\31]+') do
  local v = redis.call('HGET', KEYS[1], k)
  if v then
    local _, deliveries, lease, rest = fields(v)
    if lease == ARGV[1] then
      redis.call('HSET', KEYS[1], k, ARGV[2] .. '|' .. (tonumber(deliveries) - 1) .. '||' .. rest)
      back[#back + 1] = k
    end
  end
end
if #back > 0 then
  local zero = {}
  for _, k in ipairs(back) do zero[#zero + 1] = 0; zero[#zero + 1] = k end
  bulk('ZREM', KEYS[3], back); bulk('ZADD', KEYS[2], zero)
end
redis.call('DEL', KEYS[4])
return #back
""")

# Receipts matched against the records: a '1' or '0' per receipt (a receipt repeated
# in one call matches once) and the matched keys.
_LUA_MATCH = """
local function match(items, first)
  local keys = {}
  for i = first, #ARGV, 2 do keys[#keys + 1] = ARGV[i] end
  local values = hmget(items, keys)
  local flags, matched, records, seen = {}, {}, {}, {}
  for n, k in ipairs(keys) do
    local ok = '0'
    if values[n] and not seen[k] then
      local _, _, lease = fields(values[n])
      if lease == ARGV[first + 2 * n - 1] then
        ok = '1'; seen[k] = true
        matched[#matched + 1] = k; records[#records + 1] = values[n]
      end
    end
    flags[#flags + 1] = ok
  end
  return table.concat(flags), matched, records
end
"""

# KEYS: items, ready, later, op.  ARGV: op ttl, then key, lease per receipt.
# Returns one '1' (deleted) or '0' (stale) per receipt.
_DELETE = _Script(_LUA_HELPERS + _LUA_MATCH + """
local done = redis.call('GET', KEYS[4])
if done then return done end
local result, matched = match(KEYS[1], 2)
if #matched > 0 then
  bulk('HDEL', KEYS[1], matched); bulk('ZREM', KEYS[3], matched); bulk('ZREM', KEYS[2], matched)
  redis.call('SET', KEYS[4], result, 'PX', ARGV[1])
end
return result
""")

# KEYS: items, ready, later, op.  ARGV: op ttl, now, visible_at, keep the lease ('1': extend)
# or not ('0': nack), then key, lease per receipt.  Extended items wait in `later`.
_RESCHEDULE = _Script(_LUA_HELPERS + _LUA_MATCH + """
local done = redis.call('GET', KEYS[4])
if done then return done end
local result, matched, old = match(KEYS[1], 5)
if #matched > 0 then
  local keep = ARGV[4] == '1'
  local visible = not keep and tonumber(ARGV[3]) <= tonumber(ARGV[2])
  local records, scored = {}, {}
  for n, k in ipairs(matched) do
    local _, deliveries, lease, rest = fields(old[n])
    if not keep then lease = '' end
    records[#records + 1] = k
    records[#records + 1] = ARGV[3] .. '|' .. deliveries .. '|' .. lease .. '|' .. rest
    scored[#scored + 1] = visible and 0 or ARGV[3]
    scored[#scored + 1] = k
  end
  bulk('HSET', KEYS[1], records)
  if visible then
    bulk('ZREM', KEYS[3], matched); bulk('ZADD', KEYS[2], scored)
  else
    bulk('ZREM', KEYS[2], matched); bulk('ZADD', KEYS[3], scored)
  end
  redis.call('SET', KEYS[4], result, 'PX', ARGV[1])
end
return result
""")

# KEYS: items, ready, later.  ARGV: key.
_DELETE_UNLEASED = _Script("""
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
""")

# KEYS: items, ready, later.  ARGV: limit, now ('' = every item, visible or not).
# Returns key, record, ... in key order.
_SCAN = _Script(_LUA_HELPERS + """
local limit = tonumber(ARGV[1])
if ARGV[2] ~= '' then promote(KEYS[2], KEYS[3], ARGV[2]) end
local keys = redis.call('ZRANGEBYLEX', KEYS[2], '-', '+', 'LIMIT', 0, limit)
if ARGV[2] == '' then
  -- every item: merge in the invisible keys, whose set is ordered by time, not key.
  -- Byte order by hand: Lua's string < follows the server's locale.
  local function before(a, b)
    for i = 1, math.min(#a, #b) do
      local x, y = string.byte(a, i), string.byte(b, i)
      if x ~= y then return x < y end
    end
    return #a < #b
  end
  for _, k in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    if #keys < limit or before(k, keys[#keys]) then
      local at = #keys + 1
      while at > 1 and before(k, keys[at - 1]) do at = at - 1 end
      table.insert(keys, at, k)
      if #keys > limit then table.remove(keys) end
    end
  end
end
local out = {}
for _, k in ipairs(keys) do
  out[#out + 1] = k; out[#out + 1] = redis.call('HGET', KEYS[1], k)
end
return out
""")


def _record(item: StoredItem) -> bytes:
    ident = item.id.encode()
    attributes = json.dumps(item.attributes, separators=(",", ":")).encode() \
        if item.attributes else b""
    return b"%d|%d|%s|%d|%d|%d|%d|%s%s%s" % (
        item.visible_at, item.deliveries, (item.lease or "").encode(), item.enqueued_at,
        item.priority, len(ident), len(attributes), ident, attributes, item.payload.encode())


def _item(key: bytes, record: bytes) -> StoredItem:
    visible_at, deliveries, lease, enqueued_at, priority, id_len, attr_len, tail = \
        record.split(b"|", 7)
    id_end = int(id_len)
    attr_end = id_end + int(attr_len)
    return StoredItem(key.decode(), tail[:id_end].decode(), tail[attr_end:].decode(),
                      int(priority), int(enqueued_at), int(visible_at), int(deliveries),
                      lease.decode() or None,
                      json.loads(tail[id_end:attr_end]) if attr_end > id_end else {})


def _pairs(reply: list) -> list[StoredItem]:
    return [_item(reply[n], reply[n + 1]) for n in range(0, len(reply), 2)]


class RedisQueueStore(_OnRedis, QueueStore):
    """Queue items in a hash and two sorted sets per queue."""

    def __init__(self, client: Any = None, prefix: str = "tlks", clock: Clock = time.time) -> None:
        _OnRedis.__init__(self, client if client is not None else redis_client_for(None), prefix)
        QueueStore.__init__(self, clock)

    def _keys(self, queue: str) -> list[str]:
        base = f"{self.prefix}:q:{{{queue}}}:"
        return [base + "i", base + "r", base + "l"]

    def _op_key(self, queue: str, op: str) -> str:
        return f"{self.prefix}:op:{{{queue}}}:{op}"

    def _append(self, queue: str, items: list[StoredItem]) -> None:
        args: list[Any] = [self.now_ms(), "0"]
        for item in items:
            args += (item.key, item.visible_at, _record(item))
        keys = self._keys(queue)
        tries = []

        def push() -> Any:
            # A retry keeps what an earlier attempt may have written (its reply was lost).
            args[1] = "1" if tries else "0"
            tries.append(1)
            return _APPEND(self.client, keys, args)
        self._call("push", push)

    def _claim(self, queue: str, limit: int, now: int, until: int,
               upto: str | None = None) -> list[StoredItem]:
        lease = self.new_lease()   # one token per claim; a receipt is (key, token)
        keys = self._keys(queue) + [self._op_key(queue, lease)]
        args = [now, until, limit, lease, OP_MEMORY_MS, "+" if upto is None else "[" + upto]
        try:
            reply = self._call("lease", lambda: _CLAIM(self.client, keys, args))
        except StorageUnavailable:
            # Every reply lost: the script may have run.  Give back what it claimed, if
            # the server answers now; if not, the items return when the lease runs out.
            try:
                self._call("lease", lambda: _UNCLAIM(self.client, keys, [lease, now]))
            except StorageUnavailable:
                pass
            raise
        return _pairs(reply)

    def _settle_refs(self, operation: str, script: _Script, queue: str, head: list,
                     refs: list[Ref]) -> list[bool]:
        """One script call per ``SETTLE_CHUNK`` receipts, each with its own operation id."""
        results: list[bool] = []
        for start in range(0, len(refs), SETTLE_CHUNK):
            keys = self._keys(queue) + [self._op_key(queue, secrets.token_hex(8))]
            args = [OP_MEMORY_MS, *head]
            for ref in refs[start:start + SETTLE_CHUNK]:
                args += (ref.key, ref.lease)
            reply = self._call(operation, lambda: script(self.client, keys, args))
            results += [flag == ord("1") for flag in reply] if isinstance(reply, bytes) \
                else [flag == "1" for flag in reply]
        return results

    def _reschedule(self, queue: str, refs: list[Ref], visible_at: int,
                    keep_lease: bool) -> list[bool]:
        return self._settle_refs("extend" if keep_lease else "nack", _RESCHEDULE, queue,
                                 [self.now_ms(), visible_at, "1" if keep_lease else "0"], refs)

    def _delete(self, queue: str, refs: list[Ref]) -> list[bool]:
        return self._settle_refs("ack", _DELETE, queue, [], refs)

    def _delete_unleased(self, queue: str, key: str) -> None:
        keys = self._keys(queue)
        self._call("delete", lambda: _DELETE_UNLEASED(self.client, keys, [key]))

    def _scan(self, queue: str, limit: int, now: int | None) -> list[StoredItem]:
        if limit <= 0:
            return []
        keys, args = self._keys(queue), [limit, "" if now is None else now]
        return _pairs(self._call("scan", lambda: _SCAN(self.client, keys, args)))

    def _count(self, queue: str, now: int) -> Sizes:
        _, ready, later = self._keys(queue)

        def counts() -> list:
            pipe = self.client.pipeline(transaction=True)
            pipe.zcard(ready)
            pipe.zcount(later, "-inf", now)
            pipe.zcard(later)
            return pipe.execute()
        visible, due, waiting = self._call("size", counts)
        return Sizes(visible + due, waiting - due)

    def _purge(self, queue: str) -> None:
        keys = self._keys(queue)
        self._call("purge", lambda: self.client.unlink(*keys))
