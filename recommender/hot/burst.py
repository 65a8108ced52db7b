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
    #: minutes of the last 24 h the baseline was taken over: whole hours the store counted, before the tested
    #: window (None: not known); while the week's are fewer than `min_baseline_minutes` the store is warming up
    #: and the list is empty
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
    base = day_minutes = None
    if now is not None:
        base = baseline_hours(*store.hour_totals(now), now, cfg.recent_minutes)
        day_minutes = 60 * int((base > now // 60 - 24).sum())  # the baseline's hours within the last day
        if 60 * len(base) < cfg.min_baseline_minutes:
            return Bursts.empty(now, day_minutes, warming_up=True)
    keys, recent = store.recent(cfg.recent_minutes, cfg.min_orders, anchor, now)
    if now is None or not len(keys):
        return Bursts.empty(now, day_minutes)
    if len(keys) > cfg.max_candidates:  # a flood of orders: test the busiest goods
        top = np.argpartition(-recent, cfg.max_candidates - 1)[:cfg.max_candidates]
        keys, recent = keys[top], recent[top]
    # what the card shows (the last 24 h and 7 d, burst included), and the baseline's hours within each
    day, week, base_day, base_week = store.history_and_baseline(keys, base, anchor, now)
    return poisson_bursts(keys, recent, day, week, cfg, now, baseline=(base_day, base_week, day_minutes,
                                                                       60 * len(base)))


#: an hour holding less than this share of the larger of its neighbours' orders was counted only in part (the
#: store started or stopped within it, or lost some of it); adjacent hours of a day differ far less than that
WHOLE_SHARE = 0.5


def baseline_hours(counted: np.ndarray, totals: np.ndarray, now: int, recent_minutes: int) -> np.ndarray:
    """The hours a baseline is taken over: counted ones (`counted`, ascending, with the platform's orders in
    each, `totals`), wholly before the hour the tested window starts in, between two counted hours, and holding
    at least WHOLE_SHARE of the larger neighbour's orders. The first and last hour of a stretch of counting, and
    an hour with a stop or a start inside it, were counted only in part: taken as whole, they make a steady
    seller's usual pace read low and its next hour a burst."""
    counted, totals = np.asarray(counted, np.int64), np.asarray(totals, np.float64)
    start = (now - recent_minutes + 1) // 60
    at = {h: i for i, h in enumerate(counted.tolist())}
    prev = np.array([at.get(h - 1, -1) for h in counted.tolist()], np.int64)
    nxt = np.array([at.get(h + 1, -1) for h in counted.tolist()], np.int64)
    whole = (prev >= 0) & (nxt >= 0) & (counted < start)
    if whole.any():
        neighbour = np.fmax(totals[np.maximum(prev, 0)], totals[np.maximum(nxt, 0)])
        short = totals < WHOLE_SHARE * neighbour  # NaN (totals not kept) compares False: taken as whole
        whole &= ~short
    return counted[whole]


def poisson_bursts(keys: np.ndarray, recent: np.ndarray, day: np.ndarray, week: np.ndarray, cfg: HotConfig,
                   now: int | None = None,
                   baseline: tuple[np.ndarray, np.ndarray, int, int] | None = None) -> Bursts:
    """Keys whose recent count is improbable under their own 24 h / 7 d rate, strongest lift first.

    `day`, `week`: orders in the last 24 h and 7 d, the burst included. `baseline`: the orders in the hours a
    baseline is taken over (`baseline_hours`) within each window, and those hours' minutes; without it the rates
    are the whole windows' minus the burst. A window whose baseline hours hold fewer than
    `min_baseline_minutes` gives no rate."""
    recent = np.asarray(recent, float)
    if baseline is None:  # the last 24 h and 7 d minus the recent window, as rates per minute
        day_rate = np.maximum(day - recent, 0) / (DAY - cfg.recent_minutes)
        week_rate = np.maximum(week - recent, 0) / (HOURS * 60 - cfg.recent_minutes)
        day_minutes = None
    else:
        base_day, base_week, day_minutes, week_minutes = baseline
        day_rate = (np.asarray(base_day, float) / day_minutes if day_minutes >= cfg.min_baseline_minutes
                    else 0.0)
        week_rate = (np.asarray(base_week, float) / week_minutes if week_minutes >= cfg.min_baseline_minutes
                     else 0.0)
    rate = np.maximum(np.maximum(day_rate, week_rate), cfg.floor_per_hour / 60)
    expected = rate * cfg.recent_minutes
    p = poisson.sf(recent - 1, expected)  # P(X >= recent)
    idx = np.flatnonzero((p < cfg.alpha) & (recent >= cfg.min_orders))
    order = idx[np.lexsort((keys[idx], p[idx], -(recent[idx] / expected[idx])))]
    day, week = np.maximum(np.asarray(day, float), recent), np.maximum(np.asarray(week, float), recent)
    return Bursts(keys[order], recent[order], expected[order], p[order], now, day[order], week[order], day_minutes)
