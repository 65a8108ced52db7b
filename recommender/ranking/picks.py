"""Goods for an anchor's shelf (选品): gate and filter, score, arrange into pages, explain the shown goods."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from recommender.ranking.arrange import arrange
from recommender.ranking.catalog import Goods, Rooms
from recommender.ranking.config import RankingConfig
from recommender.ranking.explain import Explainer
from recommender.ranking.results import Page
from recommender.ranking.scorers import Eligible, Scored, Scorer


@dataclass
class PickFilters:
    """What the selection center's filter bar narrows the picks to."""

    category: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    commission_min: float | None = None
    exclude_shelf: bool = False
    exclude_products: np.ndarray | None = None  # rows never to pick (e.g. goods the anchor already sells)
    new_goods: bool = False  # only 新品 (created within the ranking's new_goods_days): the selection center's 新品 tab

    @property
    def empty(self) -> bool:
        return (self.category is None and self.price_min is None and self.price_max is None
                and self.commission_min is None and not self.exclude_shelf and self.exclude_products is None
                and not self.new_goods)


def arranged(scored: Scored, n: int, k: int, cfg: RankingConfig, outside: np.ndarray | None = None) -> np.ndarray:
    """Positions among the scorer's candidates of a room's first n picks, in blocks of k (the scorer's own
    arrangement when it made one to prove its candidates enough)."""
    if scored.arranged is not None:
        return scored.arranged
    return arrange(scored.code, scored.score, n, k, max_category_share=cfg.max_category_share,
                   support_share=cfg.support_share, outside=outside, max_outside_share=cfg.max_outside_share,
                   tie=scored.rows)


class GoodsForAnchor:
    """Pages of picks for one anchor, best first, each with its score breakdown and reasons."""

    def __init__(self, goods: Goods, gate: np.ndarray, scorer: Scorer, explainer: Explainer,
                 shelf_of: Callable[[int], np.ndarray], cfg: RankingConfig, rooms: Rooms | None = None) -> None:
        self.goods, self.gate, self.scorer, self.explainer, self.config = goods, gate, scorer, explainer, cfg
        self.shelf_of, self.rooms = shelf_of, rooms
        self._unfiltered = Eligible(gate, int(np.count_nonzero(gate)), filtered=False)

    def filter_mask(self, filters: PickFilters, anchor: int | None = None) -> np.ndarray:
        """The gated goods that pass `filters` (the anchor's shelf out when asked)."""
        goods, mask = self.goods, self.gate.copy()
        if filters.category is not None:
            mask &= goods.in_category(filters.category)
        if filters.price_min is not None:
            mask &= goods.price >= filters.price_min
        if filters.price_max is not None:
            mask &= goods.price <= filters.price_max
        if filters.commission_min is not None:
            mask &= goods.commission >= filters.commission_min
        if filters.exclude_shelf and anchor is not None:
            mask[self.shelf_of(anchor)] = False
        if filters.exclude_products is not None:
            mask[filters.exclude_products] = False
        if filters.new_goods:
            mask &= goods.new
        return mask

    def eligible(self, filters: PickFilters, anchor: int) -> Eligible:
        if filters.empty:  # the common request: the gate itself, counted at load (no copy, no count)
            return self._unfiltered
        mask = self.filter_mask(filters, anchor)
        return Eligible(mask, int(np.count_nonzero(mask)), filtered=True)

    def page(self, anchor: int, k: int = 20, offset: int = 0, filters: PickFilters | None = None) -> Page:
        """A slice of one order: the list is arranged in blocks of `page_block` whatever k is asked, each block
        under its own category cap and support share, so any page is picks offset+1 .. offset+k of the same list
        (two pages of 10 are one page of 20, without repeats or gaps) and a page made of whole blocks holds the
        cap and the share."""
        eligible = self.eligible(filters or PickFilters(), anchor)
        n, block = offset + k, self.config.page_block
        outside = None if self.rooms is None else self.rooms.outside(anchor, self.config.home_share)
        capped = outside if self.config.max_outside_share < 1 else None  # the rule needs it only when it caps
        scored = self.scorer.goods_for(anchor, eligible, n, block, capped)
        shown = arranged(scored, n, block, self.config, capped)[offset:n]
        rows = scored.rows[shown]
        shelf = np.sort(self.shelf_of(anchor))  # a room lists a few hundred goods: a sort beats a set of them
        listed = (shelf[np.minimum(np.searchsorted(shelf, rows), len(shelf) - 1)] == rows if len(shelf)
                  else None)
        items = self.explainer.picks(anchor, rows, scored.score[shown], scored.explain(shown), self.scorer.boost[rows],
                                     self.scorer.fit_reasons(anchor, rows), orders=self.scorer.orders,
                                     on_shelf=listed,
                                     outside=None if outside is None else outside[self.goods.category[rows]])
        more = eligible.count > n and len(items) == k
        return Page(items, offset, n if more else None, eligible.count)
