"""The Redis store for hot items: the same counts as `MemoryStore`, shared by every worker and replica.

One Lua script counts a whole batch on the server (one round trip per batch, atomic): for each order it adds
its key to the sorted set of orders seen (scored by the order's minute, trimmed to the kept week), so a replayed
order is not counted twice in any worker, even resent with a corrected time; it then increments four hashes,
the minute and hour buckets of the good and of the (room, good). Keys expire (minute buckets after two hours,
hour buckets and the seen set after eight days), so memory is bounded by a week of orders however long the
service runs. Per-hour seen sets (``seen:<hour>``) written by earlier versions are still consulted until they
expire, so an upgrade against a running Redis counts nothing twice. Reads sum the window's buckets inside
Redis, so only the goods that qualify cross the wire. Platform buckets are split into 16 shards by good and read
one shard per script, so under a flood of orders no single script holds Redis (single-threaded) for long: a
room's lookup from another worker is served between them. A start-up load (`load`) writes pre-aggregated counts
instead, 5000 increments per script (1.7M orders in about 37 s, most of it Redis's own time; hiredis encodes the
commands).

Works with a single Redis (or a primary with replicas); the script touches keys it computes itself, which
Redis Cluster does not allow.
"""

from __future__ import annotations

import json
import zlib

import numpy as np
import pandas as pd
import redis

from recommender.errors import StoreUnavailable
from recommender.hot.config import HotConfig
from recommender.hot.counts import HOURS
from recommender.hot.orders import Orders

_COUNT = """
local p, mttl, httl, keep, rttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now = tonumber(redis.call('GET', p .. 'now') or '-1')
local seen = p .. 'seen'
local touched_m, touched_h, touched_r, new = {}, {}, {}, 0
for i = 6, #ARGV, 5 do
  local a, g, m, sh = ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 4]
  local h = math.floor(m / 60)
  if redis.call('SISMEMBER', p .. 'seen:' .. h, ARGV[i]) == 0 and redis.call('ZADD', seen, 'NX', m, ARGV[i]) == 1 then
    local pm, ph = p .. 'pm:' .. m .. ':' .. sh, p .. 'ph:' .. h .. ':' .. sh
    local rm, rh = p .. 'rm:' .. a .. ':' .. m, p .. 'rh:' .. a .. ':' .. h
    redis.call('HINCRBY', pm, g, 1)
    redis.call('HINCRBY', ph, g, 1)
    redis.call('HINCRBY', rm, g, 1)
    redis.call('HINCRBY', rh, g, 1)
    redis.call('HINCRBY', p .. 'tot', h, 1)
    touched_m[pm] = true; touched_m[rm] = true; touched_h[ph] = true; touched_h[rh] = true
    touched_h[p .. 'tot'] = true
    local ord = p .. 'ord:' .. h  -- where it was counted, for a refund (kept REFUND_TTL)
    redis.call('HSET', ord, ARGV[i], cjson.encode({a, g, m, sh}))
    touched_r[ord] = true
    if m > now then now = m end
    new = new + 1
  end
end
for k in pairs(touched_m) do redis.call('EXPIRE', k, mttl) end
for k in pairs(touched_h) do redis.call('EXPIRE', k, httl) end
for k in pairs(touched_r) do redis.call('EXPIRE', k, rttl) end
if new > 0 then
  redis.call('SET', p .. 'now', now)
  redis.call('ZREMRANGEBYSCORE', seen, '-inf', now - keep)
  redis.call('EXPIRE', seen, httl)
end
return new
"""

