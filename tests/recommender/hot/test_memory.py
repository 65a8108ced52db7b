"""The in-process store stays bounded however long it runs: room keys in a fixed number of slots, a bounded
window of seen order ids."""

from __future__ import annotations

import numpy as np

from recommender.hot.memory import MemoryStore
from recommender.hot.orders import Orders
from tests.recommender.hot.conftest import T0


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
    assert len(store.seen) == 100


def test_a_batch_with_more_rooms_than_slots_counts_each_kept_room_exactly():
    """Evicting a (room, good) key inside the batch that filled its slot must not pour one room's orders into
    another's: every kept key holds exactly its own orders, and the kept keys are the most recently active."""
    store = MemoryStore(room_capacity=50)
    rng = np.random.default_rng(1)
    n = 3000
    anchors, products = rng.integers(0, 40, n), rng.integers(0, 20, n)
    minutes = T0 + np.sort(rng.integers(0, 50, n))
    store.add(Orders.of([f"r{i}" for i in range(n)], anchors, products, minutes))
    assert len(store.room_slots.slots) == 50
    last_seen = {}
    for i, key in enumerate(zip(anchors.astype(str).tolist(), products.astype(str).tolist(), strict=True)):
        last_seen[key] = i
    newest = sorted(last_seen, key=last_seen.get)[-50:]
    assert set(store.room_slots.slots) == set(newest)
    for anchor, product in newest:
        got, counts = store.recent(60, 1, anchor=anchor)
        mine = np.sum((anchors.astype(str) == anchor) & (products.astype(str) == product))
        assert dict(zip(got.tolist(), counts.tolist(), strict=True))[product] == mine


def test_the_rings_grow_with_the_keys_seen_not_to_their_capacity():
    store = MemoryStore(room_capacity=100_000)
    assert store.rooms.minutes.shape[1] == 0  # nothing held before the first order
    n = 1500
    store.add(Orders.of([f"g{i}" for i in range(n)], np.arange(n) % 7, np.arange(n), np.full(n, T0)))
    assert n <= len(store.products) <= n * 9 // 8  # goods: by an eighth at most, not to the next power of two
    assert n <= store.rooms.minutes.shape[1] <= 9 * n // 8


def test_the_room_rings_grow_to_the_keys_a_batch_needs_or_by_an_eighth():
    """A batch that needs more than an eighth more columns gets exactly what it needs; a smaller one, an eighth
    more (so a stream of new keys does not regrow the rings at every batch)."""
    store = MemoryStore(room_capacity=100_000)

    def new_rooms(first: int, n: int) -> int:
        rooms = np.arange(first, first + n)
        store.add(Orders.of([f"k{r}" for r in rooms], rooms, np.zeros(n), np.full(n, T0)))
        return store.rooms.minutes.shape[1]

    assert new_rooms(0, 1500) == 1500
    assert new_rooms(1500, 200) == 1700
    assert new_rooms(1700, 10) == 1700 + 1700 // 8
    assert new_rooms(1710, 10) == 1700 + 1700 // 8  # room left: no growth


def test_a_room_key_evicted_leaves_its_slot_empty_for_the_next_key():
    """Two batches: the second's new (room, good) keys take the slots of the first's, and count only their own
    orders, in the last hour and the last week."""
    store = MemoryStore(room_capacity=100)
    n = 100
    good = np.zeros(n, np.int64)
    store.add(Orders.of([f"a{i}" for i in range(n)], np.arange(n), good, np.full(n, T0)))
    store.add(Orders.of([f"b{i}" for i in range(n)], np.arange(n) + 1000, good, np.full(n, T0 + 1)))
    for anchor in ("1000", "1050", "1099"):
        keys, counts = store.recent(60, 1, anchor)
        assert keys.tolist() == ["0"] and counts.tolist() == [1]
        day, week = store.history(np.array(["0"]), anchor)
        assert day.tolist() == week.tolist() == [1]
    assert store.recent(60, 1, "5")[0].tolist() == []  # evicted


def test_a_refund_leaves_a_room_slot_that_another_pair_has_taken_since_alone():
    """Room slots are reused, least recently active first: the refund of an order whose (room, good) slot went
    to another pair takes it off the good's counts only, never off the other pair's."""
    store = MemoryStore(room_capacity=1)
    old = Orders.of(["o1"], ["r1"], ["g1"], [T0])
    store.add(old)
    store.add(Orders.of(["o2", "o3"], ["r2", "r2"], ["g2", "g2"], [T0 + 1, T0 + 1]))  # takes r1's only slot
    assert store.refund(old) == 1
    assert store.recent(15, 1, "r2")[1].tolist() == [2]
    assert dict(zip(*(x.tolist() for x in store.recent(15, 1)), strict=True)) == {"g2": 2}


def test_a_refund_of_an_order_forgotten_by_the_bounded_memory_takes_nothing():
    store = MemoryStore(seen_capacity=2)
    store.add(Orders.of(["a", "b", "c"], ["r"] * 3, ["g"] * 3, [T0] * 3))  # "a" is forgotten
    assert store.refund(Orders.of(["a"], ["r"], ["g"], [T0])) == 0
    assert store.refund(Orders.of(["c"], ["r"], ["g"], [T0])) == 1
    assert store.recent(15, 1)[1].tolist() == [2]


def test_a_refund_leaves_a_slot_its_pair_got_back_emptied_alone():
    """A pair evicted and back in the same slot starts from zero: an order counted before the eviction is not in
    it, so its refund must not take one of the newer orders (the review's case: the count went to -1)."""
    store = MemoryStore(room_capacity=1)
    first = Orders.of(["o1"], ["r1"], ["g1"], [T0])
    store.add(first)
    store.add(Orders.of(["o2"], ["r2"], ["g2"], [T0 + 1]))  # evicts (r1, g1)
    later = Orders.of(["o3"], ["r1"], ["g1"], [T0 + 2])
    store.add(later)  # (r1, g1) back, in the same slot 0, emptied
    assert store.refund(first) == 1 and store.recent(15, 1, "r1")[1].tolist() == [1]
    assert store.refund(later) == 1 and store.recent(15, 1, "r1")[1].tolist() == []
    day, week = store.history(np.array(["g1"]), "r1")
    assert day.tolist() == week.tolist() == [0]


def test_a_refund_finds_its_order_by_the_hour_of_its_time_and_only_within_a_day():
    store = MemoryStore()
    store.add(Orders.of(["a", "b"], ["r", "r"], ["g", "g"], [T0, T0]))
    assert store.refund(Orders.of(["a"], ["r"], ["g"], [T0 + 120])) == 0  # another hour: not this order
    assert store.refund(Orders.of(["a"], ["r"], ["g"], [T0 + 1])) == 1  # still there for the right one
    store.add(Orders.of(["late"], ["r"], ["g"], [T0 + 26 * 60]))  # the clock moves a day and more on
    assert store.refund(Orders.of(["b"], ["r"], ["g"], [T0])) == 0
    old = MemoryStore()
    old.add(Orders.of(["now"], ["r"], ["g"], [T0 + 8 * 24 * 60]))
    old.add(Orders.of(["week-old"], ["r"], ["g"], [T0]))  # older than the week: in no bucket
    assert old.refund(Orders.of(["week-old"], ["r"], ["g"], [T0])) == 0
