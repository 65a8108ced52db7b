"""Goods by expected orders with the room x good term: the picks of a room depend on who its fans are.

    expected[a, p] = room[a, c] x unit[p] x band_factor[a, b(p)] x prod_v audience_v[a] . response_v[p]

(recommender/audience_fit.py). Two rooms of one vertical order a category's goods differently, so unlike
`ShelfRateScorer` no single pool of goods serves every room. The search stays exact:

* Rooms are grouped by audience at training time, and ``bound[p, g]`` is the largest audience term good p
  reaches in a room of group g (``AudienceRates.with_bounds``).
* For each group, gated goods are grouped in blocks of one (category, price band, supported) and sorted within
  a block by ``own[p] x bound[p, g] ** w``. In a room of group g every good of block B scores at most
  ``scale[a, B] x own[p] x bound[p, g] ** w``, so the good after a block's scored prefix bounds everything
  left in the block.
* A request scores the heads of the blocks (each block's first good and the 2n highest bounds), arranges what
  it scored, and lengthens the blocks whose next bound could still change the arrangement: a good is harmless
  when it scores below every pick (unless the candidates ran short: a slot took a capped good, or a due support
  slot found no supported one, which `arrange_checked` reports), or below its category's best unused good
  (rank p + 1 after p picks; among supported goods q + 1 after q). It stops when no block's next bound reaches
  its threshold.

So the pages equal those of arranging every eligible good (tested against that on random catalogues). Each
room's candidates for its first CACHED_PICKS picks are kept with every block's bound of what it left unscored,
and a later request is served from them when the same test proves them enough.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from recommender import reasons
from recommender.arrays import ranges
from recommender.audience_fit import BANDS, AudienceRates
from recommender.errors import ArtifactError
from recommender.ranking.arrange import arrange_checked
from recommender.ranking.catalog import Goods
from recommender.ranking.config import RankingConfig
from recommender.ranking.explore import Exploration
from recommender.ranking.scorers import Eligible, Scored, _Value
from recommender.shelf_rate import DAYS_PER_PERIOD

FIT_LIFT = 1.25  # a fan cell, or a price band, is a reason when it buys the good this much above average
FIT_SHARE = 0.10  # ... and the cell is at least this share of the room's audience
REASON_MEMO = 100_000  # formatted fit reasons kept (shared read-only by every pick that shows the same figures)
CACHED_PICKS = 60  # picks (three pages of 20) whose candidates are kept per room
# rooms whose candidates are kept: a few hundred goods each (about 7 KB a room), the arrangements proved from them
# (about 3 KB for pages 1-3) and the fit reasons of the goods shown (about 7 KB for 60): 70 MB a worker at most
# (medium, measured)
CACHED_ROOMS = 4096
# picks of a kept room's unfiltered pages whose breakdown is kept (4 floats each, 5 with exploration's factor: 5 KB
# a room, 20 MB a worker at most)
EXPLAINED_PICKS = 120


class _Blocks(NamedTuple):
    """Gated goods by block, then by `reach` (the most a good can score in a room of block scale 1) descending."""

    rows: np.ndarray
    key: np.ndarray  # block of each row
    reach: np.ndarray  # of each row
    starts: np.ndarray  # (blocks + 1,)


class _Found(NamedTuple):
    """A search's candidates (scored goods), their arrangement, and per block the most any good it left unscored
    can score."""

    rows: np.ndarray
    score: np.ndarray
    order: np.ndarray
    unscored: np.ndarray
    #: (n, k) -> the arrangement of these candidates for an unfiltered request of n picks in pages of k, once
    #: proved enough (kept candidates only: a room's repeated first pages skip the proof)
    proved: dict[tuple[int, int], np.ndarray]
    #: good -> its fit reasons in this room, for the goods shown from these candidates (a room's pages come back)
    fit: dict[int, tuple[dict, ...]]
    #: the shown positions (bytes) of an unfiltered page served from these candidates -> its breakdown (read-only)
    explained: dict[bytes, np.ndarray]


class AudienceFitScorer:
    """Exact per-room ranking by expected orders with the room x good term (see the module docstring)."""

    orders = True

    def __init__(self, personal: AudienceRates, goods: Goods, gate: np.ndarray, cfg: RankingConfig,
                 explore: Exploration | None = None, sold: np.ndarray | None = None,
                 quotable: np.ndarray | None = None, sold_in: np.ndarray | None = None) -> None:
        self.config, self.explore = cfg, explore
        #: (anchors,) the room has sold something (its price-band factor is not its fans' alone); None: all have
        self.sold = np.ones(len(personal.base.room), bool) if sold is None else np.asarray(sold, bool)
        #: (anchors,) the room's audience is large enough to quote shares of (Rooms.quotable: a room of 6 fans
        #: and 3 buyers was told "43% 来自湖北", two people); None: every room's is
        self.quotable = np.ones(len(self.sold), bool) if quotable is None else np.asarray(quotable, bool)
        #: (anchors, categories) the room sold the category lately: its price-band lean is told only of goods of
        #: such categories (it is one lean over all the room's bands, and a 珠宝 room's told of 家电 read as a
        #: claim about 家电 sales it never had); None: every category
        self.sold_in = None if sold_in is None else np.asarray(sold_in, bool)
        if personal.bound is None:
            personal = personal.with_bounds(1)
        # the views as plain arrays over the same memory: a numpy.memmap pays a Python-level __getitem__ and
        # __array_finalize__ on every index (a fifth of a page's scoring, measured), an ndarray view does not
        personal = dataclasses.replace(personal, views=[
            dataclasses.replace(v, audience=np.asarray(v.audience), response=np.asarray(v.response),
                                by_category=None if v.by_category is None else np.asarray(v.by_category))
            for v in personal.views])
        self.personal = personal
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
        self.group = np.asarray(personal.group, np.int64)
        self._bound = np.asarray(personal.bound)
        w = cfg.affinity_weight
        self._price_commission = value.worth  # (yuan per order)^p x commission^c x 品控 factor
        # ranked by a quantile of quality where asked (caution), shown by its mean
        self._caution = (np.ones(len(self.unit)) if cfg.caution is None
                         else base.quality_quantile(cfg.caution))
        self.own = (self.unit * self._caution) ** w * self._price_commission * self.boost
        self.n_categories = len(base.categories)
        self.n_blocks = 2 * BANDS * self.n_categories
        if self.n_blocks > np.iinfo(np.int16).max:
            raise ArtifactError(f"{self.n_categories} categories: too many for the audience scorer's blocks")
        self._key = (self.category * BANDS + self.band) * 2 + goods.supported
        self._block_category = np.arange(self.n_blocks) // (2 * BANDS)
        self._block_band = (np.arange(self.n_blocks) // 2) % BANDS
        self._block_supported = (np.arange(self.n_blocks) % 2).astype(bool)
        self._gated = np.flatnonzero(gate)
        self._blocks: dict[tuple[int, str], _Blocks] = {}
        self._top = np.full(len(self.room), np.nan)
        self._cache: dict[int, _Found] = {}
        self._reason_memo: dict[tuple, dict] = {}

    def _sorted(self, group: int, by: str) -> _Blocks:
        """The gated goods in blocks for rooms of `group`, by their reach in score (`value`) or in expected
        orders (`orders`); built once per group on first use and kept (large model, 16 groups: up to 32 of
        them, ~40 MB a worker)."""
        blocks = self._blocks.get((group, by))
        if blocks is None:
            bound = np.asarray(self._bound[:, group], np.float64)
            w = self.config.affinity_weight
            reach = self.own * bound ** w if by == "value" else self.unit * bound
            rows = self._gated
            # int32 rows and int16 blocks: a worker keeps two of these per audience group (1.3 MB each per 100k
            # gated goods instead of 2.4 MB)
            rows = rows[np.lexsort((rows, -reach[rows], self._key[rows]))].astype(np.int32)
            key = self._key[rows].astype(np.int16)
            blocks = _Blocks(rows, key, reach[rows], np.searchsorted(key, np.arange(self.n_blocks + 1)))
            self._blocks[(group, by)] = blocks
        return blocks

    def _block_scale(self, anchor: int) -> np.ndarray:
        """(blocks,) the room's strength in each block's category x its factor for the block's price band."""
        return self.room[anchor, self._block_category] * self.band_factor[anchor, self._block_band]

    def audience_term(self, anchor: int | np.ndarray, rows: np.ndarray) -> np.ndarray:
        """prod_v audience_v[a] . response_v[p] for goods `rows` (1 for a view the room has no known fans in), as
        the model computes it (and bounds it): one room and many goods, or (room, good) pairs."""
        if np.ndim(anchor) == 0:
            return np.asarray(self.personal.term(int(anchor), rows), np.float64)
        return self.personal.term_pairs(np.asarray(anchor), rows)

    def expected(self, anchor: int, rows: np.ndarray) -> np.ndarray:
        """Expected orders per 30 days of goods `rows` in room `anchor` if shelved."""
        return (self.room[anchor, self.category[rows]] * self.unit[rows]
                * self.band_factor[anchor, self.band[rows]] * self.audience_term(anchor, rows))

    def top(self, anchor: int) -> float:
        """The room's best gated good's expected orders (searched once per room, exactly): relative affinities
        and scores are then the same in every filtered list of the room."""
        t = self._top[anchor]
        if np.isnan(t):
            blocks = self._sorted(int(self.group[anchor]), "orders")
            scale = self._block_scale(anchor)

            def best(rows: np.ndarray, orders: np.ndarray, reaches: np.ndarray) -> tuple[np.ndarray, None]:
                return np.full(self.n_blocks, orders.max(initial=-np.inf)), None

            _, orders, _, _ = self._search(blocks, scale, 1, lambda rows: self.expected(anchor, rows), best)
            t = self._top[anchor] = max(float(orders.max(initial=0.0)), 1e-12)
        return float(t)

    def _search(self, blocks: _Blocks, scale: np.ndarray, first: int, score_of: Callable[[np.ndarray], np.ndarray],
                needs: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, Any]]
                ) -> tuple[np.ndarray, np.ndarray, Any, np.ndarray]:
        """Score block prefixes (the `first` goods of highest bound, then more) until no block's next good can
        matter: its bound (scale[B] x its reach) is below the block's threshold, which `needs(rows, scores,
        next bounds)` sets from the goods scored so far. Returns the scored rows (block order), their scores,
        what `needs` said last and each block's bound of the goods it left unscored (-inf: none left)."""
        rows, starts, reach = blocks.rows, blocks.starts, blocks.reach
        lo, size = starts[:-1], np.diff(starts)
        # start with each block's first good and the `first` highest bounds among each block's first `first`
        # (bounds cost a multiplication, scores a look at the audience): every category then has candidates,
        # so the first arrangement need not relax the cap for want of them
        head = ranges(lo, lo + np.minimum(size, first))
        head_block = np.repeat(np.arange(self.n_blocks), np.minimum(size, first))
        bound = scale[head_block] * reach[head]
        length = np.minimum(size, 1)
        if len(bound) > first:
            bound_at = -np.partition(-bound, first - 1)[first - 1]
            length = np.maximum(length, np.bincount(head_block[bound >= bound_at], minlength=self.n_blocks))
        done = np.zeros(self.n_blocks, np.int64)
        score = np.empty(len(rows))
        while True:
            new = ranges(lo + done, lo + length)
            score[new] = score_of(rows[new])
            done = length.copy()
            at = ranges(lo, lo + length)
            cand, cand_score = rows[at], score[at]
            left = length < size
            nxt = np.full(self.n_blocks, -np.inf)
            nxt[left] = scale[left] * reach[lo[left] + length[left]]
            need, said = needs(cand, cand_score, nxt)
            grow = left & (nxt >= need)
            if not grow.any():
                return cand, cand_score, said, nxt
            # a block grows to every good whose bound reaches its threshold (it may rise as more is scored), or
            # doubles where the threshold is not known yet
            target = np.minimum(size, np.maximum(2 * length, 1))
            for b in np.flatnonzero(grow & np.isfinite(need) & (scale > 0)).tolist():
                segment = -reach[lo[b]:lo[b] + size[b]]  # ascending
                reached = int(np.searchsorted(segment, -need[b] / scale[b], side="right"))
                target[b] = max(length[b] + 1, reached)
            length[grow] = np.minimum(size[grow], np.maximum(target[grow], length[grow] + 1))

    def _search_goods(self, anchor: int, mask: np.ndarray | None, n: int, k: int,
                      outside: np.ndarray | None = None) -> _Found:
        """The block search for a room's first n picks in pages of k among the gated goods passing `mask`."""
        blocks = self._sorted(int(self.group[anchor]), "value")
        if mask is not None:
            keep = mask[blocks.rows]
            key = blocks.key[keep]
            blocks = _Blocks(blocks.rows[keep], key, blocks.reach[keep],
                             np.searchsorted(key, np.arange(self.n_blocks + 1)))
        top, w = self.top(anchor), self.config.affinity_weight
        block_scale = (self._block_scale(anchor) / top) ** w
        if self.explore is not None:  # a good's score reaches its bound times the largest factor
            block_scale = block_scale * self.explore.max_factor

        def needs(rows: np.ndarray, score: np.ndarray, reaches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return self._needs(rows, score, reaches, n, k, outside)

        return _Found(*self._search(blocks, block_scale, 2 * n, self._score_of(anchor), needs), proved={}, fit={},
                      explained={})

    def _needs(self, rows: np.ndarray, score: np.ndarray, reaches: np.ndarray, n: int, k: int,
               outside: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Arrange the scored goods, then the threshold each block's unscored goods must stay below for the
        arrangement over every good to be the same: a good below every pick is never chosen instead of one
        (unless the candidates ran short: a capped good or a missing supported one filled a slot), and a good
        below its category's best unused one (rank p + 1 after p picks; supported: q + 1 among its supported
        after q) is never chosen either. Either suffices; a block stops below the larger. `reaches`: the
        bound of each block's next good (-inf where none is left), to skip the second test where the first
        settles every block."""
        cfg, code = self.config, self._code[rows]
        arranged = arrange_checked(code, score, n, k, max_category_share=cfg.max_category_share,
                                   support_share=cfg.support_share, outside=outside,
                                   max_outside_share=cfg.max_outside_share, tie=rows)
        order, bc = arranged.order, self._block_category
        below_all = np.full(self.n_blocks, -np.inf)
        if len(order) == n and not arranged.relaxed:
            below_all[:] = float(score[order].min())
            if arranged.short_support:
                below_all[self._block_supported] = -np.inf
            if not (reaches >= below_all).any():
                return below_all, order
        category, supported = code >> 1, (code & 1).astype(bool)
        picked = code[order]
        used = np.bincount(picked >> 1, minlength=self.n_categories)
        used_sup = np.bincount(picked[(picked & 1) == 1] >> 1, minlength=self.n_categories)
        need = _kth_best_per_category(score, category, used + 1, self.n_categories)[bc]
        need_sup = _kth_best_per_category(score[supported], category[supported], used_sup + 1,
                                          self.n_categories)[bc]
        need = np.where(self._block_supported, np.minimum(need, need_sup), need)
        return np.maximum(need, below_all), order

    def _score_of(self, anchor: int) -> Callable[[np.ndarray], np.ndarray]:
        top, w = self.top(anchor), self.config.affinity_weight

        def score_of(rows: np.ndarray) -> np.ndarray:
            rel = self.expected(anchor, rows) * self._caution[rows] / top
            score = (rel if w == 1 else rel ** w) * self._price_commission[rows] * self.boost[rows]
            return score if self.explore is None else score * self.explore.factors(anchor, rows)

        return score_of

    def _cached(self, anchor: int, outside: np.ndarray | None) -> _Found:
        """The room's candidates for its first CACHED_PICKS picks (no filters, in blocks of `page_block` as every
        page is arranged), searched once and kept for CACHED_ROOMS rooms, with the bound of every good left
        unscored."""
        found = self._cache.get(anchor)
        if found is None:  # a room's outside is fixed
            found = self._search_goods(anchor, None, CACHED_PICKS, self.config.page_block, outside)
            if len(self._cache) >= CACHED_ROOMS:
                with contextlib.suppress(StopIteration, RuntimeError):  # emptied or changed by another thread
                    self._cache.pop(next(iter(self._cache)), None)  # the oldest room
            self._cache[anchor] = found
        return found

    def goods_for(self, anchor: int, eligible: Eligible, n: int, k: int, outside: np.ndarray | None = None
                  ) -> Scored:
        """From the room's kept candidates when their arrangement is provably the arrangement over every eligible
        good (the test that ends a search, with the bounds of what the kept search left unscored), else by a
        search of its own."""
        cached = self._cached(anchor, outside)
        rows, score = cached.rows, cached.score
        order = None if eligible.filtered else cached.proved.get((n, k))
        if order is None:
            if eligible.filtered:
                keep = eligible.mask[rows]
                rows, score = rows[keep], score[keep]
            need, order = self._needs(rows, score, cached.unscored, n, k, outside)
            if ((cached.unscored > -np.inf) & (cached.unscored >= need)).any():  # not proved by the kept: search
                found = self._search_goods(anchor, eligible.mask if eligible.filtered else None, n, k, outside)
                rows, score, order = found.rows, found.score, found.order
            elif not eligible.filtered:  # the same request again is this arrangement (a pure function of them)
                cached.proved[(n, k)] = order
        top, w = self.top(anchor), self.config.affinity_weight
        # an unfiltered page of the kept candidates comes back: its breakdown is kept with them (recomputing the
        # shown goods' expected orders was a fifth of a repeated page; the same goods give the same bits)
        kept = cached.explained if rows is cached.rows else None

        def explain(shown: np.ndarray) -> np.ndarray:
            key = np.asarray(shown, np.int64).tobytes() if kept is not None else b""
            known = kept.get(key) if kept is not None else None
            if known is not None:
                return known
            picked = rows[shown]
            affinity = self.expected(anchor, picked)
            rel = affinity * self._caution[picked] / top  # as ranked: the quality at the caution quantile
            value = (rel if w == 1 else rel ** w) * self._price_commission[picked]
            figures = [affinity, rel, value, score[shown]]
            if self.explore is not None:  # kept with the page: a repeated page costs no hashing
                figures.append(self.explore.factors(anchor, picked))
            out = np.stack(figures)
            if kept is not None and sum(page.shape[1] for page in kept.values()) + len(shown) <= EXPLAINED_PICKS:
                out.flags.writeable = False
                kept[key] = out
            return out

        return Scored(rows, score, self._code[rows], explain, order)

    def fit_reasons(self, anchor: int, rows: np.ndarray) -> list[tuple[dict, ...]]:
        """Per good, why it fits this room beyond its category: the audience cell that lifts it most (a share of
        at least FIT_SHARE of the fans buying it at least FIT_LIFT times the average; the fans as the term weighs
        them for the good, those who buy its category where a view is per category) and a price band the room
        sells at least FIT_LIFT times as well as its others (for a room that has sold nothing: is expected to,
        from its fans' price levels). Kept per (room, good) for the rooms whose candidates
        are kept."""
        kept = self._cache.get(anchor)
        if kept is None:
            return self._fit_reasons(anchor, np.asarray(rows, np.int64))
        known = kept.fit
        out = [known.get(r) for r in np.asarray(rows).tolist()]
        missing = [j for j, why in enumerate(out) if why is None]
        if missing:
            new = np.asarray(rows, np.int64)[missing]
            for j, p, why in zip(missing, new.tolist(), self._fit_reasons(anchor, new), strict=True):
                out[j] = known[p] = why
        return out

    def _fit_reasons(self, anchor: int, rows: np.ndarray) -> list[tuple[dict, ...]]:
        """fit_reasons computed: vectorised over the goods, each figure formatted once and shared."""
        m = len(rows)
        best_gain, best_view, best_cell = np.zeros(m), np.full(m, -1), np.zeros(m, np.int64)
        share, lift = np.zeros(m), np.zeros(m)
        views = self.personal.views
        for i, view in enumerate(views):
            q = view.audience[anchor]
            if not view.labels or q.sum() <= 0 or not self.quotable[anchor]:
                continue
            if view.by_category is not None:  # the audience the term scores each good with: its category's
                q = view.by_category[anchor][self.category[rows]]
            # only cells this large can be a reason (a few of the view's)
            cells = np.flatnonzero((q >= FIT_SHARE) if q.ndim == 1 else (q >= FIT_SHARE).any(axis=0))
            if not len(cells):
                continue
            r, qc = view.response[rows[:, None], cells], q[..., cells]
            gain = np.where((r >= FIT_LIFT) & (qc >= FIT_SHARE), qc * (r - 1), 0.0)
            cell = gain.argmax(axis=1)  # the first largest, as over every cell (the others' gain is 0)
            top = gain[np.arange(m), cell]
            better = np.flatnonzero(top > best_gain)
            if len(better):
                won = cell[better]
                best_gain[better], best_view[better], best_cell[better] = top[better], i, cells[won]
                share[better] = qc[won] if qc.ndim == 1 else qc[better, won]
                lift[better] = r[better, won]
        band = self.band_factor[anchor, self.band[rows]]
        # a room that has sold nothing has its band lean from where its fans buy elsewhere, which pointed the
        # wrong way for 3 in 10 new rooms (probe): a figure that unsure is not a reason
        lifted = (band >= FIT_LIFT) & bool(self.sold[anchor])
        if self.sold_in is not None:
            lifted &= self.sold_in[anchor, self.category[rows]]
        out: list[tuple[dict, ...]] = [()] * m
        some = np.flatnonzero((best_view >= 0) | lifted)
        if not len(some):
            return out
        memo = self._reason_memo
        if len(memo) > REASON_MEMO:
            memo.clear()
        per_category = [v.by_category is not None for v in views]
        names = self.personal.base.categories
        sold = bool(self.sold[anchor])
        for j, c, v, t, b, pb, up, q, r in zip(some.tolist(), self.category[rows[some]].tolist(),
                                               best_view[some].tolist(), best_cell[some].tolist(),
                                               np.round(band[some], 2).tolist(), self.band[rows[some]].tolist(),
                                               lifted[some].tolist(), np.round(share[some], 2).tolist(),
                                               np.round(lift[some], 2).tolist(), strict=True):
            why = ()
            if v >= 0:  # formatted once per figure as shown (a share in %, a lift to 0.1), then shared
                c = c if per_category[v] else -1
                key = (v, t, q, r, c, sold)
                reason = memo.get(key)
                if reason is None:
                    view = views[v]
                    reason = memo[key] = reasons.audience_fit(q, view.labels[t], r, region=view.name == "region",
                                                              category=names[c] if c >= 0 else None, sold=sold,
                                                              level=view.name == "price_level")
                why = (reason,)
            if up:
                key = ("band", b, pb)
                reason = memo.get(key)
                if reason is None:
                    reason = memo[key] = reasons.price_band_fit(b, pb)
                why = (*why, reason)
            out[j] = why
        return out

    def rooms_for(self, product: int, anchors: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The rooms where the good would sell the most orders if shelved, its fit to their audiences included."""
        anchors = np.asarray(anchors, np.int64)
        rows = np.full(len(anchors), product)
        expected = (self.room[anchors, self.category[product]] * self.unit[product]
                    * self.band_factor[anchors, self.band[product]] * self.audience_term(anchors, rows))
        return expected, {"expected_orders_30d": expected}


def _kth_best_per_category(score: np.ndarray, category: np.ndarray, k: np.ndarray, n_categories: int
                            ) -> np.ndarray:
    """(categories,) the k[c]-th best score of each category c (-inf where it has fewer): exact, two sorts."""
    out = np.full(n_categories, -np.inf)
    order = np.argsort(-score)
    by_category = order[np.argsort(category[order], kind="stable")]  # each category's scores, best first
    count = np.bincount(category, minlength=n_categories)
    first = np.cumsum(count) - count
    has = count >= k
    out[has] = score[by_category[first[has] + k[has] - 1]]
    return out
