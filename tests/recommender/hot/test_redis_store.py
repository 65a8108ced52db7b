"""The Redis store: failures surface as StoreUnavailable, and its keys keep the layout earlier versions wrote,
so a service upgraded against a running Redis reads the counts already there."""

from __future__ import annotations

import numpy as np
import pytest
import redis

from recommender.errors import StoreUnavailable
from recommender.hot.burst import detect
from recommender.hot.config import HotConfig
from recommender.hot.orders import Orders
from recommender.hot.redis_store import RedisStore, shard_of
from tests.conftest import redis_server
from tests.recommender.hot.conftest import T0, burst_at


def test_a_dead_redis_raises_store_unavailable_not_a_connection_error():
    with redis_server() as (proc, url):
        store = RedisStore(url, prefix="dead:", timeout=0.2)
        burst_at(store, 0, 1, T0, 6, 3, "d")
        proc.kill()
        proc.wait()
        with pytest.raises(StoreUnavailable, match="redis unreachable"):
            detect(store, HotConfig())
        with pytest.raises(StoreUnavailable):
            burst_at(store, 0, 1, T0, 6, 3, "e")


def test_counts_are_kept_under_the_key_names_earlier_versions_used(redis_url):
    order = Orders.of(["o1"], ["room"], ["good"], [T0])
    RedisStore(redis_url, prefix="layout:").add(order)
    shard, hour = int(shard_of(np.array(["good"]))[0]), T0 // 60
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert client.get("layout:now") == str(T0)
    for key in (f"layout:pm:{T0}:{shard}", f"layout:ph:{hour}:{shard}", f"layout:rm:room:{T0}",
                f"layout:rh:room:{hour}"):
        assert client.hget(key, "good") == "1", key
    assert client.zscore("layout:seen", str(order.key[0])) == T0  # orders seen: one set over the week


def test_an_order_resent_with_a_corrected_time_counts_once(redis_url):
    """The same order id an hour (or a day) later is the same order: counted once, in Redis as in process."""
    from recommender.hot.memory import MemoryStore

    first = Orders.of(["o-7"], ["room"], ["good"], [T0])
    for later in (T0 + 61, T0 + 1440):
        again = Orders.of(["o-7"], ["room"], ["good"], [later])
        for store in (RedisStore(redis_url, prefix=f"resent{later}:"), MemoryStore()):
            assert store.add(first) == 1 and store.add(again) == 0, (store.kind, later)
            assert store.history(np.array(["good"]), now=later)[1].tolist() == [1]


def test_orders_an_earlier_version_marked_seen_are_not_counted_again(redis_url):
    """Upgraded against a running Redis: an order in the per-hour seen set the previous version wrote."""
    order = Orders.of(["o-9"], ["room"], ["good"], [T0])
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.sadd(f"upgrade:seen:{T0 // 60}", str(order.key[0]))
    assert RedisStore(redis_url, prefix="upgrade:").add(order) == 0


def test_the_seen_set_forgets_orders_older_than_the_kept_week(redis_url):
    store = RedisStore(redis_url, prefix="trim:")
    store.add(Orders.of(["old"], ["room"], ["good"], [T0]))
    store.add(Orders.of(["new"], ["room"], ["good"], [T0 + 170 * 60]))
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = Orders.of(["old", "new"], ["room", "room"], ["good", "good"], [T0, T0]).key.astype(str)
    assert client.zscore("trim:seen", keys[0]) is None and client.zscore("trim:seen", keys[1]) is not None


def test_an_order_resent_a_week_later_with_a_corrected_time_still_counts_once(redis_url):
    """The seen set keeps the week whose hour buckets are read plus the current hour: an order first sent 168.5
    hours before its correction is still recognised (its first count's bucket may still be read)."""
    store = RedisStore(redis_url, prefix="week:")
    assert store.add(Orders.of(["o-1"], ["room"], ["good"], [T0])) == 1
    assert store.add(Orders.of(["o-1"], ["room"], ["good"], [T0 + 168 * 60 + 30])) == 0
    assert store.add(Orders.of(["o-2"], ["room"], ["good"], [T0 + 168 * 60 + 30])) == 1