_REFUND = """
local p, httl, back = ARGV[1], tonumber(ARGV[2]), 0
for i = 3, #ARGV, 2 do
  local key, m = ARGV[i], tonumber(ARGV[i + 1])
  local h = math.floor(m / 60)
  local ord, place = nil, false
  for _, oh in ipairs({h, h - 1, h + 1}) do  -- its hour, or one beside it: a refund's ordered_at read a little off
    ord = p .. 'ord:' .. oh
    place = redis.call('HGET', ord, key)
    if place then break end
  end
  if place then  -- counted: off every bucket that still holds it
    redis.call('HDEL', ord, key)
    local at = cjson.decode(place)
    local a, g, om, sh = at[1], at[2], at[3], at[4]
    local oh = math.floor(tonumber(om) / 60)
    for _, k in ipairs({p .. 'pm:' .. om .. ':' .. sh, p .. 'ph:' .. oh .. ':' .. sh, p .. 'rm:' .. a .. ':' .. om,
                        p .. 'rh:' .. a .. ':' .. oh}) do
      if redis.call('HEXISTS', k, g) == 1 then redis.call('HINCRBY', k, g, -1) end
    end
    if redis.call('HEXISTS', p .. 'tot', oh) == 1 then redis.call('HINCRBY', p .. 'tot', oh, -1) end
    back = back + 1
  elseif redis.call('SISMEMBER', p .. 'seen:' .. h, key) == 0
      and redis.call('ZADD', p .. 'seen', 'NX', m, key) == 1 then
    redis.call('EXPIRE', p .. 'seen', httl)  -- not seen yet: the order arriving after its refund is a duplicate
  end
end
return back
"""

_RECENT = """
local total = {}
for i = 1, #KEYS do
  local kv = redis.call('HGETALL', KEYS[i])
  for j = 1, #kv, 2 do total[kv[j]] = (total[kv[j]] or 0) + tonumber(kv[j + 1]) end
end
local least, out = tonumber(ARGV[1]), {}
for k, n in pairs(total) do
  if n >= least then out[#out + 1] = k; out[#out + 1] = n end
end
return out
"""

_HISTORY = """
local nday, mask, n = tonumber(ARGV[1]), ARGV[2], #ARGV - 2
local day, week, bday, bweek = {}, {}, {}, {}
for j = 1, n do day[j] = 0; week[j] = 0; bday[j] = 0; bweek[j] = 0 end
for i = 1, #KEYS do
  local values = redis.call('HMGET', KEYS[i], unpack(ARGV, 3))
  local inday, base = i > #KEYS - nday, string.sub(mask, i, i) == '1'
  for j = 1, n do
    local v = tonumber(values[j]) or 0
    week[j] = week[j] + v
    if inday then day[j] = day[j] + v end
    if base then
      bweek[j] = bweek[j] + v
      if inday then bday[j] = bday[j] + v end
    end
  end
end
return {day, week, bday, bweek}
"""

_COUNTED = """
local shards, prefix, totals, out = tonumber(ARGV[1]), ARGV[2], ARGV[3], {}
for i = 4, #ARGV do
  for s = 0, shards - 1 do
    if redis.call('EXISTS', prefix .. ARGV[i] .. ':' .. s) == 1 then
      out[#out + 1] = ARGV[i]
      out[#out + 1] = redis.call('HGET', totals, ARGV[i]) or '-1'
      break
    end
  end
end
return out
"""

_INCREMENTS = """
local ttl, touched = tonumber(ARGV[1]), {}
for i = 2, #ARGV, 3 do
  redis.call('HINCRBY', ARGV[i], ARGV[i + 1], ARGV[i + 2])
  touched[ARGV[i]] = true
end
for k in pairs(touched) do redis.call('EXPIRE', k, ttl) end
return 0
"""

_ADVANCE = """
local now = tonumber(redis.call('GET', KEYS[1]) or '-1')
local m = tonumber(ARGV[1])
if m > now then redis.call('SET', KEYS[1], m); return m end
return now
"""


MINUTE_TTL = 2 * 3600  # seconds a minute bucket lives: only the last hour is ever read
REFUND_TTL = 25 * 3600  # seconds an order's place is kept for a refund to take it back: a day, and the hour it is in
WEEK_TTL = 8 * 86400  # hour buckets, seen-sets and markers: the last week is read
SEEN_MINUTES = (HOURS + 1) * 60  # orders this much older than the newest are forgotten (their buckets are not read)
SHARDS = 16  # platform buckets are split by good, so no single script blocks Redis for long under a flood
HISTORY_CHUNK = 64  # goods per history script: 168 x 64 reads, a few ms of Redis time
LOAD_CHUNK = 5000  # (bucket, good, count) increments per script of a start-up load: a few ms of Redis time


