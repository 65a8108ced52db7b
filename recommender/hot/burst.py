"""The burst test (爆款): is a good's recent count improbable under its own baseline?

An item is hot when its orders in the last few minutes are significantly above its *own* baseline, not
when it is merely popular: the recent count is tested against a Poisson with the item's 24 h or 7 d rate
(whichever is higher, the burst itself left out), with a minimum volume. When the burst ends the recent
window empties and the item stops being hot on its own.

The test is written once over any `HotStore`: it asks which keys have at least `min_orders` in the last
`recent_minutes`, and what their 24 h and 7 d counts are. Keys are the snapshot's product ids as strings, so
counts survive a model reload.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.stats import poisson

from recommender.hot.config import HotConfig
from recommender.hot.counts import HOURS
from recommender.hot.store import HotStore

DAY = 24 * 60


@dataclass
class Bursts:
    keys: np.ndarray  # product ids (str) that are bursting, strongest first
    recent: np.ndarray  # their orders in the recent window
    expected: np.ndarray  # what their baseline predicts for that window
    p_value: np.ndarray
    now: int | None = None  # the minute the test was made at
    #: their orders in the last 24 h and 7 d, the burst included: the live counts a hot card shows (the snapshot's
    #: sales of a good that started selling today are 0). None: not known (a list shared by an older worker)
    day: np.ndarray | None = None
    week: np.ndarray | None = None
    #: minutes of the last 24 h the store's counts cover (None: all of them, or not known); a list computed while
    #: that is below the recent window plus `min_baseline_minutes` is empty: the store is warming up
    baseline_minutes: int | None = None
    warming_up: bool = False

    @cached_property
    def lift(self) -> np.ndarray:
        return self.recent / np.maximum(self.expected, 1e-9)

    @classmethod
    def empty(cls, now: int | None = None, baseline_minutes: int | None = None, warming_up: bool = False) -> Bursts:
        z = np.zeros(0)
        return cls(np.zeros(0, str), z, z, z, now, baseline_minutes=baseline_minutes, warming_up=warming_up)

    def to_dict(self) -> dict:
        """Plain JSON types, for one process to share the list it computed (open format, no pickles)."""
        return {"keys": self.keys.tolist(), "recent": self.recent.tolist(), "expected": self.expected.tolist(),
                "p_value": self.p_value.tolist(), "now": self.now,
                "day": None if self.day is None else self.day.tolist(),
                "week": None if self.week is None else self.week.tolist(),
                "baseline_minutes": self.baseline_minutes, "warming_up": self.warming_up}

    @classmethod
    def from_dict(cls, d: dict) -> Bursts:
        day, week = d.get("day"), d.get("week")
        return cls(np.array(d["keys"], str), np.array(d["recent"], float), np.array(d["expected"], float),
                   np.array(d["p_value"], float), d["now"], None if day is None else np.array(day, float),
                   None if week is None else np.array(week, float), d.get("baseline_minutes"),
                   bool(d.get("warming_up", False)))


def detect(store: HotStore, cfg: HotConfig, anchor: str | None = None) -> Bursts:
    """The burst test over a store, platform-wide or for one live room."""
    now = store.now()
    day_minutes = week_minutes = None
    if now is not None:  # the minutes the baselines may be computed over: what the store counted of the last day/week
        cover = store.coverage()
        day_minutes, week_minutes = cover.held(now - DAY + 1, now), cover.held(now - HOURS * 60 + 1, now)
        if week_minutes is not None and week_minutes - cfg.recent_minutes < cfg.min_baseline_minutes:
            return Bursts.empty(now, day_minutes, warming_up=True)
    keys, recent = store.recent(cfg.recent_minutes, cfg.min_orders, anchor, now)
    if now is None or not len(keys):
        return Bursts.empty(now, day_minutes)
    if len(keys) > cfg.max_candidates:  # a flood of orders: test the busiest goods
        top = np.argpartition(-recent, cfg.max_candidates - 1)[:cfg.max_candidates]
        keys, recent = keys[top], recent[top]
    day, week = store.history(keys, anchor, now)
    return poisson_bursts(keys, recent, day, week, cfg, now, day_minutes, week_minutes)


def poisson_bursts(keys: np.ndarray, recent: np.ndarray, day: np.ndarray, week: np.ndarray, cfg: HotConfig,
                   now: int | None = None, day_minutes: int | None = None, week_minutes: int | None = None
                   ) -> Bursts:
    """Keys whose recent count is improbable under their own 24 h / 7 d rate, strongest lift first.
    `day_minutes`, `week_minutes`: the minutes of each window the counts cover (None: all); a window covering
    less than `min_baseline_minutes` besides the recent one gives no rate."""
    recent = np.asarray(recent, float)

    def rate_over(count: np.ndarray, minutes: int) -> np.ndarray | float:
        span = minutes - cfg.recent_minutes  # the burst itself left out
        return np.maximum(count - recent, 0) / span if span >= cfg.min_baseline_minutes else 0.0

    # baselines without the burst: the last 24 h and 7 d minus the recent window, as rates per minute
    day_rate = rate_over(day, DAY if day_minutes is None else day_minutes)
    week_rate = rate_over(week, HOURS * 60 if week_minutes is None else week_minutes)
    rate = np.maximum(np.maximum(day_rate, week_rate), cfg.floor_per_hour / 60)
    expected = rate * cfg.recent_minutes
    p = poisson.sf(recent - 1, expected)  # P(X >= recent)
    idx = np.flatnonzero((p < cfg.alpha) & (recent >= cfg.min_orders))
    order = idx[np.lexsort((keys[idx], p[idx], -(recent[idx] / expected[idx])))]
    day, week = np.maximum(np.asarray(day, float), recent), np.maximum(np.asarray(week, float), recent)
    return Bursts(keys[order], recent[order], expected[order], p[order], now, day[order], week[order], day_minutes)
