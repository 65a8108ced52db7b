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
    assert client.sismember(f"layout:seen:{hour}", str(order.key[0]))
