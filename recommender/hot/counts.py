"""Order counts in bounded memory, in process: ring buckets per key, (room, good) slots, the orders already seen.

Every store keeps the same windows: 60 minute buckets (the last hour, which holds the tested window) and 168
hour buckets (the last week, the baselines). Here each key has a column in two ring arrays advanced by one
clock, so memory is bounded however long the service runs; room keys live in a fixed number of slots, the
least recently active evicted first; replayed order ids are remembered in a bounded window.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

MINUTES, HOURS = 60, 168  # buckets kept: minutes of the last hour, hours of the last week


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

    def __len__(self) -> int:
        return len(self._keys)

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
