"""Is a ranking personal? Three measures of how rooms of one category are told apart, against the truth.

* ``main_category_spearman``: per room, the rank correlation between a model's scores and the truth's
  expected sales over the goods of the room's main category (1.0: the truth's own order), averaged;
* ``identical_top_share``: among pairs of rooms with the same main category, the share whose first 5 goods are
  the same set (a category x quality model gives most pairs the same 5; the truth gives few);
* ``dear_share``: in price-sensitive rooms, the share of the first 10 goods priced above the 90th percentile of
  what the room's fans bought (a cautious ranking does not push luxuries on 下沉市场 rooms).

Synthetic data only: they need the generator's truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from recommender.contract import Marketplace


def main_category_spearman(scores: np.ndarray, expected: np.ndarray, goods_category: np.ndarray,
                           main: np.ndarray) -> float:
    """`scores` and `expected`: (rooms, goods); `main`: each room's main category code (-1: none)."""
    out = []
    for i, c in enumerate(main.tolist()):
        goods = np.flatnonzero((goods_category == c) & (expected[i] > 0))
        if c < 0 or len(goods) <= 2 or np.ptp(expected[i, goods]) == 0:
            continue
        s = scores[i, goods]
        # a model that cannot tell the goods apart says nothing about their order: 0, not left out
        out.append(0.0 if np.ptp(s) == 0 else np.corrcoef(rankdata(s), rankdata(expected[i, goods]))[0, 1])
    return float(np.mean(out)) if out else float("nan")


def identical_top_share(ranked: np.ndarray, groups: np.ndarray, k: int = 5) -> float:
    """Among pairs of rows in the same group (e.g. main category), the share whose first k items are the same
    set."""
    tops = np.sort(ranked[:, :k], axis=1)
    same = total = 0
    for g in np.unique(groups[groups >= 0]):
        rows = tops[groups == g]
        if len(rows) < 2:
            continue
        eq = (rows[:, None, :] == rows[None, :, :]).all(axis=2)
        same += int(eq.sum()) - len(rows)
        total += len(rows) * (len(rows) - 1)
    return same / total if total else float("nan")


def price_sensitive_rooms(m: Marketplace, fan_level: np.ndarray, rooms: np.ndarray, quantile: float = 0.75
                          ) -> np.ndarray:
    """The quarter of `rooms` whose followers are most often of the lowest price level (sorted rows)."""
    f = m.follows
    cheap = np.bincount(f["anchor"].to_numpy(), fan_level[f["fan"].to_numpy()] == 0, len(m.anchor_ids))
    count = np.bincount(f["anchor"].to_numpy(), minlength=len(m.anchor_ids))
    share = np.divide(cheap, count, out=np.zeros(len(cheap)), where=count > 0)[rooms]
    n = int(np.ceil(len(rooms) * (1 - quantile)))
    return np.sort(rooms[np.lexsort((rooms, -share))[:n]])  # exactly the top share, ties by row


def fans_price_p90(m: Marketplace, price: np.ndarray) -> np.ndarray:
    """Per room, the 90th percentile of the prices its followers paid anywhere (NaN without purchases)."""
    bought = pd.DataFrame({"fan": m.purchases["fan"].to_numpy(), "price": price[m.purchases["product"].to_numpy()]})
    pairs = pd.DataFrame({"anchor": m.follows["anchor"].to_numpy(), "fan": m.follows["fan"].to_numpy()})
    p90 = pairs.merge(bought, on="fan").groupby("anchor")["price"].quantile(0.9)
    return p90.reindex(np.arange(len(m.anchor_ids))).to_numpy()


def dear_share(ranked: np.ndarray, price: np.ndarray, limit: np.ndarray, k: int = 10) -> float:
    """The share of the first k items (rows of `ranked`) priced above each row's `limit`."""
    top = ranked[:, :k]
    valid = (top >= 0) & np.isfinite(limit)[:, None]
    dear = (price[np.maximum(top, 0)] > limit[:, None]) & valid
    return float(dear.sum() / valid.sum()) if valid.any() else float("nan")
