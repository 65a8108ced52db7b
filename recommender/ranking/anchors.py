"""Anchors for a good (达人广场): the merchant's view, quality-gated rooms ranked by the scorer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from recommender.arrays import top_k
from recommender.ranking.catalog import Rooms
from recommender.ranking.explain import Explainer
from recommender.ranking.results import Page
from recommender.ranking.scorers import Scorer


class AnchorsForGood:
    """Pages of rooms for one good, best first, each with its figures and reasons."""

    def __init__(self, rooms: Rooms, gate: np.ndarray, scorer: Scorer, explainer: Explainer,
                 shelf_of: Callable[[int], np.ndarray] | None = None) -> None:
        self.rooms, self.gate, self.scorer, self.explainer = rooms, gate, scorer, explainer
        self.shelf_of = shelf_of

    def page(self, product: int, k: int = 20, offset: int = 0, tier: str | None = None,
             min_fans: int | None = None, exclude: np.ndarray | None = None) -> Page:
        """Rooms tied at the page boundary are all kept and ordered by row, so pages neither repeat nor skip."""
        mask = self.gate.copy()
        if exclude is not None:
            mask[exclude] = False
        if tier is not None:
            mask &= self.rooms.tier == tier
        if min_fans is not None:
            mask &= self.rooms.fans >= min_fans
        rows = np.flatnonzero(mask)
        if not len(rows):
            return Page([], offset, None, 0)
        score, breakdown = self.scorer.rooms_for(product, rows)
        page = top_k(score[None, :], offset + k)[0][offset:]  # ties by position, i.e. by anchor row
        shown = rows[page]
        on_shelf = None if self.shelf_of is None else np.array([product in self.shelf_of(a) for a in shown.tolist()])
        items = self.explainer.anchors(product, shown, score[page],
                                       {name: values[page] for name, values in breakdown.items()}, on_shelf)
        return Page(items, offset, offset + k if len(rows) > offset + k else None, len(rows))
