"""Both stores, for the specifications every store must meet, and orders to feed them."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from recommender.hot.memory import MemoryStore
from recommender.hot.orders import Orders
from recommender.hot.redis_store import RedisStore

DAY = 24 * 60
T0 = 29_000_000  # minutes since the epoch, any fixed moment


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return MemoryStore(room_capacity=1000)
    return RedisStore(request.getfixturevalue("redis_url"), prefix=f"test:{uuid.uuid4().hex[:8]}:")


def burst_at(store, product: int, anchor: int, at: int, orders: int, over_minutes: int, prefix: str) -> None:
    """`orders` orders of one good in one room, spread over `over_minutes` from minute `at`."""
    t = at + np.arange(orders) * over_minutes // max(orders, 1)
    store.add(Orders.of([f"{prefix}-{i}" for i in range(orders)], np.full(orders, anchor), np.full(orders, product),
                        t))


def counting_before(minute: int, hours: int = 3, good: str = "filler") -> Orders:
    """An order of a filler good every 10 minutes for `hours` hours before `minute`: a store that has been
    counting, so its baselines have whole hours to be taken over."""
    t = minute - 10 * np.arange(1, 6 * hours + 1)
    return Orders.of([f"{good}-{m}" for m in t.tolist()], ["filler-room"] * len(t), [good] * len(t), t)
