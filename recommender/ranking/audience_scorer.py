"""Goods by expected orders with the room x good term: the picks of a room depend on who its fans are.

    expected[a, p] = room[a, c] x unit[p] x band_factor[a, b(p)] x prod_v audience_v[a] . response_v[p]

(recommender/audience_fit.py). Two rooms of one vertical order a category's goods differently, so unlike
`ShelfRateScorer` no single pool of goods serves every room. The search stays exact:

* Gated goods are grouped in blocks of one (category, price band, supported) and sorted within a block by
  ``own[p] x bound[p] ** w``, where ``bound[p] = prod_v max(1, max_t response_v[p, t])`` is at least the good's
  audience term in any room (an audience is a mix of cells, a room without known fans gets 1).
* In room a every good of block B scores at most ``scale[a, B] x own[p] x bound[p] ** w``, so the good after a
  block's scored prefix bounds everything left in the block.
* A request scores a prefix of every block and lengthens the blocks whose next bound could still beat its
  category's n-th best score (or, for supported blocks, the n-th best supported score) until none can.

The result holds each category's n best goods and n best supported goods, which is all the arrangement can reach
(see `ShelfRateScorer.pool`), so the pages equal those of arranging every eligible good.
"""

from __future__ import annotations

import numpy as np

from recommender.arrays import ranges
from recommender.audience_fit import BANDS, AudienceRates
from recommender.errors import ArtifactError
from recommender.ranking.catalog import Goods
from recommender.ranking.config import RankingConfig
from recommender.ranking.scorers import Eligible, Scored, _Value
from recommender.shelf_rate import DAYS_PER_PERIOD


