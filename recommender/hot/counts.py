"""Order counts in bounded memory, in process: ring buckets per key, (room, good) slots, the orders already seen.

Every store keeps the same windows: 60 minute buckets (the last hour, which holds the tested window) and 168
hour buckets (the last week, the baselines). Here each key has a column in two ring arrays advanced by one
clock, so memory is bounded however long the service runs; room keys live in a fixed number of slots, the
least recently active evicted first; replayed order ids are remembered in a bounded window.
"""

from __future__ import annotations

from collections import OrderedDict, deque

import numpy as np

MINUTES, HOURS = 60, 168  # buckets kept: minutes of the last hour, hours of the last week


class WindowCounts:
    """Order counts of a growing number of keys in a minute ring (last hour) and an hour ring (last week).

    Time-major (a bucket is a row), so summing the last 15 minutes of 100k goods reads 15 contiguous rows.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.minutes = np.zeros((MINUTES, capacity), np.int32)
        self.hours = np.zeros((HOURS, capacity), np.int32)
        self.totals = np.zeros(HOURS, np.int64)  # every key's orders per hour: which hours were counted at all
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
            rows = np.arange(old_hour + 1, new_hour + 1) % HOURS if new_hour - old_hour < HOURS else slice(None)
            self.hours[rows] = 0
            self.totals[rows] = 0
        self.now = minute

    def add(self, slots: np.ndarray, minutes: np.ndarray) -> None:
        """Count one order per (slot, minute). Orders older than a week are ignored; vectorised."""
        if not len(slots):
            return
        self.advance(int(minutes.max()))
        self._count(slots, minutes, 1)

    def remove(self, slots: np.ndarray, minutes: np.ndarray) -> np.ndarray:
        """Take back one order per (slot, minute) counted before (a refund), from the buckets still holding it;
        the clock stays where it is. True where an order was still in the week's buckets."""
        if not len(slots) or self.now is None:
            return np.zeros(len(slots), bool)
        kept = minutes <= self.now  # a bucket ahead of the clock holds nothing yet
        week = np.zeros(len(slots), bool)
        week[kept] = self._count(slots[kept], minutes[kept], -1)
        return week

    def _count(self, slots: np.ndarray, minutes: np.ndarray, by: int) -> np.ndarray:
        recent_hour = minutes > self.now - MINUTES
        week = minutes // 60 > self.now // 60 - HOURS  # by hour: the ring's oldest row is the current one's next
        np.add.at(self.minutes, (minutes[recent_hour] % MINUTES, slots[recent_hour]), by)
        np.add.at(self.hours, ((minutes[week] // 60) % HOURS, slots[week]), by)
        np.add.at(self.totals, (minutes[week] // 60) % HOURS, by)
        return week

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

    def hour_totals(self) -> tuple[np.ndarray, np.ndarray]:
        """The hours of the ring (minute // 60) in which any key had an order, oldest first, and their orders."""
        if self.now is None:
            return np.zeros(0, np.int64), np.zeros(0)
        hours = np.arange(self.now // 60 - HOURS + 1, self.now // 60 + 1)
        totals = self.totals[hours % HOURS]
        return hours[totals > 0], totals[totals > 0].astype(np.float64)

    def hour_sums(self, slots: np.ndarray, hours: np.ndarray) -> np.ndarray:
        """Orders of `slots` in the given hours (minute // 60; those still in the ring)."""
        if self.now is None or not len(hours):
            return np.zeros(len(slots), np.int64)
        hours = np.asarray(hours, np.int64)
        kept = hours[(hours > self.now // 60 - HOURS) & (hours <= self.now // 60)]
        return self.hours[:, slots][kept % HOURS].sum(axis=0, dtype=np.int64)


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
        self.slots: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.by_room: dict[str, dict[str, int]] = {}  # anchor -> {product: slot}
        # how many times each slot was given to a pair: an order counted in a slot is still in it only while the
        # slot's generation is the one it was counted under (a pair evicted may get the same slot back, emptied)
        self.generation = np.zeros(0, np.int32)

    def reserve(self, keys: int) -> None:
        """Make room for `keys` more keys: the rings grow with the data (by an eighth at least), up to capacity,
        so a store that sees few rooms does not hold capacity x 228 buckets from the start."""
        used, have = len(self.slots), len(self.counts)
        if used + keys > have and have < self.capacity:
            self.counts.grow(min(self.capacity, max(used + keys, have + have // 8, 1024)))

    def slot(self, anchor: str, product: str) -> int:
        key = (anchor, product)
        if key in self.slots:
            self.slots.move_to_end(key)
            return self.slots[key]
        if len(self.slots) < self.capacity:
            s = len(self.slots)
            self.reserve(1)
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
        if s >= len(self.generation):
            self.generation = np.pad(self.generation, (0, max(s + 1 - len(self.generation), len(self.generation))))
        self.generation[s] += 1
        return s


class SeenOrders:
    """Order keys already counted, so a replayed event is not counted twice; remembers the last `capacity`.

    Keys live in sorted uint64 chunks of at most CHUNK keys, oldest first, each with the arrival number of its
    keys and what the store needs to take a counted order back when it is refunded (its good's column, its
    (room, good) slot and that slot's generation, its minute: NO_PLACE where there is none): 32 bytes a key,
    where an ordered dict of Python ints took about 130 (a week of the large snapshot's 1.7M orders: 54 MB, per
    worker). A batch is looked up with
    one binary search per chunk, and the oldest keys are dropped first.
    """

    CHUNK = 1 << 17
    #: (column, room slot, slot generation, minute) of a key that counted nothing (or nothing any more)
    NO_PLACE = (-1, -1, -1, -1)

    def __init__(self, capacity: int = 2_000_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = capacity
        # (sorted keys, their arrival numbers, their places: int32 rows of column, room slot, generation, minute)
        self._chunks: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque()
        self._arrived = 0  # arrival number of the next new key
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def _locate(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each key, the chunk holding it (-1: none) and its position there."""
        where = np.full(len(keys), -1, np.int64)
        at = np.zeros(len(keys), np.int64)
        for c, (chunk, _, _) in enumerate(self._chunks):
            pos = np.minimum(np.searchsorted(chunk, keys), len(chunk) - 1)
            hit = chunk[pos] == keys
            where[hit], at[hit] = c, pos[hit]
        return where, at

    def known(self, keys: np.ndarray) -> np.ndarray:
        """True where a key is remembered."""
        return self._locate(np.asarray(keys, np.uint64))[0] >= 0

    def fresh(self, keys: np.ndarray, places: np.ndarray | None = None) -> np.ndarray:
        """Mark `keys` as seen, with their `places` (rows as NO_PLACE; None: NO_PLACE); True
        where a key is new (a key repeated inside the batch counts once)."""
        keys = np.asarray(keys, np.uint64)
        out = np.zeros(len(keys), bool)
        if not len(keys):
            return out
        distinct, first = np.unique(keys, return_index=True)
        first = np.sort(first[~self.known(distinct)])  # each new key's first position, in arrival order
        out[first] = True
        rows = np.tile(np.int32(self.NO_PLACE), (len(first), 1)) if places is None else \
            np.asarray(places, np.int32)[first]
        self._remember(keys[first], rows)
        return out

    def place(self, keys: np.ndarray, places: np.ndarray) -> None:
        """Record where remembered `keys` were counted (what `places` reads)."""
        where, at = self._locate(np.asarray(keys, np.uint64))
        places = np.asarray(places, np.int32)
        for c in np.unique(where[where >= 0]).tolist():
            mine = where == c
            self._chunks[c][2][at[mine]] = places[mine]

    def places(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each of `keys` was counted (NO_PLACE where nowhere), and whether the key is remembered at all:
        (places, known). A refund reads them, then `place`s NO_PLACE for the orders it took back."""
        where, at = self._locate(np.asarray(keys, np.uint64))
        places = np.tile(np.int32(self.NO_PLACE), (len(keys), 1))
        for c in np.unique(where[where >= 0]).tolist():
            mine = where == c
            places[mine] = self._chunks[c][2][at[mine]]
        return places, where >= 0

    def _remember(self, keys: np.ndarray, places: np.ndarray) -> None:
        arrival = self._arrived + np.arange(len(keys), dtype=np.int64)
        self._arrived += len(keys)
        done = 0
        while done < len(keys):
            if not self._chunks or len(self._chunks[-1][0]) >= self.CHUNK:
                self._chunks.append((np.zeros(0, np.uint64), np.zeros(0, np.int64),
                                     np.zeros((0, len(self.NO_PLACE)), np.int32)))
            chunk, numbers, held = self._chunks[-1]
            take = min(self.CHUNK - len(chunk), len(keys) - done)
            part = slice(done, done + take)
            order = np.argsort(keys[part])  # merged into the open chunk: one pass over it, not a sort of it
            at = np.searchsorted(chunk, keys[part][order])
            self._chunks[-1] = (np.insert(chunk, at, keys[part][order]), np.insert(numbers, at, arrival[part][order]),
                                np.insert(held, at, places[part][order], axis=0))
            done += take
        self._len += len(keys)
        while self._len > self.capacity:  # forget the oldest: whole chunks, then part of the oldest one
            excess = self._len - self.capacity
            chunk, numbers, held = self._chunks[0]
            if len(chunk) <= excess:
                self._chunks.popleft()
                self._len -= len(chunk)
            else:
                keep = numbers > np.partition(numbers, excess - 1)[excess - 1]
                self._chunks[0] = (chunk[keep], numbers[keep], held[keep])
                self._len -= excess
