"""Ring-bucket window counts forget what falls out of the last hour and the last week."""

from __future__ import annotations

import numpy as np

from recommender.hot.counts import HOURS, MINUTES, WindowCounts
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
