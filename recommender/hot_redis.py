"""The Redis store for hot items: the same counts as `MemoryStore`, shared by every worker and replica.

One Lua script counts a whole batch on the server (one round trip per batch, atomic): for each order it sets
``seen:<key>`` with NX (a replayed order is not counted twice, in any worker) and increments four hashes,
the minute and hour buckets of the good and of the (room, good). Keys expire (minute buckets after two
hours, hour buckets and seen orders after eight days), so memory is bounded by a week of orders however long
the service runs. Reads pipeline the bucket keys of the window: one round trip per question.

Works with a single Redis (or a primary with replicas); the script touches keys it computes itself, which
Redis Cluster does not allow.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import redis

from recommender.hot import HOURS, Orders

_COUNT = """
local p, mttl, httl, sttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = tonumber(redis.call('GET', p .. 'now') or '-1')
local touched_m, touched_h, new = {}, {}, 0
for i = 5, #ARGV, 4 do
  if redis.call('SET', p .. 'seen:' .. ARGV[i], 1, 'NX', 'EX', sttl) then
    local a, g, m = ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
    local h = math.floor(m / 60)
    local pm, ph = p .. 'pm:' .. m, p .. 'ph:' .. h
    local rm, rh = p .. 'rm:' .. a .. ':' .. m, p .. 'rh:' .. a .. ':' .. h
    redis.call('HINCRBY', pm, g, 1)
    redis.call('HINCRBY', ph, g, 1)
    redis.call('HINCRBY', rm, g, 1)
    redis.call('HINCRBY', rh, g, 1)
    touched_m[pm] = true; touched_m[rm] = true; touched_h[ph] = true; touched_h[rh] = true
    if m > now then now = m end
    new = new + 1
  end
end
for k in pairs(touched_m) do redis.call('EXPIRE', k, mttl) end
for k in pairs(touched_h) do redis.call('EXPIRE', k, httl) end
if new > 0 then redis.call('SET', p .. 'now', now) end
return new
"""

_ADVANCE = """
local now = tonumber(redis.call('GET', KEYS[1]) or '-1')
local m = tonumber(ARGV[1])
if m > now then redis.call('SET', KEYS[1], m); return m end
return now
"""


class StoreUnavailable(RuntimeError):
    """The store cannot be reached; callers serve what they last knew."""


class RedisStore:
    kind = "redis"

    def __init__(self, url: str, prefix: str = "xp:hot:", timeout: float = 2.0, batch: int = 500) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.prefix, self.batch = prefix, batch
        self._count = self.client.register_script(_COUNT)
        self._advance = self.client.register_script(_ADVANCE)

    def _run(self, fn, *args):
        try:
            return fn(*args)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(f"redis unreachable: {exc}") from exc

    def add(self, orders: Orders) -> int:
        ttl = [2 * 3600, 8 * 86400, 8 * 86400]
        new = 0
        for start in range(0, len(orders), self.batch):
            part = slice(start, start + self.batch)
            args = np.column_stack([orders.key[part].astype(str), orders.anchor[part], orders.product[part],
                                    orders.minute[part].astype(str)]).ravel().tolist()
            new += int(self._run(self._count, [], [self.prefix, *ttl, *args]))
        return new

    def now(self) -> int | None:
        value = self._run(self.client.get, self.prefix + "now")
        return None if value is None else int(value)

    def advance(self, minute: int) -> None:
        self._run(self._advance, [self.prefix + "now"], [int(minute)])

    def _room(self, anchor: str | None) -> tuple[str, str]:
        return (f"{self.prefix}pm:", f"{self.prefix}ph:") if anchor is None else \
            (f"{self.prefix}rm:{anchor}:", f"{self.prefix}rh:{anchor}:")

    def recent(self, span: int, min_orders: int, anchor: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        now = self.now()
        if now is None:
            return np.zeros(0, str), np.zeros(0, np.int64)
        minute_key, _ = self._room(anchor)

        def read():
            pipe = self.client.pipeline(transaction=False)
            for m in range(now - span + 1, now + 1):
                pipe.hgetall(f"{minute_key}{m}")
            return pipe.execute()

        total: Counter = Counter()
        for bucket in self._run(read):
            total.update({k: int(v) for k, v in bucket.items()})
        hot = sorted((k.decode(), n) for k, n in total.items() if n >= min_orders)
        return np.array([k for k, _ in hot], str), np.array([n for _, n in hot], np.int64)

    def history(self, products: np.ndarray, anchor: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        now = self.now()
        if now is None or not len(products):
            return np.zeros(len(products), np.int64), np.zeros(len(products), np.int64)
        _, hour_key = self._room(anchor)
        fields = products.tolist()

        def read():
            pipe = self.client.pipeline(transaction=False)
            for h in range(now // 60 - HOURS + 1, now // 60 + 1):  # oldest first: the last 24 are the day
                pipe.hmget(f"{hour_key}{h}", fields)
            return pipe.execute()

        counts = np.array([[int(v or 0) for v in row] for row in self._run(read)], np.int64)
        return counts[-24:].sum(axis=0), counts.sum(axis=0)

    def claim(self, name: str, seconds: int = 8 * 86400) -> bool:
        """True for the first caller of `name` within `seconds` (e.g. the one worker that bootstraps)."""
        return bool(self._run(lambda: self.client.set(self.prefix + name, 1, ex=seconds, nx=True)))

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False
