"""Ranking for the selection center: quality gates and filters -> expected value -> exposure support ->
category diversity -> reasons.

The order is the platform's: quality control (品控) removes goods before any efficiency is considered; the
anchor's expected commission (expected orders if shelved x price x commission rate, from the shelf-rate model)
ranks every good that is left; small merchants and new goods get a boost and a guaranteed share of the slots
(中小商家扶持); no category takes more than its share of a page. Artifacts without the shelf-rate model rank a
few hundred goods retrieved by the anchor vector's affinity instead. Every array here is precomputed once per
loaded model; a request only indexes and masks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from recommender import reasons
from recommender.arrays import ranges, top_k
from recommender.artifact import Model
from recommender.index import NormOrderedIndex, flat_index
from recommender.shelf_rate import DAYS_PER_PERIOD

SUPPORTED_CANDIDATES = 200  # supported goods precomputed per anchor at load (vector affinity)
POOL_CACHE_ROWS = 500_000  # rows of unfiltered category pools kept per loaded model (56 bytes each: 28 MB)
POOL_CACHE_MAX_N = 1_000  # pools are kept for lists up to this long (pages 1-5 at k=200); deeper ones are rebuilt
FIXED_MEMO = 20_000  # goods whose anchor-independent reasons are kept formatted (about 1 KB each)


class RankingConfig(BaseModel):
    """Ranking knobs, with the defaults the service starts with."""

    model_config = ConfigDict(extra="forbid")

    candidates: int = Field(300, ge=10, le=5000, description="goods retrieved before re-ranking (artifacts without "
                            "the shelf-rate model; with it every eligible good is ranked)")
    # quality gates (品控): a good failing any gate is never picked, shown on a board or called similar
    max_refund_rate: float = Field(0.15, ge=0, le=1, description="goods refunded more often are gated out")
    min_shop_rating: float = Field(4.0, ge=0, le=5, description="merchant shops rated lower are gated out")
    max_merchant_violations: int = Field(2, ge=0, description="merchants with more violations are gated out")
    require_stock: bool = Field(True, description="gate out goods with zero stock")
    # expected value: affinity^a * price^p * commission^c. With the shelf-rate model the affinity is the good's
    # expected orders in the room if shelved, relative to the room's best gated good; bench/tune_ranking.py (graded
    # NDCG@50 of anchor_goods_if_shelved, medium fixture, 14-day split, served pages of 20 with support and the
    # 0.7 category cap) measured expected commission (earnings) for a=1, p=0.75: seed 0 0.747, seed 1 0.752; the
    # grid a in (1, 1.25, 1.5) x p in (0.5, 0.75, 1) found nothing better by more than 0.003 (a=1.25, p=1: 0.750 /
    # 0.753, with fewer units: 0.475 / 0.455 against 0.501 / 0.472). Without the cap: 0.812 / 0.815. Older
    # artifacts and snapshots without a shelf table rank by the vectors' inner product (relative to the best
    # retrieved), which is flatter than true sales: there a=1.5, p=0.75 (vector_affinity_weight) was measured
    # best (0.552 -> 0.608 vs a=p=c=1, seed 0; seed 1 agreed). c=1 was as good as 0.75-1.5 for both.
    affinity_weight: float = Field(1.0, ge=0, description="exponent of the relative expected orders")
    vector_affinity_weight: float = Field(1.5, ge=0, description="exponent of the relative vector affinity "
                                          "(artifacts without the shelf-rate model)")
    price_weight: float = Field(0.75, ge=0)
    commission_weight: float = Field(1.0, ge=0)
    # exposure support (中小商家扶持)
    small_merchant_quantile: float = Field(0.3, ge=0, le=1, description="merchants below this GMV quantile")
    new_goods_days: float = Field(14, ge=0, description="goods created within this many days are new")
    support_boost: float = Field(0.25, ge=0, description="score multiplier 1 + boost for supported goods")
    support_share: float = Field(0.2, ge=0, le=1, description="minimum share of slots for supported goods")
    # diversity: most of a room's expected orders are in its main category, so the cap costs earnings. Measured by
    # bench/tune_ranking.py --category-share (medium seed 0, pages of 20, earnings NDCG@50 of the first 100): cap
    # 0.5: 0.682, 0.7: 0.747, none: 0.812 (97% of a page then from the main category).
    max_category_share: float = Field(0.7, gt=0, le=1, description="most a category may take of a page")
    # anchors for a product (达人广场)
    min_anchor_rating: float = Field(4.0, ge=0, le=5, description="anchors rated lower are not proposed")
    max_anchor_violations: int = Field(3, ge=0, description="anchors with more violations are not proposed")


@dataclass
class PickFilters:
    category: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    commission_min: float | None = None
    exclude_shelf: bool = False
    exclude_products: np.ndarray | None = None  # rows never to pick (e.g. goods the anchor already sells)


@dataclass
class Pick:
    product: int  # row in the model's vocabulary
    score: float
    breakdown: dict[str, float]
    audience_reason: dict | None  # the anchor's followers and the good's category (None: no such share)
    #: the good's own reasons (sales, board, commission, support) and support labels ("small_merchant",
    #: "new_goods"): the same for every anchor and shared by every page of this model, so read, do not edit
    good_reasons: tuple[dict, ...] = ()
    support: tuple[str, ...] = ()

    @property
    def reasons(self) -> list[dict]:
        """Every reason, the audience match first: copies, free to edit."""
        head = [self.audience_reason.copy()] if self.audience_reason is not None else []
        return head + [reason.copy() for reason in self.good_reasons]

    @property
    def supported(self) -> list[str]:
        return list(self.support)


@dataclass(frozen=True)
class _Pool:
    """Goods a room's first picks can come from, with the anchor-independent factors of their scores."""

    rows: np.ndarray
    col: np.ndarray  # the category's column of the room-strength matrix
    unit: np.ndarray  # expected orders at room strength 1
    own_value: np.ndarray  # quality ** w x price ** p x commission ** c
    own: np.ndarray  # own_value x support boost
    boost: np.ndarray
    code: np.ndarray  # slot codes for the arrangement (Ranker.slot_codes)


