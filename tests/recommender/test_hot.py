"""Burst detection: a burst is found within minutes, steady popularity is not a burst, bursts decay,
replays are not counted twice, a room's burst stays in that room, and memory stays bounded."""

from __future__ import annotations

import numpy as np

from recommender.hot import BurstConfig, HotCounter, WindowCounts, bursts

CFG = BurstConfig(recent_minutes=15, min_orders=5, alpha=1e-4)
DAY = 24 * 60
T0 = 29_000_000  # minutes since the epoch, any fixed moment


def feed(counter: HotCounter, start: int, minutes: int, rate_per_hour: dict[int, float], anchor: int = 1,
         seed: int = 0, ids: list | None = None) -> None:
    """Poisson orders per product for `minutes` minutes from `start`."""
    rng = np.random.default_rng(seed)
    rows = []
    for product, rate in rate_per_hour.items():
        n = rng.poisson(rate / 60, minutes)
        t = np.repeat(start + np.arange(minutes), n)
        rows.append((np.full(len(t), product), t))
    p = np.concatenate([r[0] for r in rows])
    t = np.concatenate([r[1] for r in rows])
    order_ids = ids if ids is not None else [f"{seed}-{i}" for i in range(len(t))]
    counter.add(order_ids, np.full(len(t), anchor), p, t)


def burst_at(counter: HotCounter, product: int, anchor: int, at: int, orders: int, over_minutes: int,
             prefix: str) -> None:
    t = at + np.arange(orders) * over_minutes // max(orders, 1)
    counter.add([f"{prefix}-{i}" for i in range(orders)], np.full(orders, anchor), np.full(orders, product), t)


def steady_history(counter: HotCounter) -> None:
    # product 0: a quiet good, 1 order an hour; product 1: steadily popular, 120 orders an hour; 3 days
    feed(counter, T0, 3 * DAY, {0: 1.0, 1: 120.0})


def test_a_burst_is_detected_within_five_minutes_and_ten_orders():
    c = HotCounter(n_products=10)
    steady_history(c)
    now = T0 + 3 * DAY
    assert 0 not in c.hot_products(CFG).slots  # quiet before
    burst_at(c, product=0, anchor=1, at=now, orders=10, over_minutes=5, prefix="b")
    hot = c.hot_products(CFG)
    assert 0 in hot.slots
    i = list(hot.slots).index(0)
    assert hot.recent[i] >= 10 and hot.lift[i] > 20


def test_a_steadily_popular_good_is_not_a_burst():
    c = HotCounter(n_products=10)
    steady_history(c)
    feed(c, T0 + 3 * DAY, 60, {1: 120.0}, seed=1)  # still 120 an hour: popular, not bursting
    assert 1 not in c.hot_products(CFG).slots


def test_a_popular_good_that_triples_is_a_burst():
    c = HotCounter(n_products=10)
    steady_history(c)
    feed(c, T0 + 3 * DAY, 15, {1: 400.0}, seed=2)
    assert 1 in c.hot_products(CFG).slots


def test_a_burst_decays_when_it_ends():
    c = HotCounter(n_products=10)
    steady_history(c)
    now = T0 + 3 * DAY
    burst_at(c, 0, 1, now, 12, 5, "b")
    assert 0 in c.hot_products(CFG).slots
    feed(c, now + 5, 30, {1: 120.0}, seed=3)  # time moves on, the quiet good goes quiet again
    assert 0 not in c.hot_products(CFG).slots


def test_replayed_orders_are_not_counted_twice():
    c = HotCounter(n_products=10)
    burst_at(c, 0, 1, T0, 6, 3, "r")
    assert c.products.recent(np.array([0]), 15)[0] == 6
    burst_at(c, 0, 1, T0, 6, 3, "r")  # the same order ids again
    assert c.products.recent(np.array([0]), 15)[0] == 6


def test_a_burst_in_one_room_surfaces_there_and_not_in_other_rooms():
    c = HotCounter(n_products=10)
    feed(c, T0, 2 * DAY, {0: 1.0, 2: 1.0}, anchor=1, seed=4)
    feed(c, T0, 2 * DAY, {0: 1.0, 2: 1.0}, anchor=2, seed=5)
    burst_at(c, product=2, anchor=2, at=T0 + 2 * DAY, orders=10, over_minutes=5, prefix="room")
    in_room_2, evidence = c.hot_in_room(2, CFG)
    in_room_1, _ = c.hot_in_room(1, CFG)
    assert list(in_room_2) == [2] and evidence.recent[0] >= 10
    assert 2 not in in_room_1


def test_room_memory_is_bounded_by_its_capacity():
    c = HotCounter(n_products=1000, room_capacity=50)
    rng = np.random.default_rng(0)
    n = 5000
    c.add([f"x{i}" for i in range(n)], rng.integers(0, 500, n), rng.integers(0, 1000, n),
          T0 + np.sort(rng.integers(0, 600, n)))
    assert len(c.room_slots.slots) == 50 and c.rooms.minutes.shape[0] == 50
    indexed = {(a, p) for a, room in c.room_slots.by_room.items() for p in room}
    assert indexed == set(c.room_slots.slots)  # evicted keys leave the per-room index too


def test_rings_forget_what_falls_out_of_the_window():
    w = WindowCounts(1)
    w.add(np.array([0, 0]), np.array([T0, T0 + 1]))
    assert w.recent(slice(None), 60)[0] == 2
    w.advance(T0 + 60)  # the last hour is now T0+1 .. T0+60
    assert w.recent(slice(None), 60)[0] == 1  # the order at T0 left it
    w.advance(T0 + 61)
    assert w.recent(slice(None), 60)[0] == 0
    w.advance(T0 + 8 * DAY)
    assert w.last_hours(slice(None), 168)[0] == 0


def test_nothing_counted_means_nothing_hot():
    assert len(bursts(WindowCounts(3), CFG).slots) == 0