def shard_of(products: np.ndarray) -> np.ndarray:
    """A good's shard: crc32 of its id, the same in every process."""
    return np.fromiter((zlib.crc32(p.encode()) % SHARDS for p in products.tolist()), np.int64, len(products))


_DEFAULTS = HotConfig()


class RedisStore:
    kind = "redis"
    concurrent = True  # each call is one atomic command or script on the server

    def __init__(self, url: str, prefix: str = _DEFAULTS.redis_prefix, timeout: float = _DEFAULTS.redis_timeout,
                 batch: int = 500) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.prefix, self.batch = prefix, batch
        self._count = self.client.register_script(_COUNT)
        self._refund = self.client.register_script(_REFUND)
        self._advance = self.client.register_script(_ADVANCE)
        self._history_script = self.client.register_script(_HISTORY)
        self._recent_script = self.client.register_script(_RECENT)
        self._counted = self.client.register_script(_COUNTED)
        #: the clock's minute and the hour totals read then (dropped by this worker's own writes)
        self._totals_at: tuple[int, tuple[np.ndarray, np.ndarray]] | None = None
        self._increments = self.client.register_script(_INCREMENTS)

    def _run(self, fn, *args):
        try:
            return fn(*args)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(f"redis unreachable: {exc}") from exc
        except redis.RedisError as exc:  # up but refusing: out of memory, a read-only replica after a failover,
            # a database index it does not have; the hot routes degrade as when it is down, and recover with it
            raise StoreUnavailable(f"redis refused: {type(exc).__name__}: {exc}") from exc

    def add(self, orders: Orders) -> int:
        self._totals_at = None
        ttl = [MINUTE_TTL, WEEK_TTL, SEEN_MINUTES, REFUND_TTL]
        new = 0
        for start in range(0, len(orders), self.batch):
            part = slice(start, start + self.batch)
            args = np.column_stack([orders.key[part].astype(str), orders.anchor[part], orders.product[part],
                                    orders.minute[part].astype(str), shard_of(orders.product[part]).astype(str)]
                                   ).ravel().tolist()
            new += int(self._run(self._count, [], [self.prefix, *ttl, *args]))
        return new

    def refund(self, orders: Orders) -> int:
        """Take refunded orders back off the counts (those counted within REFUND_TTL, found by their id and the
        hour of their ordered_at or one beside it); an order not seen yet is remembered, so it is not counted
        when it arrives."""
        self._totals_at = None
        back = 0
        for start in range(0, len(orders), self.batch):
            part = slice(start, start + self.batch)
            args = np.column_stack([orders.key[part].astype(str), orders.minute[part].astype(str)]).ravel().tolist()
            back += int(self._run(self._refund, [], [self.prefix, WEEK_TTL, *args]))
        return back

    def load(self, orders: Orders) -> int:
        """Count a large history at once (a service's start, or a week Redis lost): only orders whose ids the
        store has not seen, so nothing already counted by the stream or another replica is counted again. (By
        the ids, not by the store's clock: after Redis lost its data, the first live order sets the clock past
        the whole week, which would then never be counted again.) Counts are aggregated per bucket and written in
        pipelines; minute buckets only for the last hour, the only one ever read."""
        self._totals_at = None
        o = orders
        if self.now() is not None and len(o):
            o = o.take(np.flatnonzero(~self._seen(o.key.astype(str))))
        if not len(o):
            return 0
        df = pd.DataFrame({"key": o.key.astype(str), "a": o.anchor, "p": o.product, "m": o.minute,
                           "h": o.minute // 60, "s": shard_of(o.product)}).drop_duplicates("key")
        last = int(df["m"].max())
        recent = df[df["m"] > last - 60]
        p = self.prefix
        ttl_m, ttl_h = MINUTE_TTL, WEEK_TTL

        def write():
            for name, frame, cols, ttl in (("pm", recent, ["m", "s"], ttl_m), ("ph", df, ["h", "s"], ttl_h),
                                           ("rm", recent, ["a", "m"], ttl_m), ("rh", df, ["a", "h"], ttl_h)):
                counts = frame.groupby([*cols, "p"], sort=False).size().reset_index(name="n")
                keys = f"{p}{name}:" + counts[cols[0]].astype(str) + ":" + counts[cols[1]].astype(str)
                args = np.column_stack([keys.to_numpy(str), counts["p"].to_numpy(str), counts["n"].to_numpy(str)]
                                       ).ravel().tolist()
                for start in range(0, len(args), 3 * LOAD_CHUNK):  # one script per chunk: few commands to encode
                    self._increments([], [ttl, *args[start:start + 3 * LOAD_CHUNK]])
            per_hour = df.groupby("h").size()  # the platform's orders per hour (what tells whole hours)
            args = [x for h, n in per_hour.items() for x in (f"{p}tot", str(h), str(n))]
            for start in range(0, len(args), 3 * LOAD_CHUNK):
                self._increments([], [ttl_h, *args[start:start + 3 * LOAD_CHUNK]])
            pipe = self.client.pipeline(transaction=False)
            members = dict(zip(df["key"].tolist(), df["m"].tolist(), strict=True))
            keys = list(members)
            for start in range(0, len(keys), 10_000):
                pipe.zadd(f"{p}seen", {k: members[k] for k in keys[start:start + 10_000]}, nx=True)
            pipe.zremrangebyscore(f"{p}seen", "-inf", last - SEEN_MINUTES)
            pipe.expire(f"{p}seen", ttl_h)
            # where the last day's orders were counted, as the count script keeps it, so a refund of a loaded
            # order (a sale in the snapshot refunded since) takes it back as it would a streamed one's
            day = df[df["m"] > last - REFUND_TTL // 60]
            places = [json.dumps([a, g, m, str(sh)], separators=(",", ":"), ensure_ascii=False)
                      for a, g, m, sh in zip(day["a"].tolist(), day["p"].tolist(), day["m"].tolist(),
                                             day["s"].tolist(), strict=True)]
            by_hour: dict[int, dict[str, str]] = {}
            for key, h, place in zip(day["key"].tolist(), day["h"].tolist(), places, strict=True):
                by_hour.setdefault(h, {})[key] = place
            for h, mapping in by_hour.items():
                items = list(mapping.items())
                for start in range(0, len(items), 10_000):
                    pipe.hset(f"{p}ord:{h}", mapping=dict(items[start:start + 10_000]))
                pipe.expire(f"{p}ord:{h}", REFUND_TTL)
            pipe.execute()
            self._advance([p + "now"], [last])

        self._run(write)
        return len(df)

    def _seen(self, keys: np.ndarray, chunk: int = 10_000) -> np.ndarray:
        """Which order ids the store's seen set holds (ZMSCORE, a pipeline of chunks)."""
        def run() -> np.ndarray:
            pipe = self.client.pipeline(transaction=False)
            for start in range(0, len(keys), chunk):
                pipe.zmscore(f"{self.prefix}seen", keys[start:start + chunk].tolist())
            scores = [score for part in pipe.execute() for score in part]
            return np.array([score is not None for score in scores], bool)

        return self._run(run)

    def now(self) -> int | None:
        value = self._run(self.client.get, self.prefix + "now")
        return None if value is None else int(value)

    def advance(self, minute: int) -> None:
        self._run(self._advance, [self.prefix + "now"], [int(minute)])

    def _room(self, anchor: str | None) -> tuple[str, str]:
        return (f"{self.prefix}pm:", f"{self.prefix}ph:") if anchor is None else \
            (f"{self.prefix}rm:{anchor}:", f"{self.prefix}rh:{anchor}:")

    def recent(self, span: int, min_orders: int, anchor: str | None = None,
               now: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        now = self.now() if now is None else now
        if now is None:
            return np.zeros(0, str), np.zeros(0, np.int64)
        minutes = range(now - span + 1, now + 1)
        if anchor is None:  # one script per shard: Redis serves other clients between them
            key_sets = [[f"{self.prefix}pm:{m}:{sh}" for m in minutes] for sh in range(SHARDS)]
        else:
            key_sets = [[f"{self.prefix}rm:{anchor}:{m}" for m in minutes]]
        found = []
        for keys in key_sets:
            got = self._run(self._recent_script, keys, [min_orders])  # summed in Redis: only the few come back
            found += zip((k.decode() for k in got[0::2]), got[1::2], strict=True)
        found.sort()
        return np.array([k for k, _ in found], str), np.array([n for _, n in found], np.int64)

    def history(self, products: np.ndarray, anchor: str | None = None,
                now: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.history_and_baseline(products, np.zeros(0, np.int64), anchor, now)[:2]

    def history_and_baseline(self, products: np.ndarray, hours: np.ndarray, anchor: str | None = None,
                             now: int | None = None) -> tuple[np.ndarray, ...]:
        """history() and the baseline's sums in one pass over the week's buckets (a mask of `hours`)."""
        now = self.now() if now is None else now
        out = tuple(np.zeros(len(products), np.int64) for _ in range(4))
        if now is None or not len(products):
            return out
        week = range(now // 60 - HOURS + 1, now // 60 + 1)  # oldest first: the last 24 are the day
        chosen = set(np.asarray(hours, np.int64).tolist())
        mask = "".join("1" if h in chosen else "0" for h in week)
        if anchor is None:
            shards = shard_of(products)
            parts = [(np.flatnonzero(shards == sh), [f"{self.prefix}ph:{h}:{sh}" for h in week])
                     for sh in range(SHARDS)]
        else:
            parts = [(np.arange(len(products)), [f"{self.prefix}rh:{anchor}:{h}" for h in week])]
        for rows, keys in parts:
            for start in range(0, len(rows), HISTORY_CHUNK):  # bounded script time: others are served between
                chunk = rows[start:start + HISTORY_CHUNK]
                sums = self._run(self._history_script, keys, [24, mask, *products[chunk].tolist()])
                for target, got in zip(out, sums, strict=True):
                    target[chunk] = got
        return out

    def hour_totals(self, now: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Hours with any platform bucket (one EXISTS per hour and shard, in one script: about a millisecond of
        Redis time, read at most once per minute of the store's clock and after its own writes), and each
        hour's orders (`tot`; NaN for hours counted by an earlier version, which kept none)."""
        now = self.now() if now is None else now
        if now is None:
            return np.zeros(0, np.int64), np.zeros(0)
        if self._totals_at is not None and self._totals_at[0] == now:  # rooms' lists ask too
            return self._totals_at[1]
        hours = list(range(now // 60 - HOURS + 1, now // 60 + 1))
        found = self._run(self._counted, [], [SHARDS, f"{self.prefix}ph:", f"{self.prefix}tot", *hours])
        pairs = sorted((int(h), float(n)) for h, n in zip(found[0::2], found[1::2], strict=True))
        out = (np.array([h for h, _ in pairs], np.int64),
               np.array([n if n >= 0 else np.nan for _, n in pairs], np.float64))
        self._totals_at = (now, out)
        return out

    def claim(self, name: str, value: str = "1", seconds: int = WEEK_TTL) -> bool:
        """True for the first caller of `name` within `seconds` (e.g. the one worker that bootstraps)."""
        return bool(self._run(lambda: self.client.set(self.prefix + name, value, ex=seconds, nx=True)))

    def mark(self, name: str, value: str | bytes, seconds: float = WEEK_TTL) -> None:
        """Publish `value` under `name` for `seconds`, to every worker and replica."""
        self._run(lambda: self.client.set(self.prefix + name, value, px=max(1, round(seconds * 1000))))

    def lease(self, name: str, seconds: float) -> bool:
        """True for one caller per `seconds` (e.g. the worker that computes the platform list this round)."""
        return bool(self._run(lambda: self.client.set(self.prefix + name, "1", px=max(1, round(seconds * 1000)),
                                                      nx=True)))

    def fetch(self, name: str) -> bytes | None:
        return self._run(self.client.get, self.prefix + name)
