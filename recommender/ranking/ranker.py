"""The ranking front: one object per loaded model that wires the components for the service and the jobs.

The order is the platform's: quality control (品控, `gates`) removes goods before any efficiency is considered;
a scorer (`scorers`) values every good left for the room, the anchor's expected commission; small merchants
and new goods get a boost and a guaranteed share of the slots (中小商家扶持), and no category takes more than its
share of a page (`arrange`); each shown pick carries its reasons (`explain`). Everything a request reads is
prepared here once per model; a request only indexes and masks.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from recommender.artifact import Model
from recommender.clock import to_minutes
from recommender.errors import ArtifactError
from recommender.ranking.anchor_boards import AnchorBoards, BoardPage
from recommender.ranking.anchors import AnchorFilters, AnchorsForGood
from recommender.ranking.audience_scorer import AudienceFitScorer
from recommender.ranking.boards import Boards
from recommender.ranking.catalog import Goods, Rooms
from recommender.ranking.config import RankingConfig
from recommender.ranking.explain import Explainer
from recommender.ranking.explore import Exploration
from recommender.ranking.gates import anchors_gate, gate_failures, goods_gate
from recommender.ranking.picks import GoodsForAnchor, PickFilters
from recommender.ranking.qc import qc_factor
from recommender.ranking.results import Page
from recommender.ranking.scorers import Scorer, ShelfRateScorer, VectorScorer
from recommender.ranking.similar import similar_goods


class Ranker:
    """Ranks goods for anchors and anchors for goods over one loaded model."""

    def __init__(self, model: Model, config: RankingConfig | None = None) -> None:
        self.model, self.config = model, config or RankingConfig()
        cfg = self.config
        self.goods = Goods.from_model(model, cfg)
        self.rooms = Rooms.from_model(model, self.goods.categories, cfg)
        self.gate = goods_gate(self.goods, cfg)
        self.anchor_gate = anchors_gate(self.rooms, cfg)
        self.boards = Boards(self.goods, self.gate)
        rates = model.shelf_rate
        # the range a pick's expected commission is shown with: its quality posterior, widened by the model's error
        interval = None if rates is None or rates.shape is None else rates.range_factors(cfg.range_log_sd)
        self.explainer = Explainer(self.goods, self.rooms, self.boards.rank[7], interval=interval,
                                   sold_7d=sold_within(model, days=7), qc=qc_factor(self.goods, cfg))
        self.scorer = self._scorer(model)
        self.goods_for_anchor = GoodsForAnchor(self.goods, self.gate, self.scorer, self.explainer, model.shelf_of,
                                               cfg, self.rooms)
        self.anchors_for_good = AnchorsForGood(self.rooms, self.anchor_gate, self.scorer, self.explainer,
                                               model.shelf_of, cfg.new_anchor_every)
        self.anchor_boards = None if model.anchor_window_gmv is None else AnchorBoards(
            model.anchor_window_gmv, model.anchor_window_orders, self.rooms, self.anchor_gate, self.goods.categories)

    def _scorer(self, model: Model) -> Scorer:
        """Expected orders if shelved where the artifact has the shelf-rate model (with the room x good term where
        it has that too), the vectors otherwise."""
        if model.shelf_rate is None:
            return VectorScorer(model, self.goods, self.rooms, self.config)
        try:
            if model.personal is not None and self.config.audience_fit:
                explore = None if not self.config.explore else Exploration(
                    self.config.explore, model.anchor_ids.ids, model.product_ids.ids, snapshot_day(model))
                # rooms with an order in the snapshot the model was fitted on (the band factor's own evidence)
                sold = model.columns.anchor_stats.numbers("orders_all", 1.0) > 0
                return AudienceFitScorer(model.personal, self.goods, self.gate, self.config, explore, sold,
                                         quotable=self.rooms.quotable, sold_in=self.rooms.sold_categories())
            return ShelfRateScorer(model.shelf_rate, self.goods, self.gate, self.config)
        except ArtifactError as exc:
            raise ArtifactError(f"{model.path}: {exc}") from exc

    @property
    def board_rank(self) -> dict[int, np.ndarray]:
        """Each good's rank on its category's TOP board per window (0: not on it)."""
        return self.boards.rank

    def picks(self, anchor: int, k: int = 20, offset: int = 0, filters: PickFilters | None = None) -> Page:
        """A page of goods for one anchor's shelf (选品)."""
        return self.goods_for_anchor.page(anchor, k, offset, filters)

    def anchors_for(self, product: int, k: int = 20, offset: int = 0, tier: str | None = None,
                    min_fans: int | None = None, exclude: np.ndarray | None = None,
                    filters: AnchorFilters | None = None) -> Page:
        """A page of anchors for a good (达人广场); `tier` and `min_fans` are shorthands for those filters."""
        filters = filters or AnchorFilters()
        if tier is not None or min_fans is not None:
            filters = dataclasses.replace(filters, tier=tier if tier is not None else filters.tier,
                                          min_fans=min_fans if min_fans is not None else filters.min_fans)
        return self.anchors_for_good.page(product, k, offset, filters, exclude)

    def anchor_board(self, window: int, metric: str = "gmv", category: str | None = None, tier: str | None = None,
                     new: bool = False, k: int = 20, offset: int = 0) -> BoardPage | None:
        """A page of the anchor board (达人带货榜; `new`: 新人主播榜). None for artifacts without the boards
        (formats before 8)."""
        if self.anchor_boards is None:
            return None
        return self.anchor_boards.page(window, metric, category, tier, new, k, offset)

    def gate_failures(self, product: int) -> list[str]:
        """Why one good is gated out (empty when it passes)."""
        return gate_failures(self.goods, self.config, product)

    def in_category(self, name: str) -> np.ndarray:
        return self.goods.in_category(name)

    @property
    def categories(self) -> list[str]:
        """The catalogue's categories (sorted): what a category filter may name."""
        return self.goods.categories

    @property
    def tiers(self) -> list[str]:
        """The anchors' tiers, from the top down (头部/腰部/尾部, then others): what a tier filter may name."""
        return self.rooms.tiers

    def similar(self, product: int, k: int = 20) -> list[tuple[int, float]]:
        """The closest goods in the embedding space that pass the gates: (row, cosine)."""
        return similar_goods(self.model, self.gate, product, k)

    def top_sales(self, window: int, k: int = 50, category: str | None = None) -> list[int]:
        """The TOP sales board."""
        return self.boards.top(window, k, category)


def snapshot_day(model: Model) -> int:
    """The snapshot's day (days since 1970-01-01): what a room's exploration rotates with."""
    return int(to_minutes([model.snapshot_time])[0] // (24 * 60))


def sold_within(model: Model, days: int) -> np.ndarray | None:
    """Sorted keys anchor x goods + good of what each room sold in the last `days` before the snapshot, from the
    artifact's recent orders (None when they cover fewer days)."""
    if model.manifest.get("parameters", {}).get("recent_order_days", 0) < days:
        return None
    recent = model.recent_orders
    end = to_minutes([model.snapshot_time])[0]
    inside = np.asarray(recent["minute"]) >= end - days * 24 * 60
    keys = (np.asarray(recent["anchor"], np.int64)[inside] * len(model.product_ids)
            + np.asarray(recent["product"], np.int64)[inside])
    return np.unique(keys)
