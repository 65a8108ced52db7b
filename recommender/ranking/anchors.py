"""Anchors for a good (达人广场): the merchant's view, quality-gated rooms ranked by the scorer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from recommender.arrays import top_k
from recommender.ranking.arrange import arrange
from recommender.ranking.catalog import Rooms
from recommender.ranking.explain import Explainer
from recommender.ranking.results import Page
from recommender.ranking.scorers import Scorer


@dataclass(frozen=True)
class AnchorFilters:
    """The merchant's 达人广场 filters. A label filter keeps rooms whose followers hold at least the share given of
    that label (a gender, an age band, a region); the audience's price level is its followers' average order
    (客单价, yuan); category GMV is the room's 30-day GMV in the good's category (yuan). Labels and tiers must be
    ones the model knows (`Rooms.tiers`, `Rooms.audience_labels`): the caller checks them."""

    tier: str | None = None
    min_fans: int | None = None
    max_fans: int | None = None
    gender: str | None = None
    gender_share_min: float = 0.5
    age_band: str | None = None
    age_share_min: float = 0.2
    region: str | None = None
    region_share_min: float = 0.1
    audience_price_min: float | None = None
    audience_price_max: float | None = None
    category_gmv_min: float | None = None
    new_only: bool = False

    def mask(self, rooms: Rooms, category: int = -1) -> np.ndarray:
        """(anchors,) True where a room passes every filter given; `category` (a goods category code) is the
        one `category_gmv_min` reads."""
        ok = np.ones(len(rooms), bool)
        if self.tier is not None:
            ok &= rooms.tier == self.tier
        fans = np.asarray(rooms.fans)
        if self.min_fans is not None:
            ok &= fans >= self.min_fans
        if self.max_fans is not None:
            ok &= fans <= self.max_fans
        for dim, label, least in (("gender", self.gender, self.gender_share_min),
                                  ("age_band", self.age_band, self.age_share_min),
                                  ("region", self.region, self.region_share_min)):
            if label is not None:
                labels = rooms.audience_labels.get(dim, [])
                if label not in labels:
                    return np.zeros(len(rooms), bool)
                ok &= np.asarray(rooms.audience[dim][:, labels.index(label)], float) >= least - 1e-9
        if self.audience_price_min is not None or self.audience_price_max is not None:
            value = np.full(len(rooms), np.nan) if rooms.order_value is None else np.asarray(rooms.order_value, float)
            known = np.isfinite(value)  # a room whose followers bought nothing has no price level: left out
            ok &= known
            if self.audience_price_min is not None:
                ok &= np.where(known, value, -np.inf) >= self.audience_price_min
            if self.audience_price_max is not None:
                ok &= np.where(known, value, np.inf) <= self.audience_price_max
        if self.category_gmv_min is not None:
            gmv, _ = rooms.category_sales(np.arange(len(rooms)), category)
            ok &= gmv >= self.category_gmv_min
        if self.new_only:
            ok &= rooms.new if rooms.new is not None else False
        return ok


class AnchorsForGood:
    """Pages of rooms for one good, best first, each with its figures and reasons. One room in every
    `new_every` is a 新人主播 (扶持: the best new anchor left by the same score) while any passes the filters,
    so a merchant's list does not only ever show established rooms; 0: none."""

    def __init__(self, rooms: Rooms, gate: np.ndarray, scorer: Scorer, explainer: Explainer,
                 shelf_of: Callable[[int], np.ndarray] | None = None, new_every: int = 0) -> None:
        self.rooms, self.gate, self.scorer, self.explainer = rooms, gate, scorer, explainer
        self.shelf_of, self.new_every = shelf_of, new_every
        self.reserves = new_every > 0

    def page(self, product: int, k: int = 20, offset: int = 0, filters: AnchorFilters | None = None,
             exclude: np.ndarray | None = None) -> Page:
        """Rooms tied at the page boundary are all kept and ordered by row, so pages neither repeat nor skip."""
        mask = self.gate.copy()
        if exclude is not None:
            mask[exclude] = False
        if filters is not None:
            mask &= filters.mask(self.rooms, int(self.explainer.category_of(product)))
        rows = np.flatnonzero(mask)
        if not len(rows):
            return Page([], offset, None, 0)
        score, breakdown = self.scorer.rooms_for(product, rows)
        page = self.order(rows, score, offset + k)[offset:]
        shown = rows[page]
        on_shelf = None if self.shelf_of is None else np.array([product in self.shelf_of(a) for a in shown.tolist()])
        items = self.explainer.anchors(product, shown, score[page],
                                       {name: values[page] for name, values in breakdown.items()}, on_shelf,
                                       new_supported=self.reserves)
        return Page(items, offset, offset + k if len(rows) > offset + k else None, len(rows))

    def order(self, rows: np.ndarray, score: np.ndarray, n: int) -> np.ndarray:
        """Positions in `rows` of the first `n` rooms in display order, ties by row (the served oracle of the
        evaluation arranges the truth's scores by it too). The arrangement only ever
        takes the best room left or the best new one left, so the best n of each are all it can need."""
        best = top_k(score[None, :], n)[0]
        new = None if self.rooms.new is None or not self.reserves else np.asarray(self.rooms.new)[rows]
        if new is None or not new.any():
            return best
        newcomers = np.flatnonzero(new)
        candidates = np.union1d(best, newcomers[top_k(score[None, newcomers], n)[0]])
        one_per_block = (1 + 1e-9) / self.new_every  # the last slot of each block (49 x (1 / 49) < 1 in floats)
        return candidates[arrange(new[candidates].astype(np.int64), score[candidates], n, self.new_every,
                                  max_category_share=1.0, support_share=one_per_block, tie=candidates)]
