"""The ranking's rules written plainly, slow and obviously right, for the components to be checked against."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np


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


def expected_orders(ranker, anchors, rows: np.ndarray | None = None) -> np.ndarray:
    """Expected orders if shelved straight from the model the ranker serves (the room x good term included
    where it is on)."""
    model = ranker.model
    rates = model.personal if model.personal is not None and ranker.config.audience_fit else model.shelf_rate
    return np.asarray(rates.expected(anchors, rows), np.float64)


def expected_value(ranker, anchor: int, rows: np.ndarray) -> np.ndarray:
    """A room's score of goods `rows` as the scorers' docstring defines it, from the catalogue columns."""
    cfg, goods = ranker.config, ranker.goods
    expected = expected_orders(ranker, anchor)
    top = expected[ranker.gate].max()
    boost = np.where(goods.supported[rows], 1 + cfg.support_boost, 1)
    return ((expected[rows] / top) ** cfg.affinity_weight * goods.price[rows] ** cfg.price_weight
            * goods.commission[rows] ** cfg.commission_weight * boost)
