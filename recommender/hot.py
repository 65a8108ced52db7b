"""爆款 detection: sliding-window order counts per good and per (live room, good), and a burst test.

An item is hot when its orders in the last few minutes are significantly above its *own* baseline, not
when it is merely popular: the recent count is tested against a Poisson with the item's 24 h or 7 d rate
(whichever is higher, the burst itself left out), with a minimum volume. When the burst ends the recent
window empties and the item stops being hot on its own.

Counts live in a store: `MemoryStore` here (one process), `recommender.hot_redis.RedisStore` for several
workers and replicas. Both answer the same two questions, so the test is written once (`detect`): which keys
have at least `min_orders` in the last `span` minutes, and what their 24 h and 7 d counts are. Keys are the
snapshot's product and anchor ids as strings, so counts survive a model reload.

Memory is bounded however long the service runs: each key has 60 minute buckets (the last hour) and 168
hour buckets (the last week) in ring arrays advanced by one clock; room keys live in a fixed number of
slots, the least recently active evicted first; replayed order ids are remembered in a bounded window.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.stats import poisson

MINUTES, HOURS = 60, 168


@dataclass(frozen=True)
class BurstConfig:
    recent_minutes: int = 15  # the window tested for a burst (<= 60)
    min_orders: int = 5  # fewer recent orders are never a burst
    alpha: float = 1e-4  # Poisson tail probability below which the recent count is a burst
    floor_per_hour: float = 0.2  # baseline for items without history: a handful of first orders is no burst
    max_candidates: int = 500  # at most this many keys (the most recent orders) are tested, bounding the cost


@dataclass(frozen=True)
class Orders:
    """A batch of orders to count. Ids are strings; `key` is a 64-bit hash of the order id (idempotency)."""

    key: np.ndarray  # uint64
    anchor: np.ndarray  # str ids
    product: np.ndarray  # str ids
    minute: np.ndarray  # int64 minutes since the epoch

    @classmethod
    def of(cls, order_ids, anchors, products, minutes) -> Orders:
        return cls(order_keys(order_ids), np.asarray(anchors).astype(str), np.asarray(products).astype(str),
                   np.asarray(minutes, np.int64))

    def __len__(self) -> int:
        return len(self.key)

    def take(self, rows: np.ndarray) -> Orders:
        return Orders(self.key[rows], self.anchor[rows], self.product[rows], self.minute[rows])


def order_keys(order_ids) -> np.ndarray:
    """Order ids to 64-bit keys: pandas' fixed-key hash, the same in every process and replica."""
    ids = np.asarray(order_ids).astype(str).astype(object)
    return pd.util.hash_array(ids, categorize=False)