@dataclass
class Page:
    items: list
    offset: int
    next_offset: int | None
    candidates: int  # goods (or anchors) that passed the gates and filters


def _column(df: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in df:
        return np.full(len(df), default, dtype=float)
    return df[name].astype("Float64").fillna(default).to_numpy(dtype=float)


class Ranker:
    """Ranks goods for anchors and anchors for goods over one loaded model."""

    def __init__(self, model: Model, config: RankingConfig | None = None) -> None:
        self.model, self.config = model, config or RankingConfig()
        cfg, p = self.config, model.products
        self.vectors = np.asarray(model.vectors["product"])
        self.anchor_vectors = np.asarray(model.vectors["anchor"])
        self.price = p["price"].to_numpy(float)
        self.commission = p["commission_rate"].to_numpy(float)
        self.category_code, categories = pd.factorize(p["category"], sort=True)
        self.categories = [str(c) for c in categories]
        self.refund = _column(p, "refund_rate", 0.0)
        self.shop_rating = _column(p, "shop_rating", 5.0)
        self.violations = _column(p, "merchant_violations", 0.0)
        self.stock = _column(p, "stock", np.inf)
        self.gate = self.quality_gate()

        age_days = (model.snapshot_time - pd.to_datetime(p["created_at"])).dt.total_seconds().to_numpy() / 86400
        self.new = age_days <= cfg.new_goods_days
        self.merchant_gmv = _column(p, "merchant_gmv_30d", np.inf)
        if "merchant_gmv_30d" in p:
            per_merchant = p.groupby("merchant_id")["merchant_gmv_30d"].first().dropna()
            threshold = float(per_merchant.quantile(cfg.small_merchant_quantile)) if len(per_merchant) else -1.0
            self.small = self.merchant_gmv <= threshold
        else:
            self.small = np.zeros(len(p), bool)
        self.supported = self.new | self.small
        # the affinity: expected orders if shelved where the artifact has the shelf-rate model (the vectors'
        # inner product for older artifacts and snapshots without a shelf table)
        self.rates = model.shelf_rate
        if self.rates is None:
            # small merchants' and new goods' vectors are short, so in the full norm-ordered scan they sit at the
            # end; an index of their own keeps their retrieval as fast as the main one
            supported_rows = np.flatnonzero(self.supported)
            self.supported_scan = NormOrderedIndex.build(self.vectors, supported_rows)
            # each anchor's best supported goods, one batch search at load (the support rules are service config)
            n_sup = min(SUPPORTED_CANDIDATES, len(supported_rows))
            if n_sup:
                scores, local = flat_index(self.vectors[supported_rows]).search(self.anchor_vectors, n_sup)
                self.supported_candidates, self.supported_candidate_scores = supported_rows[local], scores
            else:
                self.supported_candidates = np.zeros((len(self.anchor_vectors), 0), np.int64)
                self.supported_candidate_scores = np.zeros((len(self.anchor_vectors), 0), np.float32)

        st = model.product_stats
        self.sales = {w: st[f"sales_{w}d"].to_numpy() for w in (1, 7, 30)}
        self.board_rank = {w: self._board_ranks(self.sales[w]) for w in (1, 7, 30)}
        labels = model.audience.labels["category"]
        # product category -> column of the audience category-share matrix (same sorted labels by construction)
        self.audience_col = np.array([labels.index(c) if c in labels else -1 for c in self.categories])

        # Python lists of what a pick's reasons read: list indexing is ~30x cheaper than numpy scalar access,
        # and _pick runs 20 times a request
        self._category_of = [self.categories[c] for c in self.category_code.tolist()]
        self._anchors_7d, self._gmv_7d = st["anchors_7d"].tolist(), st["gmv_7d"].astype(float).tolist()
        self._rank_7d = self.board_rank[7].tolist()
        self._price, self._commission = self.price.tolist(), self.commission.tolist()
        self._new, self._small = self.new.tolist(), self.small.tolist()
        self._age_days, self._merchant_gmv = age_days.tolist(), self.merchant_gmv.tolist()
        self._audience_col = [int(self.audience_col[c]) for c in self.category_code.tolist()]

        # what a /picks request reads, prepared once: memmap slices cost ~20 us each (plain ndarray views do
        # not), the no-filter mask and its count are the same for every request, and price^w x commission^w
        # does not depend on the anchor
        self._category_shares = np.asarray(model.audience.shares["category"])
        self._gate_count = int(np.count_nonzero(self.gate))
        self._price_term = self.price ** cfg.price_weight
        self._commission_term = self.commission ** cfg.commission_weight
        self._boost = np.where(self.supported, 1 + cfg.support_boost, 1.0)
        self._slot_code = self.slot_codes(self.category_code, self.supported)
        self.fixed_memo_size = FIXED_MEMO
        self._fixed_memo: dict[int, tuple] = {}
        if self.rates is not None:
            self._prepare_expected()
        else:
            self._candidates = np.asarray(model.anchor_candidates)
            self._candidate_scores = np.asarray(model.anchor_candidate_scores)

        a = model.anchors
        self.anchor_rating = _column(a, "shop_rating", 5.0)
        self.anchor_violations = _column(a, "violations", 0.0)
        self.anchor_gate = (self.anchor_rating >= cfg.min_anchor_rating) & (
            self.anchor_violations <= cfg.max_anchor_violations)
        self.anchor_tier = a["tier"].astype(str).to_numpy() if "tier" in a else np.full(len(a), "")
        self.anchor_gmv_30d = model.anchor_stats["gmv_30d"].to_numpy(float)

    # -- quality ----------------------------------------------------------------------------------------
    def quality_gate(self) -> np.ndarray:
        """True where a good may be shown at all. Unknown values (missing optional columns) pass."""
        cfg = self.config
        ok = (self.refund <= cfg.max_refund_rate) & (self.shop_rating >= cfg.min_shop_rating)
        ok &= self.violations <= cfg.max_merchant_violations
        if cfg.require_stock:
            ok &= self.stock > 0
        return ok

    def gate_failures(self, product: int) -> list[str]:
        """Why one good is gated out (empty when it passes), for the product page."""
        cfg, out = self.config, []
        if self.refund[product] > cfg.max_refund_rate:
            out.append(f"refund_rate {self.refund[product]:.3f} > {cfg.max_refund_rate}")
        if self.shop_rating[product] < cfg.min_shop_rating:
            out.append(f"shop_rating {self.shop_rating[product]:.1f} < {cfg.min_shop_rating}")
        if self.violations[product] > cfg.max_merchant_violations:
            out.append(f"merchant_violations {int(self.violations[product])} > {cfg.max_merchant_violations}")
        if cfg.require_stock and self.stock[product] <= 0:
            out.append("out of stock")
        return out

    def _board_ranks(self, sales: np.ndarray) -> np.ndarray:
        """Rank on the category's TOP sales board among goods that pass the gates (0: not on the board)."""
        df = pd.DataFrame({"cat": self.category_code, "sales": sales, "ok": self.gate & (sales > 0)})
        ranks = df[df["ok"]].groupby("cat")["sales"].rank(method="min", ascending=False)
        out = np.zeros(len(sales), np.int64)
        out[ranks.index.to_numpy()] = ranks.to_numpy(dtype=np.int64)
        return out

    def in_category(self, name: str) -> np.ndarray:
        """Goods of one category (none at all for an unknown category)."""
        if name not in self.categories:
            return np.zeros(len(self.category_code), bool)
        return self.category_code == self.categories.index(name)

    # -- goods for an anchor (选品) ----------------------------------------------------------------------
    def filter_mask(self, filters: PickFilters, anchor: int | None = None) -> np.ndarray:
        mask = self.gate.copy()
        if filters.category is not None:
            mask &= self.in_category(filters.category)
        if filters.price_min is not None:
            mask &= self.price >= filters.price_min
        if filters.price_max is not None:
            mask &= self.price <= filters.price_max
        if filters.commission_min is not None:
            mask &= self.commission >= filters.commission_min
        if filters.exclude_shelf and anchor is not None:
            mask[self.model.shelf_of(anchor)] = False
        if filters.exclude_products is not None:
            mask[filters.exclude_products] = False
        return mask

    def retrieve(self, query: np.ndarray, mask: np.ndarray, n: int, supported_only: bool = False
                 ) -> tuple[np.ndarray, np.ndarray]:
        """The n best eligible goods by inner product (exact, norm-ordered pruned scan). `supported_only` is
        for rankers without the shelf-rate model, which keep the supported goods' own index."""
        if not mask.any():
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        scan = self.supported_scan if supported_only else self.model.product_scan
        return scan.search(query, n, mask)

    def retrieve_for_anchor(self, anchor: int, mask: np.ndarray, n: int, supported_only: bool = False,
                            eligible: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`retrieve` for an anchor's own vector (rankers without the shelf-rate model), from its
        precomputed candidate list when enough of the list passes `mask`. The list holds every good scoring
        above its last entry, so its masked prefix is exactly the top of the eligible goods; otherwise the
        catalogue is scanned. `eligible` (the number of True in `mask`, when the caller already counted it)
        saves a count of the catalogue."""
        if supported_only:
            rows, scores = self.supported_candidates[anchor], self.supported_candidate_scores[anchor]
        else:
            rows, scores = self._candidates[anchor], self._candidate_scores[anchor]
        keep = mask[rows]
        kept = int(np.count_nonzero(keep))
        if kept >= n or kept == (int(np.count_nonzero(mask)) if eligible is None else eligible):
            return np.asarray(rows[keep][:n], np.int64), np.asarray(scores[keep][:n])
        return self.retrieve(self.anchor_vectors[anchor], mask, n, supported_only)

    # -- ranking by expected orders (the shelf-rate model) ----------------------------------------------------
    def _prepare_expected(self) -> None:
        """With the shelf-rate model a good's score in room a is

            (room[a, c] x quality[p] x 30 / top[a]) ** w x price ** p x commission ** c x boost
            = (room[a, c] x 30 / top[a]) ** w  x  own[p],   own = quality ** w x price ** p x commission ** c x boost

        so within a category every room orders the goods alike, by `own`. Sorting the gated goods by category,
        then by `own`, once at load turns a room's ranking into a merge of per-category lists, each scaled by
        the room's strength in the category: a request scores only the heads of the lists it can reach instead
        of retrieving a few hundred candidates and missing the rest of the catalogue. `top[a]` is the room's
        best gated good (its expected orders), so a good's relative affinity and score are the same in every
        filtered list of the room."""
        cfg, rates = self.config, self.rates
        self._room = np.asarray(rates.room)
        quality = np.asarray(rates.quality, np.float64)
        self._unit = quality * DAYS_PER_PERIOD  # expected orders in a room of strength 1
        self._own_value = (quality if cfg.affinity_weight == 1 else quality ** cfg.affinity_weight) \
            * self._price_term * self._commission_term
        self._own = self._own_value * self._boost
        self._room_col = np.asarray(rates.category, np.int64)
        if not np.array_equal(self._room_col, self.category_code):  # the pools and the category cap must agree
            wrong = int(np.count_nonzero(self._room_col != self.category_code))
            raise ValueError(f"{self.model.path}: shelf_rate/category.npy disagrees with the catalogue's "
                             f"categories for {wrong} goods")
        rows = np.flatnonzero(self.gate)
        rows = rows[np.lexsort((rows, -self._own[rows], self._room_col[rows]))]
        self._by_category = rows
        self._category_starts = np.searchsorted(self._room_col[rows], np.arange(len(rates.categories) + 1))
        self._supported_at = np.flatnonzero(self.supported[rows])  # positions in _by_category
        best = np.zeros(len(rates.categories))
        np.maximum.at(best, self._room_col[rows], self._unit[rows])
        self._best_unit = best  # the best gated good's expected orders per category at strength 1
        self._pools: dict[int, _Pool] = {}
        self._pool_rows = 0

    def category_pool(self, n: int, mask: np.ndarray | None = None) -> _Pool:
        """The goods any room's first `n` picks come from: each category's n best by `own`, and its n best
        supported goods (the arrangement takes a category's j-th pick either as the best unused good of the
        category or as its best unused supported good, so both lists' first j hold it). Ordered by category,
        then `own`. Without a mask (no filters) the pool is the same for every room and is kept per n."""
        if mask is None and n in self._pools:
            return self._pools[n]
        rows, starts, supported_at = self._by_category, self._category_starts, self._supported_at
        if mask is not None:  # filters only narrow the gate: keep the order, find the starts again
            rows = rows[mask[rows]]
            starts = np.searchsorted(self._room_col[rows], np.arange(len(starts)))
            supported_at = np.flatnonzero(self.supported[rows])
        lead = ranges(starts[:-1], np.minimum(starts[:-1] + n, starts[1:]))
        s = np.searchsorted(supported_at, starts)
        lead_supported = supported_at[ranges(s[:-1], np.minimum(s[:-1] + n, s[1:]))]
        rows = rows[np.union1d(lead, lead_supported)]
        pool = _Pool(rows, self._room_col[rows], self._unit[rows], self._own_value[rows], self._own[rows],
                     self._boost[rows], self._slot_code[rows])
        if mask is None and n <= POOL_CACHE_MAX_N and self._pool_rows + len(rows) <= POOL_CACHE_ROWS:
            self._pools[n] = pool
            self._pool_rows += len(rows)
        return pool

    def _score_expected(self, anchor: int, mask: np.ndarray | None, n: int, k: int, offset: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The page's goods, scores, breakdowns (affinity, relative affinity, value, score) and boosts. Only the
        score is computed for the whole pool; the rest for the k goods shown."""
        pool = self.category_pool(n, mask)
        if not len(pool.rows):
            return pool.rows, pool.own, np.zeros((4, 0)), pool.boost
        room = self._room[anchor].astype(np.float64)
        top = max(float((room * self._best_unit).max(initial=0.0)), 1e-12)
        strength = room * DAYS_PER_PERIOD / top  # relative affinity of a good of quality 1
        w = self.config.affinity_weight
        scale = strength if w == 1 else strength ** w
        score = scale[pool.col] * pool.own
        shown = self._arrange(pool.code, score, n, k)[offset:n]
        col = pool.col[shown]
        affinity = room[col] * pool.unit[shown]
        breakdown = np.stack([affinity, affinity / top, scale[col] * pool.own_value[shown], score[shown]])
        return pool.rows[shown], score[shown], breakdown, pool.boost[shown]

    def _score_retrieved(self, anchor: int, mask: np.ndarray, n: int, k: int, offset: int, eligible: int
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Like _score_expected, from the anchor vector's nearest goods (artifacts without the shelf-rate model)."""
        cfg = self.config
        rows, affinity = self.retrieve_for_anchor(anchor, mask, max(cfg.candidates, n), eligible=eligible)
        if cfg.support_share > 0:
            # Small merchants' and new goods' vectors rarely reach the top few hundred on affinity alone, so
            # they get a candidate pool of their own; the share rule in _arrange then gives them slots.
            extra, extra_aff = self.retrieve_for_anchor(anchor, mask, max(2 * k, 50), supported_only=True,
                                                        eligible=eligible)
            fresh = ~np.isin(extra, rows)
            rows, affinity = np.concatenate([rows, extra[fresh]]), np.concatenate([affinity, extra_aff[fresh]])
        top = max(float(affinity.max(initial=0.0)), 1e-9)
        rel = np.maximum(affinity / top, 1e-3)  # inner products may be zero or negative
        w = cfg.vector_affinity_weight
        value = (rel if w == 1 else rel ** w) * self._price_term[rows] * self._commission_term[rows]
        boost = self._boost[rows]
        score = value * boost
        shown = self._arrange(self._slot_code[rows], score, n, k)[offset:n]
        return rows[shown], score[shown], np.stack([affinity, rel, value, score])[:, shown], boost[shown]

    @staticmethod
    def _unfiltered(filters: PickFilters) -> bool:
        return (filters.category is None and filters.price_min is None and filters.price_max is None
                and filters.commission_min is None and not filters.exclude_shelf and filters.exclude_products is None)

    def picks(self, anchor: int, k: int = 20, offset: int = 0, filters: PickFilters | None = None) -> Page:
        """A page of goods for one anchor's shelf, best first, each with its score breakdown and reasons.

        Pages of the same k are consistent: the list is arranged page by page, each page under its own
        category cap and support share, so page 2 continues page 1 without repeats or gaps.
        """
        filters = filters or PickFilters()
        unfiltered = self._unfiltered(filters)
        if unfiltered:  # the common request: the gate itself, counted at load (no copy, no count)
            mask, eligible = self.gate, self._gate_count
        else:
            mask = self.filter_mask(filters, anchor)
            eligible = int(np.count_nonzero(mask))
        n = offset + k
        if self.rates is not None:
            rows, score, breakdown, boost = self._score_expected(anchor, None if unfiltered else mask, n, k, offset)
        else:
            rows, score, breakdown, boost = self._score_retrieved(anchor, mask, n, k, offset, eligible)
        items = self._items(anchor, rows, score, breakdown, boost)
        more = eligible > n and len(items) == k
        return Page(items, offset, n if more else None, eligible)

    def _arrange(self, code: np.ndarray, score: np.ndarray, n: int, page: int) -> np.ndarray:
        """Positions of the first n candidates in display order (`code`: their slot codes), filled one page at a
        time: best score first, at most
        `max_category_share` of a page from one category, at least `support_share` of a page for supported
        goods (spread through the page) while any fit under the cap. The cap is relaxed only when nothing
        else is left.

        Ranked best first (ties: earlier candidate), each slot takes the first unused candidate that is
        allowed. Within a page a candidate once used or capped stays so, so each rule keeps a cursor that only
        moves forward: a page costs about one pass over the candidates it skips, not a scan per slot.
        """
        cfg = self.config
        cap = max(1, math.ceil(cfg.max_category_share * page))
        share = cfg.support_share
        order = np.argsort(-score, kind="stable")
        code = code[order]
        sup_at = np.flatnonzero(code & 1).tolist()  # ranks of the supported candidates
        code = code.tolist()
        m, n_sup, n_slots = len(code), len(sup_at), 2 * len(self.categories) + 2
        total = min(n, m)
        used = [False] * m
        taken: list[int] = []
        support_left = n_sup
        first = first_sup = 0  # all ranks before `first`, all supported before `sup_at[first_sup]` are used
        while len(taken) < total:
            count = [0] * n_slots  # per slot code: both codes of a category hold the category's count
            while first < m and used[first]:
                first += 1
            while first_sup < n_sup and used[sup_at[first_sup]]:
                first_sup += 1
            gen, sup = first, first_sup
            in_page = n_support = 0
            while in_page < page and len(taken) < total:
                pick = -1
                # reserved slots are spread through the page (every 5th at a 20% share), so they are not all
                # left to the end of the page, where the anchor's main category may already be capped
                if support_left > 0 and math.floor((in_page + 1) * share) > n_support:
                    while sup < n_sup and (used[sup_at[sup]] or count[code[sup_at[sup]]] >= cap):
                        sup += 1
                    if sup < n_sup:
                        pick = sup_at[sup]
                # give way in this order: first the support share, then (only if nothing else is left) the cap
                if pick < 0:
                    while gen < m and (used[gen] or count[code[gen]] >= cap):
                        gen += 1
                    if gen < m:
                        pick = gen
                if pick < 0:
                    while first < m and used[first]:
                        first += 1
                    if first >= m:
                        return order[taken]
                    pick = first
                used[pick] = True
                taken.append(pick)
                c = code[pick]
                count[c] += 1
                count[c ^ 1] += 1
                in_page += 1
                if c & 1:
                    n_support += 1
                    support_left -= 1
        return order[taken]

    @staticmethod
    def slot_codes(category_code: np.ndarray, supported: np.ndarray) -> np.ndarray:
        """2 x category + supported: one look-up gives _arrange both. A category's two codes differ in the last
        bit only (c ^ 1 is the other); no category (-1) gives -2 and -1, the two spare slots at the end."""
        return np.asarray(category_code, np.int64) * 2 + np.asarray(supported, bool)

    def _items(self, anchor: int, rows: np.ndarray, score: np.ndarray, breakdown: np.ndarray, boost: np.ndarray
               ) -> list[Pick]:
        """The shown picks with their reasons, built for these k goods only; `breakdown` holds the picks'
        affinity, relative affinity, expected value and score (rounded here)."""
        shares = self._category_shares[anchor].tolist()
        memo, price, commission = self._fixed_memo, self._price, self._commission
        audience: dict[int, dict] = {}  # this anchor's audience-match reason per category, formatted once
        items = []
        for p, s, aff, r, v, s6, b in zip(rows.tolist(), score.tolist(), *np.round(breakdown, 6).tolist(),
                                          boost.tolist(), strict=True):
            col, cat, good_reasons, support = memo.get(p) or self._fixed(p)
            match = None
            if col >= 0:
                match = audience.get(col)
                if match is None:
                    match = audience[col] = reasons.audience_match(shares[col], cat)
            items.append(Pick(p, s, {"affinity": aff, "relative_affinity": r, "price": price[p],
                                     "commission_rate": commission[p], "expected_value": v, "support_boost": b,
                                     "score": s6}, match, good_reasons, support))
        return items

    def _fixed(self, p: int) -> tuple[int, str, tuple[dict, ...], tuple[str, ...]]:
        """What a pick of good `p` shows whatever the anchor: its audience column and category, the reasons
        after the audience match (sales, board, commission, exposure support) and the support labels.
        Formatting them is most of a pick's cost and the same few hundred goods fill most pages, so they are
        kept per loaded model, up to FIXED_MEMO goods (then the memo starts over)."""
        cat = self._category_of[p]
        why = []
        if self._anchors_7d[p] > 0:
            why.append(reasons.sales_proof(self._anchors_7d[p], self._gmv_7d[p]))
        if 0 < self._rank_7d[p] <= 50:
            why.append(reasons.top_board(cat, self._rank_7d[p]))
        why.append(reasons.commission(self._commission[p], self._price[p]))
        supported = []
        if self._new[p]:
            supported.append("new_goods")
            why.append(reasons.new_goods(self._age_days[p]))
        if self._small[p]:
            supported.append("small_merchant")
            why.append(reasons.small_merchant(self._merchant_gmv[p]))
        fixed = (self._audience_col[p], cat, tuple(why), tuple(supported))
        if self.fixed_memo_size:
            if len(self._fixed_memo) >= self.fixed_memo_size:
                self._fixed_memo.clear()
            self._fixed_memo[p] = fixed
        return fixed

    # -- anchors for a good (达人广场) -------------------------------------------------------------------
    def anchors_for(self, product: int, k: int = 20, offset: int = 0, tier: str | None = None,
                    min_fans: int | None = None, exclude: np.ndarray | None = None) -> Page:
        """Anchors for a good (达人广场), quality-gated, with reasons: with the shelf-rate model, the rooms where
        it would sell the most orders if shelved (the room's strength in the good's category: its own sales
        there, and for a room that never sold it, its scale and its followers' buying); otherwise the
        vectors' audience fit x reach x the room's GMV share in the category."""
        mask = self.anchor_gate.copy()
        if exclude is not None:
            mask[exclude] = False
        if tier is not None:
            mask &= self.anchor_tier == tier
        if min_fans is not None:
            mask &= self.model.audience.fans >= min_fans
        rows = np.flatnonzero(mask)
        if not len(rows):
            return Page([], offset, None, 0)
        if self.rates is not None:
            expected = self._room[rows, self._room_col[product]].astype(np.float64) * self._unit[product]
            score, breakdown = expected, {"expected_orders_30d": expected}
        else:
            fit = self.anchor_vectors[rows] @ np.asarray(self.vectors[product], np.float32)
            rel = np.clip(fit / max(float(fit.max()), 1e-9), 1e-3, None)
            fans = np.asarray(self.model.audience.fans[rows], dtype=float)
            # audience fit x reach (diminishing) x how much of the room's GMV is this category already
            score = rel * np.sqrt(fans + 1) * (1 + self._category_gmv(rows, product)[1])
            breakdown = {"fit": fit, "relative_fit": rel}
        page = top_k(score[None, :], offset + k)[0][offset:]  # ties by position, i.e. by anchor row
        return Page(self._anchor_items(product, rows[page], score[page],
                                       {name: values[page] for name, values in breakdown.items()}),
                    offset, offset + k if len(rows) > offset + k else None, len(rows))

    def _category_gmv(self, anchors: np.ndarray, product: int) -> tuple[np.ndarray, np.ndarray]:
        """Each room's 30-day GMV in the good's category, and its share of the room's GMV (0 without GMV)."""
        col = self.audience_col[self.category_code[product]]
        if col < 0:
            return np.zeros(len(anchors)), np.zeros(len(anchors))
        gmv = np.asarray(self.model.anchor_category_gmv[anchors, col], dtype=float)
        total = self.anchor_gmv_30d[anchors]
        return gmv, np.divide(gmv, total, out=np.zeros(len(anchors)), where=total > 0)

    def _anchor_items(self, product: int, anchors: np.ndarray, score: np.ndarray, breakdown: dict) -> list[dict]:
        """Reasons cite the statistics behind a match: the room's fans, its followers' buying in the good's
        category, and its own GMV there."""
        col = int(self.audience_col[self.category_code[product]])
        label = self.categories[self.category_code[product]]
        fans = np.asarray(self.model.audience.fans[anchors]).tolist()
        gmv, share = self._category_gmv(anchors, product)
        gmv, share = gmv.tolist(), share.tolist()
        audience = np.asarray(self._category_shares[anchors, col]).tolist() if col >= 0 else [None] * len(anchors)
        figures = {name: np.round(values.astype(np.float64), 6).tolist() for name, values in breakdown.items()}
        items = []
        for i, (a, s) in enumerate(zip(anchors.tolist(), score.tolist(), strict=True)):
            why = [reasons.anchor_fans(int(fans[i]))]
            if audience[i] is not None:
                why.append(reasons.audience_match(audience[i], label))
            if gmv[i] > 0:
                why.append(reasons.anchor_category_sales(label, gmv[i], share[i]))
            items.append({"anchor": a, "score": s, "reasons": why,
                          "breakdown": {**{name: values[i] for name, values in figures.items()},
                                        "fans": int(fans[i]), "category_gmv_share": round(share[i], 4)}})
        return items

    # -- similar goods and boards ------------------------------------------------------------------------
    def similar(self, product: int, k: int = 20) -> list[tuple[int, float]]:
        rows, cos = self.model.similar_products(product, min(len(self.price) - 1, k * 3 + 20))
        keep = self.gate[rows]
        return [(int(r), float(c)) for r, c in zip(rows[keep][:k], cos[keep][:k], strict=True)]

    def top_sales(self, window: int, k: int = 50, category: str | None = None) -> list[int]:
        """The TOP sales board: by units sold in the window, quality-gated; one category or all."""
        sales = self.sales[window]
        mask = self.gate & (sales > 0)
        if category is not None:
            mask &= self.in_category(category)
        rows = np.flatnonzero(mask)
        order = np.lexsort((rows, -sales[rows]))  # ties: stable by row
        return [int(r) for r in rows[order][:k]]
