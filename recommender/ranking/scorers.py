"""Scorers: how much a good is worth to a room, and a room to a good. One protocol, two implementations.

A good's score in room a is its expected value to the anchor, relative affinity^w x (yuan per order)^p x
commission^c, times a boost for supported goods (扶持). The affinity comes from

* `ShelfRateScorer`: expected orders if shelved (recommender/shelf_rate.py), the default wherever the artifact
  has the shelf-rate model. It ranks every eligible good, not a shortlist.
* `VectorScorer`: the inner product of the anchor and good vectors, for artifacts without that model (no shelf
  table, e.g. Online Retail). It ranks a few hundred goods retrieved exactly by that inner product.

A scorer answers with candidates that provably hold the first n picks of the page-arrangement rule over every
eligible good; the picks arrange them (recommender/ranking/arrange.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

import numpy as np

from recommender.arrays import ranges
from recommender.artifact import Model
from recommender.errors import ArtifactError
from recommender.index import NormOrderedIndex, flat_index
from recommender.ranking.arrange import slot_codes
from recommender.ranking.catalog import Goods, Rooms
from recommender.ranking.config import RankingConfig
from recommender.ranking.explore import Exploration
from recommender.ranking.qc import qc_factor
from recommender.shelf_rate import DAYS_PER_PERIOD, ShelfRates
from recommender.trend import room_base, room_trend_reach

POOL_CACHE_ROWS = 500_000  # rows of unfiltered category pools kept per loaded model (48 bytes each: 24 MB)
POOL_CACHE_MAX_N = 1_000  # pools are kept for lists up to this long (pages 1-5 at k=200); deeper ones are rebuilt
SUPPORTED_CANDIDATES = 200  # supported goods precomputed per anchor at load (vector scorer)
# the trend's threshold rule scores every eligible good instead when its lists reach this share of them (the
# trend is flat: its n-th best good is close to the top, so the rule needs deep lists), or when there are at most
# BLEND_SCAN_GOODS: on Online Retail (3,659 goods) one product of the catalogue with the anchor took 0.28 ms a
# page against 0.36 ms for the rule's lists
BLEND_SCAN_SHARE = 0.25
BLEND_SCAN_GOODS = 10_000
BLEND_DEPTH = 1.5  # the threshold rule's first depth, in goods asked for (within the 2n of the candidate lists)


class Eligible(NamedTuple):
    """The goods a request may show: the quality gate narrowed by its filters."""

    mask: np.ndarray
    count: int
    filtered: bool  # False: `mask` is the gate itself, the same for every unfiltered request


class Scored(NamedTuple):
    """Candidates for a room's page, in the scorer's order, and how to explain the shown ones."""

    rows: np.ndarray  # goods
    score: np.ndarray
    code: np.ndarray  # slot codes for the arrangement
    #: positions among the candidates -> (4, m) affinity, relative affinity, expected value, score; a fifth row,
    #: the exploration factor, where the scorer explores
    explain: Callable[[np.ndarray], np.ndarray]
    #: positions of the first picks in display order when the scorer arranged them already (None: not yet)
    arranged: np.ndarray | None = None


class Scorer(Protocol):
    """What the picks and the merchant's view ask of a model."""

    boost: np.ndarray  # per good: 1 + support_boost for supported goods, else 1
    orders: bool  # the affinity is expected orders per 30 days (so x yuan per order x commission rate is yuan)
    explore: Exploration | None  # the per-room factors scores carry (ranking.explore), None: none

    def goods_for(self, anchor: int, eligible: Eligible, n: int, k: int, outside: np.ndarray | None = None
                  ) -> Scored:
        """Candidates whose arrangement into pages of k gives the first n picks over every eligible good
        (`outside`: the room's categories outside its own, per category, when their share of a page is capped)."""
        ...

    def rooms_for(self, product: int, anchors: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Scores of rooms `anchors` for one good, and the named figures behind them."""
        ...

    def fit_reasons(self, anchor: int, rows: np.ndarray) -> list[tuple[dict, ...]] | None:
        """Why each good fits this room's audience beyond its category (None: the scorer cannot say)."""
        ...


class Pool(NamedTuple):
    """Goods a room's first picks can come from, with the anchor-independent factors of their scores."""

    rows: np.ndarray
    col: np.ndarray  # the category's column of the room-strength matrix
    unit: np.ndarray  # expected orders at room strength 1
    own_value: np.ndarray  # quality ** w x (yuan per order) ** p x commission ** c x 品控 factor
    own: np.ndarray  # own_value x support boost
    code: np.ndarray  # slot codes for the arrangement


class _Value:
    """The anchor-independent part of a good's value: (yuan per order)^p x commission^c x its 品控 factor
    (qc.py), and the support boost. Yuan per order (Goods.order_value) is what commission is paid on:
    the price times the units an order holds, less discounts.

    A catalogue without commissions (every rate 0: a retailer's own sales log, not a distribution pool) has no
    earnings to weigh: every good's value would be 0 and the order an accident of ties, so there goods are
    ranked by how many orders the room would sell, price and commission left out."""

    def __init__(self, goods: Goods, cfg: RankingConfig) -> None:
        earns = bool(np.any(goods.commission > 0))
        self.per_order = goods.order_value ** cfg.price_weight if earns else np.ones_like(goods.price)
        self.commission = goods.commission ** cfg.commission_weight if earns else np.ones_like(goods.commission)
        self.qc = qc_factor(goods, cfg)
        self.worth = self.per_order * self.commission * self.qc  # what one expected order is worth, ranked
        self.boost = np.where(goods.supported, 1 + cfg.support_boost, 1.0)
        self.code = slot_codes(goods.category, goods.supported)


class ShelfRateScorer:
    orders = True
    explore = None  # one order per category for every room is what makes its pools exact

    """Goods by expected orders if shelved. A good's score in room a is

        (room[a, c] x quality[p] x 30 / top[a]) ** w x value ** p x commission ** c x qc x boost
        = (room[a, c] x 30 / top[a]) ** w  x  own[p],   own = quality ** w x value ** p x commission ** c x qc x boost

    (value: the good's yuan per order, Goods.order_value; quality: its sales level in the model; qc: its 品控 factor,
    qc.py)

    so within a category every room orders the goods alike, by `own`. The gated goods are sorted by category,
    then `own`, once at load, which turns a room's ranking into a merge of per-category lists each scaled by the
    room's strength in the category: a request scores only the heads of the lists it can reach. `top[a]` is the
    room's best gated good (its expected orders), so a good's relative affinity and score are the same in every
    filtered list of the room.
    """

    def __init__(self, rates: ShelfRates, goods: Goods, gate: np.ndarray, cfg: RankingConfig) -> None:
        self.rates, self.config = rates, cfg
        value = _Value(goods, cfg)
        self.boost, self._code, self._supported = value.boost, value.code, goods.supported
        self.room = np.asarray(rates.room)
        quality = np.asarray(rates.quality, np.float64)
        self.unit = quality * DAYS_PER_PERIOD  # expected orders in a room of strength 1
        w = cfg.affinity_weight
        # ranked by a low quantile of quality where asked (caution): the relative affinity shown is the one ranked
        self._caution = (np.ones(len(quality)) if cfg.caution is None else rates.quality_quantile(cfg.caution))
        ranked = quality * self._caution
        self.own_value = (ranked if w == 1 else ranked ** w) * value.worth
        self.own = self.own_value * self.boost
        self.category = np.asarray(rates.category, np.int64)
        if not np.array_equal(self.category, goods.category):  # the pools and the category cap must agree
            wrong = int(np.count_nonzero(self.category != goods.category))
            raise ArtifactError(f"shelf_rate/category.npy disagrees with the catalogue's categories for {wrong} "
                                "goods")
        rows = np.flatnonzero(gate)
        self._by_category = rows[np.lexsort((rows, -self.own[rows], self.category[rows]))]
        self._starts = np.searchsorted(self.category[self._by_category], np.arange(len(rates.categories) + 1))
        self._supported_at = np.flatnonzero(goods.supported[self._by_category])  # positions in _by_category
        best = np.zeros(len(rates.categories))
        np.maximum.at(best, self.category[rows], self.unit[rows])
        self.best_unit = best  # the best gated good's expected orders per category at strength 1
        self._pools: dict[int, Pool] = {}
        self._pool_rows = 0

    def pool(self, n: int, mask: np.ndarray | None = None) -> Pool:
        """The goods any room's first `n` picks come from: each category's n best by `own`, and its n best
        supported goods (the arrangement takes a category's j-th pick either as the best unused good of the
        category or as its best unused supported good, so both lists' first j hold it). Ordered by category,
        then `own`. Without a mask (no filters) the pool is the same for every room and is kept per n."""
        if mask is None and n in self._pools:
            return self._pools[n]
        rows, starts, supported_at = self._by_category, self._starts, self._supported_at
        if mask is not None:  # filters only narrow the gate: keep the order, find the starts again
            rows = rows[mask[rows]]
            starts = np.searchsorted(self.category[rows], np.arange(len(starts)))
            supported_at = np.flatnonzero(self._supported[rows])
        lead = ranges(starts[:-1], np.minimum(starts[:-1] + n, starts[1:]))
        s = np.searchsorted(supported_at, starts)
        lead_supported = supported_at[ranges(s[:-1], np.minimum(s[:-1] + n, s[1:]))]
        rows = rows[np.union1d(lead, lead_supported)]
        pool = self._pool_of(rows)
        if mask is None and n <= POOL_CACHE_MAX_N and self._pool_rows + len(rows) <= POOL_CACHE_ROWS:
            self._pools[n] = pool
            self._pool_rows += len(rows)
        return pool

    def goods_for(self, anchor: int, eligible: Eligible, n: int, k: int, outside: np.ndarray | None = None
                  ) -> Scored:
        # the pool holds each category's n best and n best supported: enough under any per-category rule
        pool = self.pool(n, eligible.mask if eligible.filtered else None)
        col = pool.col
        room = self.room[anchor].astype(np.float64)
        top = max(float((room * self.best_unit).max(initial=0.0)), 1e-12)
        strength = room * DAYS_PER_PERIOD / top  # relative affinity of a good of quality 1
        w = self.config.affinity_weight
        scale = strength if w == 1 else strength ** w
        if not scale.all():  # a category the room cannot sell: its goods all score 0, and ties go by row
            dead = np.flatnonzero(scale == 0)
            dead = dead[np.isin(dead, col)]
            if len(dead):
                pool = self._lowest_rows(pool, dead, n, eligible.mask)
                col = pool.col
        score = scale[col] * pool.own

        def explain(shown: np.ndarray) -> np.ndarray:
            c = col[shown]
            affinity = room[c] * pool.unit[shown]
            rel = affinity * self._caution[pool.rows[shown]] / top
            return np.stack([affinity, rel, scale[c] * pool.own_value[shown], score[shown]])

        return Scored(pool.rows, score, pool.code, explain)

    def _lowest_rows(self, pool: Pool, categories: np.ndarray, n: int, mask: np.ndarray) -> Pool:
        """The pool with the goods of `categories` replaced by each one's n eligible goods of lowest row (and n
        supported ones): what ties at 0 reach first."""
        keep = ~np.isin(pool.col, categories)
        rows = [pool.rows[keep]]
        for c in categories.tolist():
            members = np.flatnonzero(mask & (self.category == c))
            rows += [members[:n], members[self._supported[members]][:n]]
        rows = np.unique(np.concatenate(rows))
        return self._pool_of(rows[np.lexsort((rows, -self.own[rows], self.category[rows]))])

    def _pool_of(self, rows: np.ndarray) -> Pool:
        return Pool(rows, self.category[rows], self.unit[rows], self.own_value[rows], self.own[rows], self._code[rows])

    def rooms_for(self, product: int, anchors: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The rooms where the good would sell the most orders if shelved: the room's strength in the good's
        category (its own sales there, or for a room that never sold it, its scale and its followers' buying)."""
        expected = self.room[anchors, self.category[product]].astype(np.float64) * self.unit[product]
        return expected, {"expected_orders_30d": expected}

    def fit_reasons(self, anchor: int, rows: np.ndarray) -> None:
        return None  # every room orders a category alike: nothing to say beyond the category match


class VectorScorer:
    orders = False
    explore = None

    """Goods by the inner product of anchor and good vectors (artifacts without the shelf-rate model).

    The n best eligible goods are retrieved exactly (each anchor's precomputed candidate list when enough of it
    passes the filters, else a norm-ordered pruned scan of the catalogue), relative affinity = inner product over
    the best retrieved one. Small merchants' and new goods' vectors are short and rarely reach the top few
    hundred, so they are retrieved from an index of their own and the share rule of the arrangement gives them
    slots.

    Where the artifact has the market's trend (recommender/trend.py) a room's good blends taste and trend as a
    fan's does,

        base = relative affinity ** w + trend.room_weight x trend[good] x reach[room, category],
        score = base x (yuan per order)^p x commission^c x boost

    (reach: the room's 30-day GMV in the good's category over its best category's, 1 for a room without sales:
    `recommender.trend.room_trend_reach`)

    and the candidates are the exact top by `base` (Fagin's threshold rule over the goods by affinity and by
    trend: `_top_blend`). Without a trend (or weight 0) base is the relative affinity ** w, as before.
    """

    def __init__(self, model: Model, goods: Goods, rooms: Rooms, cfg: RankingConfig) -> None:
        self.config, self._rooms = cfg, rooms
        value = _Value(goods, cfg)
        self.boost, self._code, self._value = value.boost, value.code, value
        self.vectors = np.asarray(model.vectors["product"])
        self.anchor_vectors = np.asarray(model.vectors["anchor"])
        self._category = goods.category
        self._scan = model.product_scan
        self._candidates = np.asarray(model.anchor_candidates)
        self._candidate_scores = np.asarray(model.anchor_candidate_scores)
        supported_rows = np.flatnonzero(goods.supported)
        self._supported_scan = NormOrderedIndex.build(self.vectors, supported_rows)
        # each anchor's best supported goods, one batch search at load (the support rules are service config)
        n_sup = min(SUPPORTED_CANDIDATES, len(supported_rows))
        if n_sup:
            scores, local = flat_index(self.vectors[supported_rows]).search(self.anchor_vectors, n_sup)
            self._supported_candidates, self._supported_candidate_scores = supported_rows[local], scores
        else:
            self._supported_candidates = np.zeros((len(self.anchor_vectors), 0), np.int64)
            self._supported_candidate_scores = np.zeros((len(self.anchor_vectors), 0), np.float32)
        # the market's trend: every good sorted once by it (ties by row), and the supported ones apart
        trend_cfg = model.trend
        self.trend_weight = float(trend_cfg.room_weight) if trend_cfg is not None else 0.0
        if self.trend_weight > 0:
            self.trend = np.asarray(model.product_trend, np.float64)
            if len(self.trend) != len(self.vectors):
                raise ArtifactError(f"trend/products.npy has {len(self.trend)} goods, the vectors "
                                    f"{len(self.vectors)}")
            self._supported = goods.supported
            # each good's column of the rooms' category GMV (-1: none, which takes the whole trend)
            category = np.asarray(goods.category, np.int64)
            self._trend_column = np.where(category >= 0, rooms.audience_column[np.maximum(category, 0)], -1)
            self._room_reach = room_trend_reach(rooms.category_gmv)

    def retrieve(self, query: np.ndarray, mask: np.ndarray, n: int, supported_only: bool = False
                 ) -> tuple[np.ndarray, np.ndarray]:
        """The n best goods passing `mask` by inner product with `query` (exact): (rows, scores)."""
        if not mask.any():
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        scan = self._supported_scan if supported_only else self._scan
        return scan.search(query, n, mask)

    def retrieve_for_anchor(self, anchor: int, mask: np.ndarray, n: int, supported_only: bool = False,
                            eligible: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Like `retrieve` for an anchor's own vector, from its precomputed candidate list when enough of the list
        passes `mask`. The list holds every good scoring above its last entry, so its masked prefix is exactly the
        top of the eligible goods; otherwise the catalogue is scanned. `eligible` (the number of True in `mask`,
        when the caller already counted it) saves a count of the catalogue."""
        if supported_only:
            rows, scores = self._supported_candidates[anchor], self._supported_candidate_scores[anchor]
        else:
            rows, scores = self._candidates[anchor], self._candidate_scores[anchor]
        keep = mask[rows]
        kept = int(np.count_nonzero(keep))
        if kept >= n or kept == (int(np.count_nonzero(mask)) if eligible is None else eligible):
            return np.asarray(rows[keep][:n], np.int64), np.asarray(scores[keep][:n])
        return self.retrieve(self.anchor_vectors[anchor], mask, n, supported_only)

    def goods_for(self, anchor: int, eligible: Eligible, n: int, k: int, outside: np.ndarray | None = None
                  ) -> Scored:
        if self.trend_weight > 0:
            return self._blended_goods_for(anchor, eligible, n, k)
        cfg, mask = self.config, eligible.mask
        rows, affinity = self.retrieve_for_anchor(anchor, mask, max(cfg.candidates, n), eligible=eligible.count)
        if cfg.support_share > 0:
            extra, extra_aff = self.retrieve_for_anchor(anchor, mask, max(2 * k, 50), supported_only=True,
                                                        eligible=eligible.count)
            fresh = ~np.isin(extra, rows)
            rows, affinity = np.concatenate([rows, extra[fresh]]), np.concatenate([affinity, extra_aff[fresh]])
        top = max(float(affinity.max(initial=0.0)), 1e-9)
        rel = np.maximum(affinity / top, 1e-3)  # inner products may be zero or negative
        w = cfg.vector_affinity_weight
        value = (rel if w == 1 else rel ** w) * self._value.worth[rows]
        score = value * self.boost[rows]

        def explain(shown: np.ndarray) -> np.ndarray:
            return np.stack([affinity, rel, value, score])[:, shown]

        return Scored(rows, score, self._code[rows], explain)

    def _blended_goods_for(self, anchor: int, eligible: Eligible, n: int, k: int) -> Scored:
        """`goods_for` with the trend: the same candidates' depths (the top max(candidates, n) and the supported
        top max(2k, 50)), by the blended base instead of the affinity."""
        cfg, mask = self.config, eligible.mask
        _, first_aff = self.retrieve_for_anchor(anchor, mask, 1, eligible=eligible.count)
        top = max(float(first_aff.max(initial=0.0)), 1e-9)  # the best eligible affinity, as without the trend
        rows, affinity = self._top_blend(anchor, mask, max(cfg.candidates, n), top, eligible.count)
        if cfg.support_share > 0:
            extra, extra_aff = self._top_blend(anchor, mask, max(2 * k, 50), top, eligible.count,
                                               supported_only=True)
            fresh = ~np.isin(extra, rows)
            rows, affinity = np.concatenate([rows, extra[fresh]]), np.concatenate([affinity, extra_aff[fresh]])
        rel = np.maximum(affinity / top, 1e-3)
        base = self._base(affinity, top, self.room_trend(anchor, rows))
        value = base * self._value.worth[rows]
        score = value * self.boost[rows]

        def explain(shown: np.ndarray) -> np.ndarray:
            return np.stack([affinity, rel, value, score])[:, shown]

        return Scored(rows, score, self._code[rows], explain)

    def _base(self, affinity: np.ndarray, top: float, trend: np.ndarray | float) -> np.ndarray:
        return room_base(affinity, top, self.config.vector_affinity_weight, self.trend_weight, trend)

    def room_trend(self, anchor: int, rows: np.ndarray | None = None) -> np.ndarray:
        """The trend of goods `rows` (None: all) within the room's categories (`room_trend_reach`): at most the
        market's trend, so the threshold rule's bound over the market's trend still holds."""
        reach = np.append(self._room_reach[anchor], np.float32(1.0))  # column -1: the whole trend
        if rows is None:
            return self.trend * reach[self._trend_column]
        return self.trend[rows] * reach[self._trend_column[rows]]

    def blended_base(self, anchor: int, mask: np.ndarray) -> np.ndarray:
        """Every good's blended base for the room, the relative affinity over the best good passing `mask`
        (a full scan: for checks, not for requests)."""
        affinity = self.vectors @ self.anchor_vectors[anchor]
        top = max(float(affinity[mask].max(initial=0.0)), 1e-9)
        return self._base(affinity, top, self.room_trend(anchor))

    def _top_blend(self, anchor: int, mask: np.ndarray, n: int, top: float, eligible: int,
                   supported_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The n best goods passing `mask` by base = relative affinity ** w + weight x trend, exactly (ties by
        row): (rows in that order, their affinities).

        Fagin's threshold rule: take the `depth` best by affinity and the `depth` best by the room's trend (the
        market's within the room's categories: one product of the catalogue with the room's reach and a partial
        sort, no inner products). A good in neither list has affinity <= the last one's of the first and trend <=
        the last one's of the second, so its base is at most base(last affinity) + weight x last trend. When the
        n-th best base of the union beats that bound (or a list holds every eligible good) the union holds the top
        n; else the depth grows, until scoring every eligible good costs less (`_scan_blend`)."""
        depth = int(BLEND_DEPTH * n)  # at depth n the bound rarely holds: the n-th of the union is below both lists'
        room_trend = cand = cand_trend = None
        while True:
            if eligible <= BLEND_SCAN_GOODS or depth >= BLEND_SCAN_SHARE * eligible:
                return self._scan_blend(anchor, mask, n, top, supported_only)
            if room_trend is None:
                room_trend = self.room_trend(anchor)
                cand = np.flatnonzero(mask & self._supported if supported_only else mask)
                cand_trend = room_trend[cand]
            a_rows, _ = self.retrieve_for_anchor(anchor, mask, depth, supported_only, eligible=eligible)
            if depth < len(cand):
                part = np.argpartition(-cand_trend, depth - 1)[:depth]
                t_rows, last_t = cand[part], float(cand_trend[part].min())
            else:
                t_rows, last_t = cand, 0.0
            rows = np.union1d(a_rows, t_rows)
            affinity = self.vectors[rows] @ self.anchor_vectors[anchor]  # one inner product per candidate
            base = self._base(affinity, top, room_trend[rows])
            order = np.lexsort((rows, -base))[:n]
            done = len(a_rows) < depth or len(t_rows) < depth  # a list ran out: it holds every eligible good
            if not done and len(order) == n:
                last_a = float(self.vectors[a_rows[-1]] @ self.anchor_vectors[anchor])
                bound = float(self._base(np.array([last_a]), top, last_t)[0])
                done = base[order[-1]] > bound  # strictly: a good at the bound might win the tie by row
            if done:
                return rows[order], affinity[order].astype(np.float32)
            depth *= 4

    def _scan_blend(self, anchor: int, mask: np.ndarray, n: int, top: float, supported_only: bool
                    ) -> tuple[np.ndarray, np.ndarray]:
        """`_top_blend` by scoring every good passing `mask` (one product of the catalogue with the anchor)."""
        keep = mask & self._supported if supported_only else mask
        affinity = self.vectors @ self.anchor_vectors[anchor]
        base = np.where(keep, self._base(affinity, top, self.room_trend(anchor)), -np.inf)
        m = min(n, int(np.count_nonzero(keep)))
        if m == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        head = np.argpartition(-base, m - 1)[:m] if m < len(base) else np.arange(len(base))
        cut = base[head].min()
        head = np.flatnonzero(base >= cut)  # every good tied with the m-th, so ties go by row
        rows = head[np.lexsort((head, -base[head]))][:m]
        return rows, affinity[rows].astype(np.float32)

    def rooms_for(self, product: int, anchors: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Audience fit x reach (diminishing) x activity in the good's category x how much of the room's GMV the
        category is already:

            relative fit x sqrt(fans + 1) x (1 + category orders, 30 days) ** room_activity_weight
                         x (1 + category share)

        The anchor vectors are unit vectors, so the fit says which rooms a good suits, not how much they sell:
        without the activity term a room that once bought one matching good outranks a busy one. Measured on
        validation days (bench/tune_merchant.py; README "Offline evaluation"): Online Retail goods→anchors
        NDCG@20 0.024 without the term, 0.064 / 0.065 at exponents 1 / 1.5; a room's orders in every category
        did better there (0.070) but halved the synthetic marketplace's figure without a shelf table (0.286 to
        0.123, where big rooms sell other categories), which the category's orders keep (0.289 / 0.287)."""
        fit = self.anchor_vectors[anchors] @ np.asarray(self.vectors[product], np.float32)
        rel = relative_fit(fit)
        rooms, category = self._rooms, int(self._category[product])
        w = self.config.room_activity_weight
        orders = rooms.category_orders_30d(anchors, category) if w > 0 else None
        score = merchant_score(rel, rooms.fans[anchors], rooms.category_sales(anchors, category)[1], orders, w)
        figures = {"fit": fit, "relative_fit": rel}
        if orders is not None:
            figures["category_orders_30d"] = orders
        return score, figures

    def fit_reasons(self, anchor: int, rows: np.ndarray) -> None:
        return None


def relative_fit(fit: np.ndarray) -> np.ndarray:
    """Each good's fit to rooms over its best room's (last axis), floored at 1e-3."""
    fit = np.asarray(fit)
    return np.clip(fit / np.maximum(fit.max(axis=-1, keepdims=True), 1e-9), 1e-3, None)


def merchant_score(rel: np.ndarray, fans: np.ndarray, category_share: np.ndarray,
                   category_orders: np.ndarray | None, weight: float) -> np.ndarray:
    """The merchant's view where the vectors rank rooms (`VectorScorer.rooms_for`, and what `xuanpin tune` scores
    it by): relative fit x sqrt(fans + 1) x (1 + category share) x (1 + category orders, 30 days) ** weight."""
    score = rel * np.sqrt(np.asarray(fans, dtype=float) + 1) * (1 + np.asarray(category_share, dtype=float))
    if category_orders is not None and weight > 0:
        score = score * (1 + np.asarray(category_orders, dtype=float)) ** weight
    return score