def to_minutes(timestamps) -> np.ndarray:
    """Timestamps (naive = UTC) to whole minutes since the epoch."""
    ts = pd.to_datetime(pd.Series(timestamps), utc=True)  # any resolution (pandas 3 keeps microseconds)
    return ((ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(minutes=1)).to_numpy(np.int64)


class HotStore(Protocol):
    """What burst detection needs from a store of order counts."""

    kind: str

    def add(self, orders: Orders) -> int:
        """Count orders not seen before; returns how many were new."""

    def now(self) -> int | None:
        """The store's clock: the latest minute it has seen or been advanced to."""

    def advance(self, minute: int) -> None:
        """Move the clock forward (wall time), so a burst decays when orders stop."""

    def recent(self, span: int, min_orders: int, anchor: str | None = None,
               now: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Goods with at least `min_orders` in the last `span` minutes (platform-wide or in one room). `now`:
        the clock as the caller read it (saves a round trip to a remote store)."""

    def history(self, products: np.ndarray, anchor: str | None = None,
                now: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Orders of `products` in the last 24 hours and the last 7 days (current hour included)."""


@dataclass
class Bursts:
    keys: np.ndarray  # product ids (str) that are bursting, strongest first
    recent: np.ndarray  # their orders in the recent window
    expected: np.ndarray  # what their baseline predicts for that window
    p_value: np.ndarray
    now: int | None = None  # the minute the test was made at

    @cached_property
    def lift(self) -> np.ndarray:
        return self.recent / np.maximum(self.expected, 1e-9)

    @classmethod
    def empty(cls, now: int | None = None) -> Bursts:
        z = np.zeros(0)
        return cls(np.zeros(0, str), z, z, z, now)

    def to_dict(self) -> dict:
        """Plain JSON types, for one process to share the list it computed (open format, no pickles)."""
        return {"keys": self.keys.tolist(), "recent": self.recent.tolist(), "expected": self.expected.tolist(),
                "p_value": self.p_value.tolist(), "now": self.now}

    @classmethod
    def from_dict(cls, d: dict) -> Bursts:
        return cls(np.array(d["keys"], str), np.array(d["recent"], float), np.array(d["expected"], float),
                   np.array(d["p_value"], float), d["now"])


def detect(store: HotStore, cfg: BurstConfig, anchor: str | None = None) -> Bursts:
    """The burst test over a store, platform-wide or for one live room."""
    now = store.now()
    keys, recent = store.recent(cfg.recent_minutes, cfg.min_orders, anchor, now)
    if now is None or not len(keys):
        return Bursts.empty(now)
    if len(keys) > cfg.max_candidates:  # a flood of orders: test the busiest goods
        top = np.argpartition(-recent, cfg.max_candidates - 1)[:cfg.max_candidates]
        keys, recent = keys[top], recent[top]
    day, week = store.history(keys, anchor, now)
    return poisson_bursts(keys, recent, day, week, cfg, now)


def poisson_bursts(keys: np.ndarray, recent: np.ndarray, day: np.ndarray, week: np.ndarray, cfg: BurstConfig,
                   now: int | None = None) -> Bursts:
    """Keys whose recent count is improbable under their own 24 h / 7 d rate, strongest lift first."""
    recent = np.asarray(recent, float)
    # baselines without the burst: the last 24 h and 7 d minus the recent window, as rates per minute
    day_rate = np.maximum(day - recent, 0) / (24 * 60 - cfg.recent_minutes)
    week_rate = np.maximum(week - recent, 0) / (HOURS * 60 - cfg.recent_minutes)
    rate = np.maximum(np.maximum(day_rate, week_rate), cfg.floor_per_hour / 60)
    expected = rate * cfg.recent_minutes
    p = poisson.sf(recent - 1, expected)  # P(X >= recent)
    idx = np.flatnonzero((p < cfg.alpha) & (recent >= cfg.min_orders))
    order = idx[np.lexsort((keys[idx], p[idx], -(recent[idx] / expected[idx])))]
    return Bursts(keys[order], recent[order], expected[order], p[order], now)


class WindowCounts:
    """Order counts of a growing number of keys in a minute ring (last hour) and an hour ring (last week).

    Time-major (a bucket is a row), so summing the last 15 minutes of 100k goods reads 15 contiguous rows.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.minutes = np.zeros((MINUTES, capacity), np.int32)
        self.hours = np.zeros((HOURS, capacity), np.int32)
        self.now: int | None = None  # the latest minute seen (minutes since the epoch)

    def __len__(self) -> int:
        return self.minutes.shape[1]

    def grow(self, capacity: int) -> None:
        if capacity > len(self):
            extra = capacity - len(self)
            self.minutes = np.pad(self.minutes, ((0, 0), (0, extra)))
            self.hours = np.pad(self.hours, ((0, 0), (0, extra)))

    def advance(self, minute: int) -> None:
        """Move the clock forward, zeroing the buckets that fall out of each ring."""
        if self.now is None or minute <= self.now:
            self.now = minute if self.now is None else self.now
            return
        gap = minute - self.now
        self.minutes[(np.arange(self.now + 1, minute + 1) % MINUTES) if gap < MINUTES else slice(None)] = 0
        old_hour, new_hour = self.now // 60, minute // 60
        if new_hour > old_hour:
            self.hours[np.arange(old_hour + 1, new_hour + 1) % HOURS if new_hour - old_hour < HOURS
                       else slice(None)] = 0
        self.now = minute

    def add(self, slots: np.ndarray, minutes: np.ndarray) -> None:
        """Count one order per (slot, minute). Orders older than a week are ignored; vectorised."""
        if not len(slots):
            return
        self.advance(int(minutes.max()))
        recent_hour = minutes > self.now - MINUTES
        week = minutes > self.now - MINUTES * HOURS
        np.add.at(self.minutes, (minutes[recent_hour] % MINUTES, slots[recent_hour]), 1)
        np.add.at(self.hours, ((minutes[week] // 60) % HOURS, slots[week]), 1)

    def recent(self, slots: np.ndarray | None, span: int) -> np.ndarray:
        """Orders in the last `span` minutes (the current minute included), of `slots` or of every key."""
        if self.now is None:
            return np.zeros(len(self) if slots is None else len(slots), np.int64)
        return _ring_sum(self.minutes, self.now % MINUTES, span, slots)

    def last_hours(self, slots: np.ndarray | None, span: int) -> np.ndarray:
        """Orders in the last `span` hours (the current hour included)."""
        if self.now is None:
            return np.zeros(len(self) if slots is None else len(slots), np.int64)
        return _ring_sum(self.hours, (self.now // 60) % HOURS, span, slots)


def _ring_sum(ring: np.ndarray, last: int, span: int, cols: np.ndarray | None) -> np.ndarray:
    """Sum of the `span` ring rows ending at row `last`: at most two contiguous blocks."""
    if not 1 <= span <= len(ring):
        raise ValueError(f"a window of {span} buckets does not fit a ring of {len(ring)}")
    first = last - span + 1
    rows = np.arange(first, last + 1) % len(ring) if first < 0 else slice(first, last + 1)
    block = ring[rows] if cols is None else ring[:, cols][rows]  # gather the few columns before the rows
    return block.sum(axis=0, dtype=np.int64)


class RoomSlots:
    """(room, good) keys to a fixed number of slots; the least recently touched key is evicted (its counts
    zeroed). Each room's keys are indexed, so one room's lookup does not scan the others."""

    def __init__(self, capacity: int, counts: WindowCounts) -> None:
        self.capacity, self.counts = capacity, counts
        counts.grow(capacity)
        self.slots: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.by_room: dict[str, dict[str, int]] = {}  # anchor -> {product: slot}

    def slot(self, anchor: str, product: str) -> int:
        key = (anchor, product)
        if key in self.slots:
            self.slots.move_to_end(key)
            return self.slots[key]
        if len(self.slots) < self.capacity:
            s = len(self.slots)
        else:
            (old_anchor, old_product), s = self.slots.popitem(last=False)
            room = self.by_room[old_anchor]
            del room[old_product]
            if not room:
                del self.by_room[old_anchor]
            self.counts.minutes[:, s] = 0
            self.counts.hours[:, s] = 0
        self.slots[key] = s
        self.by_room.setdefault(anchor, {})[product] = s
        return s


class SeenOrders:
    """Order keys already counted, so a replayed event is not counted twice; remembers the last `capacity`."""

    def __init__(self, capacity: int = 2_000_000) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[int, None] = OrderedDict()

    def fresh(self, keys: np.ndarray) -> np.ndarray:
        """Mark `keys` as seen; True where a key is new (a key repeated inside the batch counts once)."""
        out = np.zeros(len(keys), bool)
        seen = self._keys
        for i, k in enumerate(keys.tolist()):
            if k not in seen:
                seen[k] = None
                out[i] = True
        while len(seen) > self.capacity:
            seen.popitem(last=False)
        return out


class MemoryStore:
    """The in-process store: dense counts per good, bounded slots per (room, good). One process only:
    under several gunicorn workers each would count only the events it received (use Redis there)."""

    kind = "memory"

    def __init__(self, room_capacity: int = 200_000, seen_capacity: int = 2_000_000) -> None:
        self.products = WindowCounts()
        self.product_slot: dict[str, int] = {}
        self.product_key: list[str] = []
        self._key_array = np.zeros(0, str)  # product_key as an array, rebuilt only when goods were added
        self.rooms = WindowCounts(0)
        self.room_slots = RoomSlots(room_capacity, self.rooms)
        self.seen = SeenOrders(seen_capacity)

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
