"""Ring-bucket window counts forget what falls out of the last hour and the last week; the seen order ids are
the last `capacity` of them."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

from recommender.hot.counts import HOURS, MINUTES, SeenOrders, WindowCounts
from tests.recommender.hot.conftest import DAY, T0


def test_rings_forget_what_falls_out_of_the_window():
    w = WindowCounts(1)
    w.add(np.array([0, 0]), np.array([T0, T0 + 1]))
    assert w.recent(None, MINUTES)[0] == 2
    w.advance(T0 + 60)  # the last hour is now T0+1 .. T0+60
    assert w.recent(None, MINUTES)[0] == 1  # the order at T0 left it
    w.advance(T0 + 61)
    assert w.recent(None, MINUTES)[0] == 0
    w.advance(T0 + 8 * DAY)
    assert w.last_hours(None, HOURS)[0] == 0


def _remembered_by_an_ordered_dict(batches: list[np.ndarray], capacity: int) -> tuple[list[np.ndarray], set]:
    """The specification of SeenOrders, written the plain way: the fresh mask of each batch, and what is kept."""
    seen: OrderedDict[int, None] = OrderedDict()
    masks = []
    for keys in batches:
        mask = np.zeros(len(keys), bool)
        for i, k in enumerate(keys.tolist()):
            if k not in seen:
                seen[k] = None
                mask[i] = True
        while len(seen) > capacity:
            seen.popitem(last=False)
        masks.append(mask)
    return masks, set(seen)


@pytest.mark.parametrize("capacity", [1, 5, 23, 64, 300])
def test_seen_orders_remember_exactly_the_last_capacity_keys(monkeypatch, capacity):
    """Chunked sorted arrays behave like an ordered dict of the last `capacity` keys: replays inside a batch and
    across batches are found, the oldest keys are forgotten first, a batch larger than a chunk or than the
    capacity included."""
    monkeypatch.setattr(SeenOrders, "CHUNK", 8)
    rng = np.random.default_rng(capacity)
    batches = [rng.integers(0, 400, rng.integers(0, 40)).astype(np.uint64) for _ in range(60)]
    batches.append(rng.integers(0, 400, 700).astype(np.uint64))  # one batch larger than any capacity here
    expected, kept = _remembered_by_an_ordered_dict(batches, capacity)
    seen = SeenOrders(capacity)
    for keys, mask in zip(batches, expected, strict=True):
        np.testing.assert_array_equal(seen.fresh(keys), mask)
    assert len(seen) == len(kept)
    universe = np.arange(400, dtype=np.uint64)
    np.testing.assert_array_equal(seen.known(universe), np.isin(universe, list(kept)))


@pytest.mark.parametrize("capacity", [5, 64])
def test_seen_orders_keep_each_key_s_place_through_merges_until_it_is_taken_back(monkeypatch, capacity):
    """A key's place (column, room slot, generation, minute) stays with its key however the chunks merge and
    forget; taken back (NO_PLACE placed), it is NO_PLACE after and the key still known; a forgotten key is not
    known."""
    monkeypatch.setattr(SeenOrders, "CHUNK", 8)
    rng = np.random.default_rng(capacity)
    seen, placed = SeenOrders(capacity), OrderedDict()
    for _ in range(40):
        keys = rng.integers(0, 200, rng.integers(1, 12)).astype(np.uint64)
        fresh = seen.fresh(keys)
        places = np.column_stack([keys.astype(np.int32), -keys.astype(np.int32), 7 + keys.astype(np.int32),
                                  1000 + keys.astype(np.int32)])
        seen.place(keys[fresh], places[fresh])
        for k in keys[fresh].tolist():
            placed[k] = (k, -k, 7 + k, 1000 + k)
        while len(placed) > capacity:
            placed.popitem(last=False)
    asked = np.arange(200, dtype=np.uint64)
    places, known = seen.places(asked)
    np.testing.assert_array_equal(known, np.isin(asked, list(placed)))
    expected = np.array([placed.get(k, SeenOrders.NO_PLACE) for k in range(200)])
    np.testing.assert_array_equal(places, expected)
    seen.place(asked[known], np.tile(np.int32(SeenOrders.NO_PLACE), (int(known.sum()), 1)))  # taken back
    again, still = seen.places(asked)
    assert (again == SeenOrders.NO_PLACE).all() and (still == known).all()


def test_hours_count_the_last_week_by_hour_and_ignore_older_orders():
    """T0 is on an hour boundary: orders now, 3 hours ago, 2 days ago, 6.9 days ago; one 8 days ago is ignored."""
    start = T0 - T0 % 60
    w = WindowCounts(2)
    ages = [0, 3 * 60, 2 * DAY, int(6.9 * DAY), 8 * DAY]
    w.add(np.array([1, 1, 1, 1, 1]), np.array([start + 30 - a for a in ages]))
    assert w.last_hours(None, 1).tolist() == [0, 1]
    assert w.last_hours(np.array([1]), 4).tolist() == [2]
    assert w.last_hours(np.array([1]), 24).tolist() == [2]
    assert w.last_hours(np.array([1]), 3 * 24).tolist() == [3]
    assert w.last_hours(None, HOURS).tolist() == [0, 4]  # the week's, not the order 8 days old
    assert w.recent(np.array([1, 0]), MINUTES).tolist() == [1, 0]


def test_before_any_order_every_window_is_zero_for_the_keys_asked():
    w = WindowCounts(5)
    assert w.last_hours(np.array([1, 3]), 24).tolist() == [0, 0] and w.recent(np.array([4]), 15).tolist() == [0]
    assert w.last_hours(None, HOURS).tolist() == [0] * 5
