"""爆款 detection: sliding-window order counts per good and per (live room, good), and a burst test.

An item is hot when its orders in the last few minutes are significantly above its *own* baseline, not
when it is merely popular: the recent count is tested against a Poisson with the item's 24 h or 7 d rate
(whichever is higher, the burst itself left out), with a minimum volume. When the burst ends the recent
window empties and the item stops being hot on its own.

Memory is bounded however long the service runs: each key has 60 minute buckets (the last hour) and 168
hour buckets (the last week) in ring arrays, advanced by one global clock; room keys live in a fixed number
of slots, the least recently active evicted first; replayed order ids are remembered in a bounded window.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from scipy.stats import poisson

MINUTES, HOURS = 60, 168


@dataclass(frozen=True)
class BurstConfig:
    recent_minutes: int = 15  # the window tested for a burst (<= 60)
    min_orders: int = 5  # fewer recent orders are never a burst
    alpha: float = 1e-4  # Poisson tail probability below which the recent count is a burst
    floor_per_hour: float = 0.2  # baseline for items without history: a handful of first orders is no burst


class WindowCounts:
    """Order counts of `capacity` keys in a minute ring (last hour) and an hour ring (last week)."""

    def __init__(self, capacity: int) -> None:
        self.minutes = np.zeros((capacity, MINUTES), np.int32)
        self.hours = np.zeros((capacity, HOURS), np.int32)
        self.now: int | None = None  # the latest minute seen (minutes since the epoch)

    def advance(self, minute: int) -> None:
        """Move the clock forward, zeroing the buckets that fall out of each ring."""
        if self.now is None:
            self.now = minute
            return
        if minute <= self.now:
            return
        gap = minute - self.now
        cols = np.arange(self.now + 1, minute + 1)
        self.minutes[:, (cols % MINUTES)[-MINUTES:] if gap < MINUTES else slice(None)] = 0
        old_hour, new_hour = self.now // 60, minute // 60
        if new_hour > old_hour:
            hcols = np.arange(old_hour + 1, new_hour + 1)
            self.hours[:, (hcols % HOURS)[-HOURS:] if new_hour - old_hour < HOURS else slice(None)] = 0
        self.now = minute

    def add(self, slots: np.ndarray, minutes: np.ndarray) -> None:
        """Count one order per (slot, minute). Orders older than a week are ignored; vectorised."""
        if not len(slots):
            return
        self.advance(int(minutes.max()))
        recent_hour = minutes > self.now - MINUTES
        week = minutes > self.now - MINUTES * HOURS
        np.add.at(self.minutes, (slots[recent_hour], minutes[recent_hour] % MINUTES), 1)
        np.add.at(self.hours, (slots[week], (minutes[week] // 60) % HOURS), 1)

    def recent(self, slots: np.ndarray | slice, span: int) -> np.ndarray:
        """Orders in the last `span` minutes (the current minute included)."""
        return _ring_sum(self.minutes, self.now % MINUTES, span, slots)

    def last_hours(self, slots: np.ndarray | slice, span: int) -> np.ndarray:
        """Orders in the last `span` hours (the current hour included)."""
        return _ring_sum(self.hours, (self.now // 60) % HOURS, span, slots)


def _ring_sum(ring: np.ndarray, last: int, span: int, rows: np.ndarray | slice) -> np.ndarray:
    """Sum of the `span` ring columns ending at column `last`: at most two slice views, no gathered copy."""
    first = last - span + 1
    part = ring[rows] if isinstance(rows, np.ndarray) else ring
    if first >= 0:
        out = part[:, first:last + 1].sum(axis=1, dtype=np.int64)
    else:
        out = part[:, :last + 1].sum(axis=1, dtype=np.int64) + part[:, first:].sum(axis=1, dtype=np.int64)
    return out if isinstance(rows, np.ndarray) else out[rows]


@dataclass
class Bursts:
    slots: np.ndarray  # keys that are bursting, strongest first
    recent: np.ndarray  # their orders in the recent window
    expected: np.ndarray  # what their baseline predicts for that window
    p_value: np.ndarray

    @property
    def lift(self) -> np.ndarray:
        return self.recent / np.maximum(self.expected, 1e-9)


def bursts(counts: WindowCounts, cfg: BurstConfig, slots: np.ndarray | None = None) -> Bursts:
    """Test every key (or `slots`) for a burst in the last `recent_minutes`."""
    if counts.now is None:
        empty = np.zeros(0)
        return Bursts(np.zeros(0, np.int64), empty, empty, empty)
    keys = np.arange(len(counts.minutes)) if slots is None else np.asarray(slots, np.int64)
    recent_all = counts.recent(slice(None) if slots is None else keys, cfg.recent_minutes)  # a view, no copy
    # only keys with enough recent orders can burst: baselines are computed for those alone (the week of
    # hour buckets of 100k goods is 67 MB to gather; the candidates are a handful)
    cand = keys[recent_all >= cfg.min_orders]
    recent = recent_all[recent_all >= cfg.min_orders].astype(float)
    # baselines without the burst: the last 24 h and 7 d minus the recent window, as rates per minute
    day = np.maximum(counts.last_hours(cand, 24) - recent, 0) / (24 * 60 - cfg.recent_minutes)
    week = np.maximum(counts.last_hours(cand, HOURS) - recent, 0) / (HOURS * 60 - cfg.recent_minutes)
    rate = np.maximum(np.maximum(day, week), cfg.floor_per_hour / 60)
    expected = rate * cfg.recent_minutes
    p = poisson.sf(recent - 1, expected)  # P(X >= recent)
    idx = np.flatnonzero(p < cfg.alpha)
    order = idx[np.lexsort((cand[idx], p[idx], -(recent[idx] / expected[idx])))]
    return Bursts(cand[order], recent[order], expected[order], p[order])


class RoomSlots:
    """(room, good) keys to a fixed number of slots; the least recently touched key is evicted (its counts
    zeroed). Each room's keys are indexed, so one room's lookup does not scan the others."""

    def __init__(self, capacity: int, counts: WindowCounts) -> None:
        self.capacity, self.counts = capacity, counts
        self.slots: OrderedDict[tuple[int, int], int] = OrderedDict()
        self.by_room: dict[int, dict[int, int]] = {}  # anchor -> {product: slot}

    def slot(self, anchor: int, product: int) -> int:
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
            self.counts.minutes[s] = 0
            self.counts.hours[s] = 0
        self.slots[key] = s
        self.by_room.setdefault(anchor, {})[product] = s
        return s


class SeenOrders:
    """Order ids already counted, so a replayed event is not counted twice; remembers the last `capacity`."""

    def __init__(self, capacity: int = 1_000_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict = OrderedDict()

    def first_time(self, order_id) -> bool:
        if order_id in self._ids:
            return False
        self._ids[order_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True


class HotCounter:
    """In-process store: counts per good (dense, by model row) and per (room, good) (bounded slots)."""

    def __init__(self, n_products: int, room_capacity: int = 200_000, seen_capacity: int = 1_000_000) -> None:
        self.products = WindowCounts(n_products)
        self.rooms = WindowCounts(room_capacity)
        self.room_slots = RoomSlots(room_capacity, self.rooms)
        self.seen = SeenOrders(seen_capacity)

    def add(self, order_ids: list, anchors: np.ndarray, products: np.ndarray, minutes: np.ndarray) -> int:
        """Count new orders (rows of the model's vocabularies); returns how many were new."""
        fresh = np.array([self.seen.first_time(o) for o in order_ids], bool)
        if not fresh.any():
            return 0
        a, p, t = anchors[fresh], products[fresh], minutes[fresh]
        order = np.argsort(t, kind="stable")  # the clock only moves forward
        a, p, t = a[order], p[order], t[order]
        self.products.add(p, t)
        room = np.array([self.room_slots.slot(int(x), int(y)) for x, y in zip(a, p, strict=True)], np.int64)
        self.rooms.add(room, t)
        return int(fresh.sum())

    def hot_products(self, cfg: BurstConfig) -> Bursts:
        return bursts(self.products, cfg)

    def hot_in_room(self, anchor: int, cfg: BurstConfig) -> tuple[np.ndarray, Bursts]:
        """Goods bursting in one live room: (product rows, their burst evidence)."""
        room = self.room_slots.by_room.get(anchor, {})
        if not room:
            return np.zeros(0, np.int64), bursts(self.rooms, cfg, np.zeros(0, np.int64))
        found = bursts(self.rooms, cfg, np.fromiter(room.values(), np.int64, len(room)))
        product_of = {s: p for p, s in room.items()}
        return np.array([product_of[int(s)] for s in found.slots], np.int64), found
