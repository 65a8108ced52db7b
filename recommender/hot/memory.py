"""The in-process store of order counts: one process, no server.

Dense counts per good (a column each, grown as goods appear), bounded slots per (room, good) and a bounded
window of seen order ids, all in the ring buckets of `recommender.hot.counts`.
"""

from __future__ import annotations

import time

import numpy as np

from recommender.hot.config import HotConfig
from recommender.hot.counts import HOURS, RoomSlots, SeenOrders, WindowCounts
from recommender.hot.orders import Orders

ROOM_CAPACITY = HotConfig.model_fields["room_capacity"].default  # the service's default, declared once there
MARK_SECONDS = 8 * 86400  # how long a mark lasts unless told: as long as the Redis store keeps one


class MemoryStore:
    """The in-process store: dense counts per good, bounded slots per (room, good). One process only:
    under several gunicorn workers each would count only the events it received (use Redis there)."""

    kind = "memory"
    concurrent = False  # callers lock: a room's slots may be evicted between two calls of a detection

    def __init__(self, room_capacity: int = ROOM_CAPACITY, seen_capacity: int = 2_000_000) -> None:
        self.products = WindowCounts()
        self.product_slot: dict[str, int] = {}
        self.product_key: list[str] = []
        self._key_array = np.zeros(0, str)  # product_key as an array, rebuilt only when goods were added
        self.rooms = WindowCounts(0)
        self.room_slots = RoomSlots(room_capacity, self.rooms)
        self.seen = SeenOrders(seen_capacity)
        self._marks: dict[str, tuple[bytes, float]] = {}  # name -> (value, time.monotonic() it expires)

    def now(self) -> int | None:
        return self.products.now

    def advance(self, minute: int) -> None:
        self.products.advance(minute)
        self.rooms.advance(minute)

    def add(self, orders: Orders) -> int:
        fresh = self.seen.fresh(orders.key)
        if not fresh.any():
            return 0
        o = orders.take(np.flatnonzero(fresh)[np.argsort(orders.minute[fresh], kind="stable")])
        slots = np.fromiter((self._product(p) for p in o.product.tolist()), np.int64, len(o))
        self.products.add(slots, o.minute)
        rooms = np.fromiter((self.room_slots.slot(a, p) for a, p in zip(o.anchor.tolist(), o.product.tolist(),
                                                                         strict=True)), np.int64, len(o))
        self.rooms.add(rooms, o.minute)
        self.rooms.advance(self.products.now)  # one clock for both
        return len(o)

    def load(self, orders: Orders) -> int:
        """A start-up history is counted like any batch: the orders already seen are skipped."""
        return self.add(orders)

    def _product(self, product: str) -> int:
        slot = self.product_slot.get(product)
        if slot is None:
            slot = self.product_slot[product] = len(self.product_key)
            self.product_key.append(product)
            if slot >= len(self.products):
                self.products.grow(2 * len(self.products))
        return slot

    def recent(self, span: int, min_orders: int, anchor: str | None = None,
               now: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if anchor is None:
            n = len(self.product_key)
            counts = self.products.recent(None, span)[:n]
            keep = np.flatnonzero(counts >= min_orders)
            if len(self._key_array) != n:
                self._key_array = np.asarray(self.product_key, str)
            return self._key_array[keep], counts[keep]
        room = self.room_slots.by_room.get(anchor)
        if not room:
            return np.zeros(0, str), np.zeros(0, np.int64)
        products = np.fromiter(room.keys(), object, len(room)).astype(str)
        counts = self.rooms.recent(np.fromiter(room.values(), np.int64, len(room)), span)
        keep = counts >= min_orders
        return products[keep], counts[keep]

    def history(self, products: np.ndarray, anchor: str | None = None,
                now: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if anchor is None:
            counts, slots = self.products, np.array([self.product_slot[p] for p in products.tolist()], np.int64)
        else:
            room = self.room_slots.by_room.get(anchor, {})
            counts, slots = self.rooms, np.array([room[p] for p in products.tolist()], np.int64)
        return counts.last_hours(slots, 24), counts.last_hours(slots, HOURS)

    # -- coordination: this process is the store's only user, so it always has the turn ------------------------
    def claim(self, name: str, value: str = "1", seconds: int = MARK_SECONDS) -> bool:
        return True

    def lease(self, name: str, seconds: float) -> bool:
        return True

    def mark(self, name: str, value: str | bytes, seconds: float = MARK_SECONDS) -> None:
        data = value.encode() if isinstance(value, str) else value
        now = time.monotonic()
        self._marks = {k: v for k, v in self._marks.items() if v[1] > now}  # a few keys: expired ones go
        self._marks[name] = (data, now + seconds)

    def fetch(self, name: str) -> bytes | None:
        data, until = self._marks.get(name, (None, 0.0))
        return data if time.monotonic() < until else None
