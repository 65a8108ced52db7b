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
