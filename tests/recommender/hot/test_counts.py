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
