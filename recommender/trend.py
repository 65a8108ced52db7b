"""What the market buys now, blended with a fan's long-term taste.

The fan and good vectors remember months of purchases; what sells this week moves faster. A fan's score of a
good is

    taste + weight x trend[good] + category_weight x log(share of the fan's purchases in the good's category)
          + rebuy_weight x log1p(the fan's own recency-decayed orders of the good)

* taste: fan . good over the fan's best fan . good in the catalogue (1 for the fan's favourite), so one weight
  suits fans whose vectors have different lengths;
* trend: log1p of the good's orders, each decayed by its age with a half-life of `half_life_days`, over the
  catalogue's largest, in [0, 1];
* the category share (smoothed toward the platform's mix) puts the trend where the fan shops;
* rebuys: people restock what they bought (half of Online Retail's GMV in a 30-day window is goods the customer
  had bought before). The vectors rank goods a fan has bought too, but only as far as a low-rank taste can; the
  fan's own orders of the good, each decayed with a half-life of `rebuy_half_life_days`, say it directly. It
  matters where a ranking may show goods already bought (`fan_goods_all`; the fan's hot feed does not use it yet),
  not for "goods new to this fan" rankings, which leave those out.

With all weights 0 the score orders goods exactly as the vectors do. The weights are learned on held-out days
(`xuanpin tune`'s trend and rebuy stages); the defaults lie where tuning found good settings on both the synthetic
marketplace and Online Retail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import Field

from recommender.contract import Marketplace
from recommender.interactions import sparse_sum
from recommender.settings import Settings


class TrendConfig(Settings):
    """The blend of long-term taste, the market's trend and the fan's categories."""

    half_life_days: float = Field(3.0, gt=0, description="age at which an order counts half in the trend")
    weight: float = Field(0.8, ge=0, description="weight of the trend (0-1) beside the taste (at most 1)")
    category_weight: float = Field(0.05, ge=0, description="weight of the log share of the fan's purchases in the "
                                   "good's category")
    category_smoothing: float = Field(0.1, gt=0, description="pseudo-purchases spread over categories as the "
                                      "platform buys, so a fan's unseen categories are not log(0)")
    rebuy_weight: float = Field(2.0, ge=0, description="weight of log1p(the fan's own recency-decayed orders of "
                                "the good) (0: off, and the artifact keeps no rebuy table)")
    rebuy_half_life_days: float = Field(120.0, gt=0, description="age at which a fan's own order counts half "
                                        "in its rebuys")
    room_weight: float = Field(1.25, ge=0, description="weight of the trend in a room's picks where the vectors rank "
                               "them (no shelf table), within the categories the room sells (room_trend_reach); "
                               "learned by xuanpin tune's anchors stage (0: off)")


def product_trend(m: Marketplace, half_life_days: float) -> np.ndarray:
    """(products,) float32 in [0, 1]: log1p of recency-decayed orders (refunds left out) over the largest."""
    o = m.purchases
    age = m.purchase_age_days
    weight = np.exp2(-np.maximum(age, 0.0) / half_life_days)
    trend = np.log1p(np.bincount(o["product"].to_numpy(), weight, minlength=len(m.product_ids)))
    top = float(trend.max(initial=0.0))
    return (trend / top if top > 0 else trend).astype(np.float32)


def category_codes(m: Marketplace) -> tuple[np.ndarray, list[str]]:
    codes, labels = pd.factorize(m.products["category"].astype(str), sort=True)
    return codes.astype(np.int32), [str(c) for c in labels]


def fan_category_log_share(m: Marketplace, category: np.ndarray, n_categories: int,
                           smoothing: float) -> np.ndarray:
    """(fans, categories) float32: log of each fan's share of purchases per category, smoothed toward the
    platform's mix by `smoothing` pseudo-purchases."""
    o = m.purchases
    counts = sparse_sum(o["fan"].to_numpy(), category[o["product"].to_numpy()], np.ones(len(o)),
                        (len(m.fan_ids), n_categories), dtype=np.float64).toarray()
    platform = counts.sum(axis=0) + 1.0  # add-one: a category nobody bought yet is rare, not impossible
    platform /= platform.sum()
    share = (counts + smoothing * platform) / (counts.sum(axis=1, keepdims=True) + smoothing)
    return np.log(share).astype(np.float32)