class AudienceFitScorer:
    """Exact per-room ranking by expected orders with the room x good term (see the module docstring)."""

    def __init__(self, personal: AudienceRates, goods: Goods, gate: np.ndarray, cfg: RankingConfig) -> None:
        self.config, self.personal = cfg, personal
        base = personal.base
        value = _Value(goods, cfg)
        self.boost, self._code = value.boost, value.code
        self.category = np.asarray(base.category, np.int64)
        if not np.array_equal(self.category, goods.category):
            wrong = int(np.count_nonzero(self.category != goods.category))
            raise ArtifactError(f"shelf_rate/category.npy disagrees with the catalogue's categories for {wrong} "
                                "goods")
        self.band = np.asarray(personal.band, np.int64)
        if len(self.band) != len(self.category) or (len(self.band) and not 0 <= self.band.min() <= self.band.max()
                                                    < BANDS):
            raise ArtifactError(f"audience/band.npy must hold a band 0-{BANDS - 1} for each of "
                                f"{len(self.category)} goods")
        self.room = np.asarray(base.room, np.float64)
        self.band_factor = np.asarray(personal.band_factor, np.float64)
        self.unit = np.asarray(base.quality, np.float64) * DAYS_PER_PERIOD
        self.views = [(np.asarray(v.audience, np.float32), np.asarray(v.response, np.float32))
                      for v in personal.views]
        w = cfg.affinity_weight
        self._price_commission = value.price * value.commission
        self.own = self.unit ** w * self._price_commission * self.boost
        bound = np.ones(len(self.unit))
        for _, response in self.views:
            bound *= np.maximum(response.max(axis=1, initial=1.0), 1.0)
        key = (self.category * BANDS + self.band) * 2 + goods.supported
        self.n_categories = len(base.categories)
        self.n_blocks = 2 * BANDS * self.n_categories
        rows = np.flatnonzero(gate)
        self._rows = rows[np.lexsort((rows, -(self.own[rows] * bound[rows] ** w), key[rows]))]
        self._key = key
        self._reach = self.own * bound ** w  # the most a good can score in a room of scale 1
        self._starts = np.searchsorted(key[self._rows], np.arange(self.n_blocks + 1))
        self._block_category = np.arange(self.n_blocks) // (2 * BANDS)
        self._block_band = (np.arange(self.n_blocks) // 2) % BANDS
        self._block_supported = (np.arange(self.n_blocks) % 2).astype(bool)
        self._gated = rows
        self._top = np.full(len(self.room), np.nan)

    def audience_term(self, anchor: int | np.ndarray, rows: np.ndarray) -> np.ndarray:
        """prod_v audience_v[a] . response_v[p] for goods `rows` (1 for a view the room has no known fans in);
        one room and many goods, or many rooms (an array) and one good each."""
        out = np.ones(len(rows))
        for audience, response in self.views:
            q = audience[anchor]
            if q.ndim == 1:
                if q.sum() > 0:
                    out *= response[rows] @ q
            else:
                term = np.einsum("ij,ij->i", q, response[rows])
                out *= np.where(q.sum(axis=1) > 0, term, 1.0)
        return out

    def expected(self, anchor: int, rows: np.ndarray) -> np.ndarray:
        """Expected orders per 30 days of goods `rows` in room `anchor` if shelved."""
        return (self.room[anchor, self.category[rows]] * self.unit[rows]
                * self.band_factor[anchor, self.band[rows]] * self.audience_term(anchor, rows))

    def top(self, anchor: int) -> float:
        """The room's best gated good's expected orders (computed once per room): relative affinities and
        scores are then the same in every filtered list of the room."""
        t = self._top[anchor]
        if np.isnan(t):
            t = self._top[anchor] = max(float(self.expected(anchor, self._gated).max(initial=0.0)), 1e-12)
        return float(t)

    def goods_for(self, anchor: int, eligible: Eligible, n: int, k: int) -> Scored:
        rows = self._rows if not eligible.filtered else self._rows[eligible.mask[self._rows]]
        starts = self._starts if not eligible.filtered else np.searchsorted(self._key[rows],
                                                                             np.arange(self.n_blocks + 1))
        top, w = self.top(anchor), self.config.affinity_weight
        # a block's scale in this room: the most a good of `reach` 1 can score there
        block_scale = (self.room[anchor, self._block_category] * self.band_factor[anchor, self._block_band]
                       / top) ** w
        size = np.diff(starts)
        length = np.minimum(size, n)
        while True:
            at = ranges(starts[:-1], starts[:-1] + length)
            cand = rows[at]
            affinity = self.expected(anchor, cand)
            rel = affinity / top
            value = (rel if w == 1 else rel ** w) * self._price_commission[cand]
            score = value * self.boost[cand]
            cat = self.category[cand]
            sup = self._code[cand] & 1 == 1
            best_any = _nth_best(cat, score, n, self.n_categories)
            best_sup = _nth_best(cat[sup], score[sup], n, self.n_categories)
            left = length < size
            nxt = np.zeros(self.n_blocks)
            nxt[left] = block_scale[left] * self._reach[rows[starts[:-1][left] + length[left]]]
            bc = self._block_category
            need = np.where(self._block_supported, np.minimum(best_any[bc], best_sup[bc]), best_any[bc])
            grow = left & (nxt >= need)
            if not grow.any():
                break
            length[grow] = np.minimum(size[grow], 2 * length[grow])

        def explain(shown: np.ndarray) -> np.ndarray:
            return np.stack([affinity[shown], rel[shown], value[shown], score[shown]])

        return Scored(cand, score, self._code[cand], explain)

    def rooms_for(self, product: int, anchors: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The rooms where the good would sell the most orders if shelved, its fit to their audiences included."""
        anchors = np.asarray(anchors, np.int64)
        rows = np.full(len(anchors), product)
        expected = (self.room[anchors, self.category[product]] * self.unit[product]
                    * self.band_factor[anchors, self.band[product]] * self.audience_term(anchors, rows))
        return expected, {"expected_orders_30d": expected}


def _nth_best(category: np.ndarray, score: np.ndarray, n: int, n_categories: int) -> np.ndarray:
    """(categories,) the n-th best score of each category (-inf where it has fewer than n)."""
    out = np.full(n_categories, -np.inf)
    if not len(score) or n < 1:
        return out
    order = np.lexsort((-score, category))
    cat = category[order]
    first = np.searchsorted(cat, np.arange(n_categories))
    last = np.searchsorted(cat, np.arange(n_categories), side="right")
    has = last - first >= n
    out[has] = score[order[first[has] + n - 1]]
    return out
