"""品控 within the gates: a good's score factor from its refund rate, its shop's rating and its merchant's record.

The gates (``gates.py``) decide what may be shown at all. Among the goods that pass, a shop that refunds more,
rates lower or breaks more rules is ranked below an otherwise equal one, as the platform's 品控 asks (quality beats
raw efficiency); before this factor a 14.9%-refund, 4.0-star, 2-violation shop ranked as well as a clean one. The
factor is

    ((1 - refund rate) x (shop rating / 5) x (1 - violation_penalty) ** violations) ** qc_weight

1 - refund rate is what the orders earn after refunds (no commission is settled on a refunded order); the rating
and the violations are policy: at the gates' limits (4.0 stars, 2 violations) they take 0.8 x 0.81. An unknown value
costs nothing (the catalogue reads it as no refunds, 5 stars, no violations). The yuan a pick shows stay the
estimate before refunds (预估佣金, as the platform's own figures are): the factor orders the picks, and the pick's
reason names it where it costs a fifth or more.
"""

from __future__ import annotations

import numpy as np

from recommender.ranking.catalog import Goods
from recommender.ranking.config import RankingConfig


def qc_factor(goods: Goods, cfg: RankingConfig) -> np.ndarray:
    """Each good's factor in (0, 1]; 1 everywhere with ``qc_weight`` 0."""
    if cfg.qc_weight == 0:
        return np.ones(len(goods))
    refund = np.clip(np.nan_to_num(goods.refund, nan=0.0), 0.0, 1.0)
    rating = np.clip(np.nan_to_num(goods.shop_rating, nan=5.0), 0.0, 5.0)
    violations = np.maximum(np.nan_to_num(goods.violations, nan=0.0), 0.0)
    factor = (1 - refund) * (rating / 5) * (1 - cfg.violation_penalty) ** violations
    return factor ** cfg.qc_weight