def fan_rebuys(m: Marketplace, half_life_days: float) -> sp.csr_matrix:
    """(fans, products) float32: each fan's own orders of each good (refunds left out), each decayed by its age
    with a half-life of `half_life_days`."""
    o = m.purchases
    age = m.purchase_age_days
    return sparse_sum(o["fan"].to_numpy(), o["product"].to_numpy(), np.exp2(-np.maximum(age, 0.0) / half_life_days),
                      (len(m.fan_ids), len(m.product_ids)), dtype=np.float32).tocsr()


def blend(taste: np.ndarray, trend: np.ndarray, log_share: np.ndarray, category: np.ndarray,
          cfg: TrendConfig, rebuys: np.ndarray | sp.spmatrix | None = None) -> np.ndarray:
    """Scores (users, goods) from raw taste (fan . good for every good), the goods' trend, the users' rows of
    the log category shares and the goods' category codes, and the users' rows of `fan_rebuys` (None: without)."""
    taste = np.asarray(taste, dtype=np.float32)
    best = np.maximum(np.abs(taste).max(axis=1, keepdims=True), 1e-9)
    out = taste / best
    if cfg.weight:
        out += cfg.weight * trend[None, :]
    if cfg.category_weight:
        out += cfg.category_weight * np.asarray(log_share)[:, category]
    if cfg.rebuy_weight and rebuys is not None:
        if sp.issparse(rebuys):  # only the goods each fan bought change
            r = sp.coo_matrix(rebuys)
            out[r.row, r.col] += cfg.rebuy_weight * np.log1p(r.data)
        else:
            out += cfg.rebuy_weight * np.log1p(np.asarray(rebuys, np.float32))
    return out


def room_trend_reach(category_gmv: np.ndarray) -> np.ndarray:
    """(rooms, categories) float32 in [0, 1]: how much of the market's trend a room's score takes in each category,
    its 30-day GMV there over its best category's (1 in every category for a room without sales in 30 days).

    A room sells its own categories: the market's trend unweighted filled the synthetic rooms' picks with other
    verticals' best sellers and halved the served anchor->goods NDCG there without a shelf table (0.018 -> 0.008,
    medium seed 12), while on Online Retail, where most customers' "rooms" bought nothing in the last 30 days,
    it lifted it above recent popularity. Within the room's categories the trend helps both (validation days,
    room weight 1.26: medium seeds 0 / 11 0.030 / 0.036 -> 0.031 / 0.040, unweighted 0.017 / 0.020; Online
    Retail 0.073 -> 0.097, unweighted 0.102)."""
    gmv = np.maximum(np.asarray(category_gmv, np.float64), 0.0)
    top = gmv.max(axis=1, keepdims=True, initial=0.0)
    reach = np.divide(gmv, top, out=np.ones_like(gmv), where=top > 0)
    return reach.astype(np.float32)


def room_base(affinity: np.ndarray, top: float | np.ndarray, power: float, weight: float,
              trend: np.ndarray | float) -> np.ndarray:
    """A room's score of goods where the vectors rank them (no shelf table): relative affinity ** power +
    weight x trend (the trend within the room's categories: the market's trend x `room_trend_reach`). The
    affinity is relative to the room's best good (`top`; floored at 1e-3 of it), so one weight suits rooms of every
    scale; the score is non-decreasing in the affinity and in the trend, which the ranking's threshold retrieval
    needs."""
    rel = np.maximum(np.asarray(affinity, np.float64) / top, 1e-3)
    base = rel if power == 1 else rel ** power
    return base + weight * trend if weight else base

