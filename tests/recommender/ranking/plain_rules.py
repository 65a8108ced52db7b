"""The ranking's rules written plainly, slow and obviously right, for the components to be checked against."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from recommender.ranking.explore import Exploration


def brute_top(scores: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """The n best rows passing `mask`, ties by row."""
    rows = np.flatnonzero(mask)
    return rows[np.lexsort((rows, -scores[rows]))][:n]


def reference_arrange(cats, supported, score, n, page, support_share, max_category_share, outside=None,
                      max_outside_share=1.0):
    """The arrangement rule: per slot, the best unused candidate (ties: earlier) that a due support slot asks
    for, else the best under the category cap (and the cap on goods outside the room's categories), else the
    best left."""
    cap = max(1, math.ceil(max_category_share * page))
    away_cap = math.floor(max_outside_share * page + 1e-9) if outside is not None else page
    away = {c for c in range(len(outside)) if outside[c]} if outside is not None else set()
    ranked = sorted(range(len(score)), key=lambda i: (-score[i], i))
    used, taken, support_left = set(), [], sum(supported)
    while len(taken) < min(n, len(score)):
        per_cat, in_page, n_support, n_away = Counter(), 0, 0, 0
        while in_page < page and len(taken) < min(n, len(score)):
            free = [i for i in ranked if i not in used]

            def allowed(i, per_cat=per_cat, n_away=n_away):
                return per_cat[cats[i]] < cap and not (cats[i] in away and n_away >= away_cap)

            pick = None
            if support_left > 0 and math.floor((in_page + 1) * support_share) > n_support:
                pick = next((i for i in free if supported[i] and allowed(i)), None)
            if pick is None:
                pick = next((i for i in free if allowed(i)), None)
            if pick is None:
                pick = free[0]
            used.add(pick)
            taken.append(pick)
            per_cat[cats[pick]] += 1
            n_away += cats[pick] in away
            in_page += 1
            if supported[pick]:
                n_support += 1
                support_left -= 1
    return taken


def _rates(ranker):
    """The model the ranker ranks by: with the room x good term where it is on, else category x quality."""
    model = ranker.model
    return model.personal if model.personal is not None and ranker.config.audience_fit else model.shelf_rate


def expected_orders(ranker, anchors, rows: np.ndarray | None = None) -> np.ndarray:
    """Expected orders if shelved straight from the model the ranker serves (the room x good term included
    where it is on)."""
    return np.asarray(_rates(ranker).expected(anchors, rows), np.float64)


def expected_value(ranker, anchor: int, rows: np.ndarray) -> np.ndarray:
    """A room's score of goods `rows` as the scorers' docstring defines it, from the catalogue columns."""
    cfg, goods = ranker.config, ranker.goods
    expected = expected_orders(ranker, anchor)
    top = expected[ranker.gate].max()
    if cfg.caution is not None:  # ranked by a low quantile of quality, relative to the room's best by the mean
        rates = _rates(ranker)  # its quality: the levels refitted with the term where it is on
        expected = expected * getattr(rates, "base", rates).quality_quantile(cfg.caution)
    boost = np.where(goods.supported[rows], 1 + cfg.support_boost, 1)
    if cfg.explore and cfg.audience_fit:  # the room's factors of the day: its id, the goods' ids, the snapshot's day
        model = ranker.model
        day = (pd.Timestamp(model.snapshot_time) - pd.Timestamp(0)).days
        boost = boost * Exploration(cfg.explore, model.anchor_ids.ids, model.product_ids.ids, day).factors(anchor,
                                                                                                             rows)
    # the good's yuan per order: the units an order holds x price, less discounts (Goods.order_value)
    return ((expected[rows] / top) ** cfg.affinity_weight * goods.order_value[rows] ** cfg.price_weight
            * goods.commission[rows] ** cfg.commission_weight * qc_plain(goods, cfg)[rows] * boost)


def qc_plain(goods, cfg) -> np.ndarray:
    """The 品控 factor as ranking/qc.py's docstring writes it: refunds kept, the rating over 5, 10% a violation."""
    return ((1 - goods.refund) * (goods.shop_rating / 5) * (1 - cfg.violation_penalty) ** goods.violations
            ) ** cfg.qc_weight


def fit_reasons_every_cell(scorer, anchor: int, rows: np.ndarray) -> list[tuple[dict, ...]]:
    """AudienceFitScorer.fit_reasons as first written: every cell of every view weighed for every good, each
    reason formatted afresh (the scorer looks only at the cells large enough and shares formatted reasons)."""
    from recommender import reasons
    from recommender.ranking.audience_scorer import FIT_LIFT, FIT_SHARE

    m, views = len(rows), scorer.personal.views
    category = np.asarray(scorer.personal.base.category, np.int64)[rows]

    def audience(view) -> np.ndarray:  # (goods, cells): the fans each good is scored against
        if view.by_category is None:
            return np.tile(np.asarray(view.audience[anchor]), (m, 1))
        return np.asarray(view.by_category[anchor])[category]

    best_gain, best_view, best_cell = np.zeros(m), np.full(m, -1), np.zeros(m, np.int64)
    for i, view in enumerate(views):
        if not view.labels or np.asarray(view.audience[anchor]).sum() <= 0 or not scorer.quotable[anchor]:
            continue
        q, r = audience(view), np.asarray(view.response[rows])
        gain = np.where((r >= FIT_LIFT) & (q >= FIT_SHARE), q * (r - 1), 0.0)
        cell = gain.argmax(axis=1)
        top = gain[np.arange(m), cell]
        better = top > best_gain
        best_gain[better], best_view[better], best_cell[better] = top[better], i, cell[better]
    band = scorer.band_factor[anchor, scorer.band[rows]]
    share, lift = np.zeros(m), np.zeros(m)
    for i, view in enumerate(views):
        here = best_view == i
        if here.any():
            share[here] = audience(view)[np.flatnonzero(here), best_cell[here]]
            lift[here] = view.response[rows[here], best_cell[here]]
    names = scorer.personal.base.categories
    out = []
    for c, v, t, b, pb, up, q, r in zip(category.tolist(), best_view.tolist(), best_cell.tolist(),
                                        np.round(band, 2).tolist(), scorer.band[rows].tolist(),
                                        ((band >= FIT_LIFT) & bool(scorer.sold[anchor])
                                         & (True if scorer.sold_in is None else scorer.sold_in[anchor, category]))
                                        .tolist(),
                                        np.round(share, 2).tolist(),
                                        np.round(lift, 2).tolist(), strict=True):
        why = ()
        if v >= 0:
            cited = names[c] if views[v].by_category is not None else None
            why = (reasons.audience_fit(q, views[v].labels[t], r, region=views[v].name == "region", category=cited,
                                        sold=bool(scorer.sold[anchor]), level=views[v].name == "price_level"),)
        if up:  # the factor itself, not its rounding, is a reason
            why = (*why, reasons.price_band_fit(b, pb))
        out.append(why)
    return out