def test_keys_expire_once_they_can_no_longer_be_read(redis_url):
    """Memory stays bounded by a week of orders: minute buckets (only the last hour is read) live more than an
    hour and at most two; hour buckets and the seen set more than the week and at most eight days; the same for
    a start-up load's keys."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    hour, shard = T0 // 60, int(shard_of(np.array(["good"]))[0])
    for prefix, write in (("ttl-add:", "add"), ("ttl-load:", "load")):
        store = RedisStore(redis_url, prefix=prefix)
        getattr(store, write)(Orders.of(["o1"], ["room"], ["good"], [T0]))
        for key in (f"{prefix}pm:{T0}:{shard}", f"{prefix}rm:room:{T0}"):
            assert 3600 < client.ttl(key) <= 2 * 3600, (write, key)
        for key in (f"{prefix}ph:{hour}:{shard}", f"{prefix}rh:room:{hour}", f"{prefix}seen"):
            assert 7 * 86400 < client.ttl(key) <= 8 * 86400, (write, key)


def test_a_start_up_load_remembers_only_the_kept_week_of_order_ids(redis_url):
    """A history of ten days, one order a day: the seen set keeps the orders of the last 169 hours only."""
    store = RedisStore(redis_url, prefix="load-trim:")
    days = 10
    history = Orders.of([f"h{d}" for d in range(days)], ["room"] * days, ["good"] * days, T0 - np.arange(days) * 1440)
    assert store.load(history) == days
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    kept = set(client.zrange("load-trim:seen", 0, -1))
    assert kept == set(history.key[:8].astype(str))  # 0 to 7 days old; 8 and 9 days are past 169 hours


def test_a_start_up_load_larger_than_one_script_counts_every_order(redis_url):
    """7,000 goods sold once an hour ago: more increments than one script takes (LOAD_CHUNK), every one counted."""
    store = RedisStore(redis_url, prefix="big-load:")
    n = 7000
    goods = np.array([f"g{i}" for i in range(n)])
    assert store.load(Orders.of([f"o{i}" for i in range(n)], ["room"] * n, goods, np.full(n, T0 - 61))) == n
    day, week = store.history(goods)
    assert (day == 1).all() and (week == 1).all()
    room_day, _ = store.history(goods[:100], "room")
    assert (room_day == 1).all()


def test_a_week_redis_lost_is_counted_again_around_the_orders_that_came_since(redis_url):
    """Redis restarted without its data while orders stream in: the first new order sets the store's clock past
    the whole week; the week's recount must still count every order of it, and the new one once."""
    store = RedisStore(redis_url, prefix="lost:")
    n = 50
    week = Orders.of([f"w{i}" for i in range(n)], ["room"] * n, ["good"] * n, T0 - 60 * np.arange(n))  # 50 hours
    assert store.load(week) == n
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("lost:*"):  # what a restart without persistence leaves: nothing
        client.delete(key)
    live = Orders.of(["live-1"], ["room"], ["good"], [T0 + 5])
    assert store.add(live) == 1 and store.now() == T0 + 5
    assert store.load(week) == n  # the recount: every order of the week, though all are older than the clock
    day, seven = store.history(np.array(["good"]), now=T0 + 5)
    assert seven.tolist() == [n + 1] and day.tolist() == [25]  # 24 of the week's hours plus the live order
    assert store.load(week) == 0  # counted once: a second load finds every id seen


def test_a_start_up_load_skips_the_orders_the_stream_counted_whatever_their_time(redis_url):
    store = RedisStore(redis_url, prefix="skip-seen:")
    streamed = Orders.of(["s1"], ["room"], ["good"], [T0 - 120])  # an order the stream counted, two hours ago
    store.add(Orders.of(["s0"], ["room"], ["good"], [T0]))
    store.add(streamed)
    week = Orders.of(["s1", "old1", "old2"], ["room"] * 3, ["good"] * 3, [T0 - 120, T0 - 180, T0 - 240])
    assert store.load(week) == 2  # s1 already counted; the two older orders were not, and now are
    assert store.history(np.array(["good"]), now=T0)[1].tolist() == [4]


def test_a_mark_lasts_the_seconds_asked_and_a_lease_too(redis_url):
    store = RedisStore(redis_url, prefix="pttl:")
    client = redis.Redis.from_url(redis_url)
    store.mark("list", "x", seconds=60)
    assert 59_000 < client.pttl("pttl:list") <= 60_000
    assert store.lease("lease", 2.5) and 2_000 < client.pttl("pttl:lease") <= 2_500


def test_a_redis_that_lost_its_data_has_counted_no_hour_and_warms_up_again(redis_url):
    store = RedisStore(redis_url, prefix="lost:")
    t = T0 - np.arange(0, 5 * 60, 10)
    store.add(Orders.of([f"o{i}" for i in range(len(t))], np.ones(len(t)), np.zeros(len(t), int), t))
    assert not detect(store, HotConfig()).warming_up
    for key in store.client.scan_iter("lost:*"):  # restarted without persistence
        store.client.delete(key)
    burst_at(store, 0, 1, T0 + 5, 6, 3, "after")
    assert store.hour_totals()[0].tolist() == [(T0 + 5) // 60] and detect(store, HotConfig()).warming_up


def test_a_worker_s_hours_read_this_minute_are_read_again_after_its_own_writes(redis_url):
    """The hours counted are kept for a minute of the store's clock; a load or an add by this worker (the
    model's week arriving, orders after Redis lost its data) is seen at once, not a minute later."""
    store = RedisStore(redis_url, prefix="fresh:")
    burst_at(store, 0, 1, T0, 6, 3, "first")
    assert store.hour_totals()[0].tolist() == [T0 // 60]
    t = T0 - 60 * np.arange(1, 5)
    store.load(Orders.of([f"w{i}" for i in range(len(t))], np.ones(len(t)), np.zeros(len(t), int), t))
    assert store.hour_totals()[0].tolist() == sorted([*(t // 60).tolist(), T0 // 60])


def test_hours_counted_by_an_earlier_version_have_no_totals_and_are_taken_as_whole(redis_url):
    store = RedisStore(redis_url, prefix="older:")
    t = T0 - np.arange(0, 5 * 60, 10)
    store.add(Orders.of([f"o{i}" for i in range(len(t))], np.ones(len(t)), np.zeros(len(t), int), t))
    store.client.delete("older:tot")  # what an earlier version left: buckets, no totals
    store._totals_at = None
    hours, totals = store.hour_totals()
    assert len(hours) == 6 and np.isnan(totals).all() and not detect(store, HotConfig()).warming_up
