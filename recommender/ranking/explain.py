"""Reasons and score breakdowns: the statistics behind a pick or a proposed anchor, formatted for a person.

Formatting is most of a pick's cost, so what a pick shows whatever the anchor (the good's sales proof, board
rank, commission, support) is formatted once per good and model and shared read-only by every page; only the
audience match depends on the anchor. Catalogue columns are read as Python lists: list indexing is ~30x
cheaper than numpy scalar access, and a page formats up to a hundred reasons.
"""

from __future__ import annotations

import numpy as np

from recommender import reasons
from recommender.evidence import low_stock
from recommender.ranking.catalog import Goods, Rooms
from recommender.ranking.results import Pick

FIXED_MEMO = 20_000  # goods whose anchor-independent reasons are kept formatted (about 1 KB each)
BOARD_REASON_RANKS = 50  # a board rank is a reason down to this place
#: a good without sales in 7 days is said to draw clicks when it has this many times its category's average
CLICKS_REASON_RATIO = 2.0
CLICKS_REASON_MIN = 10  # ... and at least this many clicks in 30 days
QC_REASON_AT = 0.8  # a pick's reason names its 品控 factor at or below this (a fifth or more of its score taken)


class Explainer:
    """Builds picks and proposed anchors with their reasons over one loaded model."""

    def __init__(self, goods: Goods, rooms: Rooms, board_rank_7d: np.ndarray, memo_size: int = FIXED_MEMO,
                 interval: tuple[np.ndarray, np.ndarray] | None = None, sold_7d: np.ndarray | None = None,
                 qc: np.ndarray | None = None) -> None:
        """`interval`: per good, the 5% and 95% quantiles of its quality over its mean (the model's certainty of
        the good's own pull), which bound the expected commission a pick shows. `sold_7d`: sorted keys
        anchor x goods + good of the rooms that sold a good in the last 7 days, so a room among a good's
        sellers is told of the others, not counted as one of them. `qc`: per good, the 品控 factor its score
        carries (ranking/qc.py; None: 1)."""
        self.rooms = rooms
        self._n_goods = len(goods.price)
        self._outside_memo: dict[tuple[int, float], dict] = {}  # formatted once per (category, peers' share)
        self._sold_7d = sold_7d
        self._interval = interval
        # per good, what a pick's expected commission multiplies: yuan per order, commission rate, then 1 and the 5%
        # and 95% factors of its range (one gather a page; each figure (orders x yuan) x rate, then x factor)
        factors = [np.ones(self._n_goods)] + ([] if interval is None else [interval[0], interval[1]])
        self._money = np.stack([np.asarray(goods.order_value, np.float64),
                                np.asarray(goods.commission, np.float64), *factors], axis=1)
        self.memo_size = memo_size
        self._memo: dict[int, tuple] = {}
        self._match_memo: dict[tuple[int, int], dict | bool] = {}  # a room's audience match per category (False: none)
        self._own_memo: dict[int, dict] = {}  # a good's sales proof as told to one of its sellers
        self._categories = goods.categories
        self._category_of = [goods.categories[c] for c in goods.category.tolist()]
        self._anchors_7d, self._gmv_7d = goods.anchors_7d.tolist(), goods.gmv_7d.astype(float).tolist()
        self._rank_7d = np.asarray(board_rank_7d).tolist()
        self._price, self._commission = goods.price.tolist(), goods.commission.tolist()
        # yuan per order to the fen: what the breakdown shows and the commission reason's 每单约赚 is computed from
        self._order_value = np.round(goods.order_value, 2).tolist()
        self._new, self._small, self._new_shop = goods.new.tolist(), goods.small.tolist(), goods.new_shop.tolist()
        self._stock, self._units_7d = goods.stock.tolist(), np.asarray(goods.sales[7], np.int64).tolist()
        self._shop_age = goods.shop_age_days.tolist()
        self._qc = (np.ones(self._n_goods) if qc is None else np.asarray(qc, np.float64)).round(4).tolist()
        self._goods = goods  # its refund, rating and violations, read only for a pick the 品控 factor cuts
        self._age_days, self._merchant_gmv = goods.age_days.tolist(), goods.merchant_gmv.tolist()
        self._audience_col = [int(rooms.audience_column[c]) for c in goods.category.tolist()]
        self._category_code = goods.category
        self._clicks = self._click_ratio = self._click_days = None
        if goods.clicks_30d is not None:  # clicks a day on sale in the last 30, against the category's average
            clicks, code = np.asarray(goods.clicks_30d, np.float64), np.asarray(goods.category)
            days = np.clip(np.ceil(np.nan_to_num(np.asarray(goods.age_days, np.float64), nan=30.0, posinf=30.0)), 1, 30)
            rate, known = clicks / days, code >= 0
            sums = np.bincount(code[known], rate[known], len(goods.categories))
            counts = np.maximum(np.bincount(code[known], minlength=len(goods.categories)), 1)
            mean = np.where(known, (sums / counts)[np.maximum(code, 0)], np.inf)
            self._clicks = goods.clicks_30d.astype(np.int64).tolist()
            self._click_days = days.astype(np.int64).tolist()
            self._click_ratio = np.divide(rate, mean, out=np.zeros_like(rate), where=mean > 0).tolist()

    @property
    def interval(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Per good, the low and high factors of the range its expected commission is shown with (None: none)."""
        return self._interval

    def category_of(self, product: int) -> int:
        """A good's category code (-1: none)."""
        return int(self._category_code[product])

    def forget(self) -> None:
        """Drop the formatted reasons (they are rebuilt on demand)."""
        self._memo, self._match_memo, self._own_memo = {}, {}, {}

    def good(self, p: int) -> tuple[int, str, tuple[dict, ...], tuple[str, ...]]:
        """What a pick of good `p` shows whatever the anchor: its audience column and category, the reasons
        after the audience match (sales, board, commission, exposure support) and the support labels. Kept
        per loaded model, up to `memo_size` goods (then the memo starts over)."""
        fixed = self._memo.get(p)
        if fixed is not None:
            return fixed
        cat = self._category_of[p]
        why = []
        if self._anchors_7d[p] > 0:
            why.append(reasons.sales_proof(self._anchors_7d[p], self._gmv_7d[p]))
        elif self._clicks is not None and self._clicks[p] >= CLICKS_REASON_MIN \
                and self._click_ratio[p] >= CLICKS_REASON_RATIO:
            why.append(reasons.fans_clicks(self._clicks[p], self._click_days[p], self._click_ratio[p]))
        if 0 < self._rank_7d[p] <= BOARD_REASON_RANKS:
            why.append(reasons.top_board(cat, self._rank_7d[p]))
        if self._commission[p] > 0:  # a catalogue without commissions (Online Retail) has no 佣金 0% to argue
            why.append(reasons.commission(self._commission[p], self._order_value[p]))
        supported = []
        if self._new[p]:
            supported.append("new_goods")
            why.append(reasons.new_goods(self._age_days[p]))
        if self._small[p]:
            supported.append("small_merchant")
            why.append(reasons.small_merchant(self._merchant_gmv[p]))
        if self._new_shop[p]:
            supported.append("new_shop")
            why.append(reasons.new_shop(self._shop_age[p]))
        if low_stock(self._stock[p], self._units_7d[p]):  # the product page's 库存预警 rule (unknown stock: inf)
            why.append(reasons.low_stock(int(self._stock[p]), self._units_7d[p]))
        if self._qc[p] <= QC_REASON_AT:
            g = self._goods
            why.append(reasons.quality_control(self._qc[p], float(g.refund[p]), float(g.shop_rating[p]),
                                               float(g.violations[p])))
        fixed = (self._audience_col[p], cat, tuple(why), tuple(supported))
        if self.memo_size:
            if len(self._memo) >= self.memo_size:
                self._memo.clear()
            self._memo[p] = fixed
        return fixed

    def picks(self, anchor: int, rows: np.ndarray, score: np.ndarray, breakdown: np.ndarray, boost: np.ndarray,
              fit: list[tuple[dict, ...]] | None = None, orders: bool = False, on_shelf: np.ndarray | None = None,
              outside: np.ndarray | None = None) -> list[Pick]:
        """The shown picks with their reasons, built for these goods only; `breakdown` holds the picks' affinity,
        relative affinity, expected value and score (rounded here), and where the scorer explores a fifth row,
        the exploration factor each score carries (ranking.explore); `fit` each pick's audience-fit reasons. With
        `orders` (the affinity is expected orders per 30 days) a pick also carries expected_commission_30d, the
        yuan the anchor would earn in 30 days: expected orders x yuan per order x commission rate, and where the model
        knows how sure it is of the good, the 5% and 95% points of that (_p05, _p95) as the good's quality
        allows, its room's strength and audience taken as fitted. `on_shelf` and `outside` (per pick) mark the
        goods the room lists already and those outside its own categories (拓品类, `mark_outside`).

        One pass over the page (a request's largest Python loop): the numbers are computed for the whole page
        with a few array operations, and each pick's reasons are memo look-ups."""
        memo, price, commission, per_order = self._memo, self._price, self._commission, self._order_value
        matches, owns = self._match_memo, self._own_memo
        if len(matches) >= self.memo_size or len(owns) >= self.memo_size:  # then start over
            matches.clear(), owns.clear()
        shares = None
        items = []
        m = len(rows)
        fit = fit or [()] * m
        own = self._sold_by(anchor, rows)
        money = [None] * m
        if orders:  # yuan: expected orders x yuan per order x commission rate, with its range (one rounding for all)
            f = self._money[rows]  # yuan per order, commission rate, 1 and, with an interval, its 5% and 95% factors
            earned = breakdown[0] * f[:, 0] * f[:, 1]
            money = np.round(earned[:, None] * f[:, 2:], 2).tolist()
        shelf = [False] * m if on_shelf is None else on_shelf.tolist()
        away = [False] * m if outside is None else outside.tolist()
        figures_of = np.round(breakdown, 6).tolist()
        tried = figures_of[4] if len(figures_of) > 4 else [None] * m
        for p, s, aff, r, v, s6, b, why, cash, sold, listed, off, x in zip(
                rows.tolist(), score.tolist(), *figures_of[:4], boost.tolist(), fit, money, own, shelf, away, tried,
                strict=True):
            col, cat, good_reasons, support = memo.get(p) or self.good(p)
            own_sales = None
            if sold and good_reasons and good_reasons[0]["code"] == "sales_proof":
                own_sales = owns.get(p)
                if own_sales is None:
                    own_sales = reasons.sales_proof_with_you(self._anchors_7d[p], self._gmv_7d[p])
                    if self.memo_size:
                        owns[p] = own_sales
            match = None
            if col >= 0:  # this room's audience match for the category: formatted once per (room, category)
                match = matches.get((anchor, col))
                if match is None:
                    if shares is None:
                        shares = self.rooms.category_shares[anchor].tolist()
                    # "0% of your fans bought it" would argue against the pick: no reason then (False, memoised)
                    quoted = round(shares[col], 2) > 0 and self.rooms.quotable[anchor]
                    match = reasons.audience_match(shares[col], cat) if quoted else False
                    if self.memo_size:
                        matches[(anchor, col)] = match
                match = match or None
            figures = {"affinity": aff, "relative_affinity": r, "price": price[p], "commission_rate": commission[p],
                       "order_value": per_order[p], "qc_factor": self._qc[p], "expected_value": v,
                       "support_boost": b, "score": s6}
            if x is not None:
                figures["explore"] = x
            if cash is not None:
                figures["expected_commission_30d"] = cash[0]
                if len(cash) == 3:
                    figures["expected_commission_30d_p05"], figures["expected_commission_30d_p95"] = cash[1], cash[2]
            pick = Pick(p, s, figures, match, good_reasons, support, why, listed, own_sales=own_sales)
            if off:
                self.mark_outside(pick, anchor)
            items.append(pick)
        return items

    def mark_outside(self, pick: Pick, anchor: int) -> None:
        """Mark a pick outside the room's own categories (拓品类) and add the reason that justifies it: how many
        of the rooms whose fans are like its fans sell the category."""
        pick.outside = True
        col = self._audience_col[pick.product]
        share = self.rooms.peers_selling(anchor, col) if col >= 0 else None
        if share is None:
            return
        reason = self._outside_memo.get((col, share))
        if reason is None:
            if round(share, 2) > 0:  # the peers' reason is the same for every room with that share
                reason = self._outside_memo[(col, share)] = reasons.outside_category(
                    self._category_of[pick.product], share)
            else:  # no peer sells it: the room's own fans' buying, per room (of a room with fans enough to say)
                fans_buying = float(self.rooms.category_shares[anchor, col]) if self.rooms.quotable[anchor] else 0.0
                reason = reasons.outside_category(self._category_of[pick.product], share, fans_buying)
                if reason["value"] > 0:  # it cites the category match's figure: that reason would repeat it
                    pick.audience_reason = None
        pick.fit_reasons = (reason, *pick.fit_reasons)

    def _sold_by(self, anchor: int, rows: np.ndarray) -> list[bool]:
        """Per good of `rows`, whether this room sold it in the last 7 days."""
        sold = self._sold_7d
        if sold is None or not len(sold):
            return [False] * len(rows)
        keys = np.asarray(rows, np.int64) + anchor * self._n_goods
        at = np.minimum(np.searchsorted(sold, keys), len(sold) - 1)
        return (sold[at] == keys).tolist()

    def anchors(self, product: int, anchors: np.ndarray, score: np.ndarray, breakdown: dict[str, np.ndarray],
                on_shelf: np.ndarray | None = None, new_supported: bool = False) -> list[dict]:
        """Proposed anchors for a good, spoken of in the third person (the reader is the merchant): the room's
        fans, its followers' buying in the good's category and its own GMV there, with the scorer's figures;
        `on_shelf` marks rooms that list the good already. A room proposed though it has not sold the category
        lately (the model expects it would, from its audience and rooms like it) says so, and a share of its
        followers that rounds to 0% is not cited: it would argue against the proposal."""
        rooms, category = self.rooms, int(self._category_code[product])
        col = int(rooms.audience_column[category]) if category >= 0 else -1
        label = self._categories[category]
        fans = np.asarray(rooms.fans[anchors]).tolist()
        gmv, share = rooms.category_sales(anchors, category)
        gmv, share = gmv.tolist(), share.tolist()
        audience = np.asarray(rooms.category_shares[anchors, col]).tolist() if col >= 0 else [None] * len(anchors)
        new = [False] * len(anchors) if rooms.new is None else np.asarray(rooms.new)[anchors].tolist()
        age = np.asarray(rooms.age_days, float)[anchors].tolist() if any(new) and rooms.age_days is not None \
            else [None] * len(anchors)
        figures = {name: np.round(values.astype(np.float64), 6).tolist() for name, values in breakdown.items()}
        items = []
        for i, (a, s) in enumerate(zip(anchors.tolist(), score.tolist(), strict=True)):
            why = [reasons.anchor_fans(int(fans[i]))]
            if audience[i] is not None and round(audience[i], 2) > 0 and rooms.quotable[a]:
                why.append(reasons.audience_match(audience[i], label, whose="TA的"))
            if gmv[i] > 0:
                why.append(reasons.anchor_category_sales(label, gmv[i], share[i]))
            else:
                why.append(reasons.anchor_untried_category(label, int(fans[i])))
            if new[i]:
                why.append(reasons.new_anchor(age[i], new_supported))
            items.append({"anchor": a, "score": s, "reasons": why,
                          "on_shelf": bool(on_shelf[i]) if on_shelf is not None else False,
                          "breakdown": {**{name: values[i] for name, values in figures.items()},
                                        "fans": int(fans[i]), "category_gmv_share": round(share[i], 4)}})
        return items
