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
REFUND_MINUTES = 25 * 60  # how long after its minute a counted order can be taken back (the Redis store's TTL)
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
        products, product_of = np.unique(o.product, return_inverse=True)
        columns = self._product_slots(products)[product_of]
        self.products.add(columns, o.minute)
        rooms = self._room_slots(o, products, product_of)
        counted = rooms >= 0
        self.rooms.add(rooms[counted], o.minute[counted])
        self.rooms.advance(self.products.now)  # one clock for both
        generation = np.full(len(rooms), -1, np.int64)
        generation[counted] = self.room_slots.generation[rooms[counted]]
        self.seen.place(o.key, np.column_stack([columns, rooms, generation, o.minute]))  # what a refund takes back
        return len(o)

    def refund(self, orders: Orders) -> int:
        """Take refunded orders back off the counts they were in; returns how many were. A refund names its order
        by id and by the hour of its ordered_at (or one beside it: a time read a little off), and finds it within
        REFUND_MINUTES of the clock, as the Redis store does. An order not seen yet is remembered, so the order
        itself arriving later is not counted; one refunded already takes nothing."""
        keys, first = np.unique(orders.key, return_index=True)
        places, known = self.seen.places(keys)
        self.seen.fresh(keys[~known])
        column, room, generation, minute = (places[:, i].astype(np.int64) for i in range(4))
        # a place means something was counted, so the clock is set; a refund whose ordered_at is not in its
        # order's hour or one beside it takes nothing (Redis looks for the place in those three hours' hashes)
        back = np.flatnonzero((minute >= 0) & (np.abs(minute // 60 - orders.minute[first] // 60) <= 1)
                              & (minute > (self.products.now or 0) - REFUND_MINUTES))
        if not len(back):
            return 0
        self.seen.place(keys[back], np.tile(np.int32(SeenOrders.NO_PLACE), (len(back), 1)))  # once only
        taken = self.products.remove(column[back], minute[back])
        # a (room, good) slot holds the order only while it was not given again since (generation)
        slot, mine = room[back], room[back] >= 0
        mine[mine] = self.room_slots.generation[slot[mine]] == generation[back][mine]
        self.rooms.remove(slot[mine], minute[back][mine])
        return int(taken.sum())

    def load(self, orders: Orders) -> int:
        """A start-up history is counted like any batch: the orders already seen are skipped."""
        return self.add(orders)

    def _product_slots(self, products: np.ndarray) -> np.ndarray:
        """The column of each good (distinct ids), new goods appended; the rings grow to the goods seen (by an
        eighth at least), not to the next power of two."""
        slots = np.fromiter((self.product_slot.get(p, -1) for p in products.tolist()), np.int64, len(products))
        new = np.flatnonzero(slots < 0)
        if len(new):
            first = len(self.product_key)
            slots[new] = np.arange(first, first + len(new))
            names = products[new].tolist()
            self.product_slot.update(zip(names, range(first, first + len(new)), strict=True))
            self.product_key.extend(names)
            if len(self.product_key) > len(self.products):
                self.products.grow(max(len(self.product_key), len(self.products) + len(self.products) // 8))
        return slots

    def _room_slots(self, o: Orders, products: np.ndarray, product_of: np.ndarray) -> np.ndarray:
        """The (room, good) slot of each order (time-ordered), -1 for orders not counted per room.

        Each distinct pair is touched once, in the order of its last order, so the least recently active keys
        are evicted first. A batch with more distinct pairs than slots counts the latest `capacity` of them:
        the others would be evicted within the batch, and a slot reused inside one batch would add one room's
        orders to another's."""
        anchors, anchor_of = np.unique(o.anchor, return_inverse=True)
        pair = anchor_of.astype(np.int64) * len(products) + product_of
        distinct, last_from_end = np.unique(pair[::-1], return_index=True)  # sorted pairs, each one's last order
        by_recency = np.argsort(-last_from_end, kind="stable")[-self.room_slots.capacity:]
        self.room_slots.reserve(len(by_recency))
        a, p = np.divmod(distinct[by_recency], len(products))
        slot_of = np.full(len(distinct), -1, np.int64)
        slot_of[by_recency] = np.fromiter((self.room_slots.slot(x, y) for x, y in zip(
            anchors[a].tolist(), products[p].tolist(), strict=True)), np.int64, len(by_recency))
        return slot_of[np.searchsorted(distinct, pair)]

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
        counts, slots = self._counts(products, anchor)
        return counts.last_hours(slots, 24), counts.last_hours(slots, HOURS)

    def history_and_baseline(self, products: np.ndarray, hours: np.ndarray, anchor: str | None = None,
                             now: int | None = None) -> tuple[np.ndarray, ...]:
        counts, slots = self._counts(products, anchor)
        last = -1 if self.products.now is None else self.products.now // 60
        hours = np.asarray(hours, np.int64)
        return (counts.last_hours(slots, 24), counts.last_hours(slots, HOURS),
                counts.hour_sums(slots, hours[hours > last - 24]), counts.hour_sums(slots, hours))

    def _counts(self, products: np.ndarray, anchor: str | None) -> tuple[WindowCounts, np.ndarray]:
        if anchor is None:
            return self.products, np.array([self.product_slot[p] for p in products.tolist()], np.int64)
        room = self.room_slots.by_room.get(anchor, {})
        return self.rooms, np.array([room[p] for p in products.tolist()], np.int64)

    def hour_totals(self, now: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.products.hour_totals()

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
