"""Burst detection, the same specification for both stores: a burst is found within minutes, steady popularity
is not a burst, bursts decay, replays are not counted twice, a room's burst stays in that room, and memory
stays bounded."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from recommender.hot import BurstConfig, MemoryStore, Orders, WindowCounts, detect, order_keys
from recommender.hot_redis import RedisStore, StoreUnavailable
from tests.conftest import redis_server

CFG = BurstConfig(recent_minutes=15, min_orders=5, alpha=1e-4)
DAY = 24 * 60
T0 = 29_000_000  # minutes since the epoch, any fixed moment


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return MemoryStore(room_capacity=1000)
    return RedisStore(request.getfixturevalue("redis_url"), prefix=f"test:{uuid.uuid4().hex[:8]}:")


def feed(store, start: int, minutes: int, rate_per_hour: dict[int, float], anchor: int = 1, seed: int = 0,
         prefix: str | None = None) -> None:
    """Poisson orders per product for `minutes` minutes from `start`."""
    rng = np.random.default_rng(seed)
    p, t = [], []
    for product, rate in rate_per_hour.items():
        n = rng.poisson(rate / 60, minutes)
        t.append(np.repeat(start + np.arange(minutes), n))
        p.append(np.full(n.sum(), product))
    p, t = np.concatenate(p), np.concatenate(t)
    tag = prefix or f"{seed}-{anchor}"
    store.add(Orders.of([f"{tag}-{i}" for i in range(len(t))], np.full(len(t), anchor), p, t))


def burst_at(store, product: int, anchor: int, at: int, orders: int, over_minutes: int, prefix: str) -> None:
    t = at + np.arange(orders) * over_minutes // max(orders, 1)
    store.add(Orders.of([f"{prefix}-{i}" for i in range(orders)], np.full(orders, anchor), np.full(orders, product),
                        t))


def steady_history(store) -> None:
    # product 0: a quiet good, 1 order an hour; product 1: steadily popular, 120 orders an hour; 3 days
    feed(store, T0, 3 * DAY, {0: 1.0, 1: 120.0})


def hot(store, anchor=None) -> list[str]:
    return detect(store, CFG, anchor).keys.tolist()


def test_a_burst_is_detected_within_five_minutes_and_ten_orders(store):
    steady_history(store)
    now = T0 + 3 * DAY
    assert "0" not in hot(store)  # quiet before
    burst_at(store, product=0, anchor=1, at=now, orders=10, over_minutes=5, prefix="b")
    found = detect(store, CFG)
    assert "0" in found.keys.tolist()
    i = found.keys.tolist().index("0")
    assert found.recent[i] >= 10 and found.lift[i] > 20


def test_a_steadily_popular_good_is_not_a_burst(store):
    steady_history(store)
    feed(store, T0 + 3 * DAY, 60, {1: 120.0}, seed=1)  # still 120 an hour: popular, not bursting
    assert "1" not in hot(store)


def test_a_popular_good_that_triples_is_a_burst(store):
    steady_history(store)
    feed(store, T0 + 3 * DAY, 15, {1: 400.0}, seed=2)
    assert "1" in hot(store)


def test_a_burst_decays_when_it_ends(store):
    steady_history(store)
    now = T0 + 3 * DAY
    burst_at(store, 0, 1, now, 12, 5, "b")
    assert "0" in hot(store)
    feed(store, now + 5, 30, {1: 120.0}, seed=3)  # time moves on, the quiet good goes quiet again
    assert "0" not in hot(store)


def test_a_burst_decays_when_the_clock_moves_on_without_orders(store):
    steady_history(store)
    now = T0 + 3 * DAY
    burst_at(store, 0, 1, now, 12, 5, "b")
    store.advance(now + 20)  # wall time passes, no orders at all
    assert "0" not in hot(store)


def test_replayed_orders_are_not_counted_twice(store):
    burst_at(store, 0, 1, T0, 6, 3, "r")
    burst_at(store, 0, 1, T0, 6, 3, "r")  # the same order ids again
    keys, recent = store.recent(15, 1)
    assert keys.tolist() == ["0"] and recent.tolist() == [6]
    first = Orders.of(["x", "x"], [1, 1], [0, 0], [T0 + 1, T0 + 1])  # a duplicate inside one batch
    assert store.add(first) == 1


def test_a_burst_in_one_room_surfaces_there_and_not_in_other_rooms(store):
    feed(store, T0, 2 * DAY, {0: 1.0, 2: 1.0}, anchor=1, seed=4)
    feed(store, T0, 2 * DAY, {0: 1.0, 2: 1.0}, anchor=2, seed=5)
    burst_at(store, product=2, anchor=2, at=T0 + 2 * DAY, orders=10, over_minutes=5, prefix="room")
    in_room_2 = detect(store, CFG, "2")
    assert in_room_2.keys.tolist() == ["2"] and in_room_2.recent[0] >= 10
    assert "2" not in hot(store, "1")
    assert hot(store, "no-such-room") == []


def test_nothing_counted_means_nothing_hot(store):
    found = detect(store, CFG)
    assert len(found.keys) == 0 and found.now is None


def test_order_keys_are_the_same_in_every_process():
    # a fixed-key hash: replicas and restarts must agree on which orders were seen
    assert order_keys(["a", "b", 17]).tolist() == order_keys(["a", "b", "17"]).tolist()
    assert order_keys(["a"])[0] == np.uint64(order_keys(["a"])[0]) and order_keys(["a"])[0] != order_keys(["b"])[0]


def test_room_memory_is_bounded_by_its_capacity():
    store = MemoryStore(room_capacity=50)
    rng = np.random.default_rng(0)
    n = 5000
    store.add(Orders.of([f"x{i}" for i in range(n)], rng.integers(0, 500, n), rng.integers(0, 1000, n),
                        T0 + np.sort(rng.integers(0, 600, n))))
    assert len(store.room_slots.slots) == 50 and store.rooms.minutes.shape[1] == 50
    indexed = {(a, p) for a, room in store.room_slots.by_room.items() for p in room}
    assert indexed == set(store.room_slots.slots)  # evicted keys leave the per-room index too


def test_seen_orders_are_bounded():
    store = MemoryStore(seen_capacity=100)
    store.add(Orders.of([f"o{i}" for i in range(1000)], np.ones(1000), np.zeros(1000), np.full(1000, T0)))
    assert len(store.seen._keys) == 100


def test_rings_forget_what_falls_out_of_the_window():
    w = WindowCounts(1)
    w.add(np.array([0, 0]), np.array([T0, T0 + 1]))
    assert w.recent(None, 60)[0] == 2
    w.advance(T0 + 60)  # the last hour is now T0+1 .. T0+60
    assert w.recent(None, 60)[0] == 1  # the order at T0 left it
    w.advance(T0 + 61)
    assert w.recent(None, 60)[0] == 0
    w.advance(T0 + 8 * DAY)
    assert w.last_hours(None, 168)[0] == 0


def test_a_dead_redis_raises_store_unavailable_not_a_connection_error():
    with redis_server() as (proc, url):
        store = RedisStore(url, prefix="dead:", timeout=0.2)
        burst_at(store, 0, 1, T0, 6, 3, "d")
        proc.kill()
        proc.wait()
        with pytest.raises(StoreUnavailable, match="redis unreachable"):
            detect(store, CFG)
        with pytest.raises(StoreUnavailable):
            burst_at(store, 0, 1, T0, 6, 3, "e")


def test_under_a_flood_only_the_busiest_goods_are_tested(store):
    for good in range(30):  # 30 new goods, good g gets 6 + g orders
        burst_at(store, good, 1, T0, 6 + good, 5, f"flood{good}")
    found = detect(store, BurstConfig(max_candidates=10))
    assert sorted(found.keys.tolist()) == sorted(str(g) for g in range(20, 30))
