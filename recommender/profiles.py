"""Audience profiles of anchors and sales statistics of goods: the facts behind filters, boards and reasons.

Every figure a pick's reason cites ("你的粉丝中 34% 近30天购买过美妆", "近7天 212 位主播带货") is computed here,
once, from the snapshot, so the service never invents or recomputes a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender.arrays import cell_sums, distinct_both_ways_within, distinct_per_row_within
from recommender.clock import days_between, to_minutes
from recommender.contract import Marketplace, paid_per_unit_range
from recommender.hashing import order_keys

WINDOWS = (1, 7, 30)


def spending_levels(m: Marketplace) -> tuple[np.ndarray, list[str]] | None:
    """Each fan's spending level (消费水平) from the fans table, 0-based (-1 unknown), and the levels' labels
    ("消费水平 2 级", on the contract's own scale, 1 lowest); None without the column or a known level. The cells run
    from level 1 to the highest seen, so a label means the same whatever levels a snapshot happens to hold."""
    f = m.fans
    if "spending_level" not in f:
        return None
    level = pd.to_numeric(f["spending_level"], errors="coerce").to_numpy(np.float64)
    known = np.isfinite(level)
    if not known.any():
        return None
    top = int(level[known].max())
    cell = np.where(known, np.nan_to_num(level, nan=0.0) - 1, -1).astype(np.int64)
    return cell, [f"消费水平 {i + 1} 级" for i in range(top)]


@dataclass
class AudienceProfile:
    """Shares over each anchor's followers, as (anchors, labels) float32 arrays with their labels."""

    fans: np.ndarray  # (anchors,) followers
    buyers_30d: np.ndarray  # (anchors,) followers who bought anything in the last 30 days (any room)
    shares: dict[str, np.ndarray]  # dimension -> (anchors, len(labels[dimension]))
    labels: dict[str, list[str]]


def audience_profile(m: Marketplace, now: pd.Timestamp | None = None, follows: sp.csr_matrix | None = None
                     ) -> AudienceProfile:
    """Gender / age / region / spending-level shares of each anchor's followers, and the share who bought each
    category.

    A category share is "followers who bought that category in the last 30 days, in any room" over all
    followers: the audience-match statistic of the selection center. `follows`: the (anchors, fans) float32
    matrix of ones, interactions.follower_matrix(m), when the caller has it (every figure here is a count, so
    the order of its entries does not matter).
    """
    now = now or m.snapshot_time
    n_a, n_f = len(m.anchor_ids), len(m.fan_ids)
    if follows is None:
        follows = sp.csr_matrix((np.ones(len(m.follows), np.float32),
                                 (m.follows["anchor"].to_numpy(), m.follows["fan"].to_numpy())), shape=(n_a, n_f))
        follows.data[:] = 1.0
    n_fans = np.asarray(follows.sum(axis=1)).ravel()
    inv = np.divide(1.0, n_fans, out=np.zeros_like(n_fans), where=n_fans > 0)

    shares, labels = {}, {}
    dims = [d for d in ("gender", "age_band", "region") if d in m.fans and not m.fans[d].isna().all()]
    factorized = [pd.factorize(m.fans[d], sort=True) for d in dims]
    spending = spending_levels(m)
    if spending is not None:  # in level order, named as the selection center names them
        dims.append("spending_level")
        factorized.append((spending[0], spending[1]))
    # counts of followers per (anchor, label), one pass over the follows for every dimension (a sum of ones:
    # the same integer counts as a bincount)
    counts = cell_sums(follows, [(codes, len(uniques)) for codes, uniques in factorized])
    for dim, (_, uniques), count in zip(dims, factorized, counts, strict=True):
        shares[dim] = (count.astype(np.float32) * inv[:, None]).astype(np.float32)
        labels[dim] = [str(u) for u in uniques]

    o = m.purchases
    recent = o[["fan", "product"]][(o["ordered_at"] > now - pd.Timedelta(days=30)).to_numpy()]
    cat_codes, cats = pd.factorize(m.products["category"], sort=True)
    bought = np.zeros((n_f, len(cats)), np.float32)
    bought[recent["fan"].to_numpy(), cat_codes[recent["product"].to_numpy()]] = 1.0  # did the fan buy it at all
    shares["category"] = ((follows @ bought) * inv[:, None]).astype(np.float32)
    labels["category"] = [str(c) for c in cats]
    any_buy = np.zeros(n_f, np.float32)
    any_buy[recent["fan"].to_numpy()] = 1.0
    return AudienceProfile(n_fans.astype(np.int64), (follows @ any_buy).astype(np.int64), shares, labels)


def sold_pairs(m: Marketplace, now: pd.Timestamp | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The distinct rooms that sold each good and the distinct goods each room sold (unrefunded orders), over
    each of WINDOWS and all time: what product_stats and anchor_stats count, from one sort of the pairs."""
    now = now or m.snapshot_time
    o = m.purchases
    age = m.purchase_age_days if now == m.snapshot_time else \
        days_between(o["ordered_at"], now)
    return distinct_both_ways_within(o["product"].to_numpy(), o["anchor"].to_numpy(), age, WINDOWS,
                                     len(m.product_ids), len(m.anchor_ids))


def product_stats(m: Marketplace, now: pd.Timestamp | None = None,
                  sold: tuple[list[np.ndarray], list[np.ndarray]] | None = None) -> pd.DataFrame:
    """Per good (in vocabulary order): sales, GMV, buyers and selling anchors over 1/7/30 days, refunds,
    shelf reach and anchor conversion, its rank on its category's TOP sales board per window, and with a click log
    its clicks in the last 30 days.
    `sold`: sold_pairs(m, now), when the caller has it."""
    now = now or m.snapshot_time
    n_p = len(m.product_ids)
    o = m.orders
    refunded = o["refunded"].fillna(False).to_numpy(dtype=bool) if "refunded" in o else np.zeros(len(o), bool)
    product = o["product"].to_numpy()
    age = days_between(o["ordered_at"], now)
    out = {"product_id": m.product_ids.ids}
    kept = ~refunded
    anchors = (sold or sold_pairs(m, now))[0]
    for i, days in enumerate(WINDOWS):
        inside = (age < days) & ~refunded
        out[f"sales_{days}d"] = np.bincount(product[inside], o["quantity"].to_numpy()[inside], n_p).astype(np.int64)
        out[f"gmv_{days}d"] = np.round(np.bincount(product[inside], o["amount"].to_numpy()[inside], n_p), 2)
        out[f"orders_{days}d"] = np.bincount(product[inside], minlength=n_p)
        out[f"anchors_{days}d"] = anchors[i]
    recent = age < 30
    month = recent & kept
    paid_max, paid_min = paid_per_unit_range(product[month], o["amount"].to_numpy()[month],
                                             o["quantity"].to_numpy()[month], n_p)
    out["buyers_30d"], buyers_all = distinct_per_row_within(product[kept], o["fan"].to_numpy()[kept], age[kept],
                                                            (30,), n_p, len(m.fan_ids))
    all_orders = np.bincount(product[recent], minlength=n_p)
    out["refund_share_30d"] = np.round(np.divide(np.bincount(product[recent & refunded], minlength=n_p),
                                                 all_orders, out=np.zeros(n_p), where=all_orders > 0), 4)
    out["buyers_all"] = buyers_all  # the columns' order is the artifact's (recommender/artifact/layout.py)
    shelf = np.bincount(m.shelf["product"].to_numpy(), minlength=n_p) if len(m.shelf) else np.zeros(n_p, int)
    out["shelf_anchors"] = shelf
    # Conversion of the promotion: of the anchors who shelved it, how many sold it in the last 30 days.
    out["anchor_conversion_30d"] = np.round(np.divide(np.minimum(out["anchors_30d"], shelf), shelf,
                                                      out=np.full(n_p, np.nan), where=shelf > 0), 4)
    stats = pd.DataFrame(out)
    category = m.products["category"].to_numpy()
    for days in WINDOWS:
        col = f"sales_{days}d"
        stats[f"rank_{days}d"] = (stats.assign(category=category).groupby("category")[col]
                                  .rank(method="min", ascending=False).astype(np.int64))
        stats.loc[stats[col] == 0, f"rank_{days}d"] = 0  # 0: not on the board (no sales)
    # after the artifact's fixed columns (layout.PRODUCT_STATS), as the click log's
    stats["paid_unit_max_30d"], stats["paid_unit_min_30d"] = paid_max, paid_min
    if len(m.clicks):  # what fans looked at: shown beside the sales, and told of a good that has none yet
        # compared as microseconds since the epoch: pandas' datetime arithmetic took 1.5 s on 18M clicks
        since = np.datetime64(now - pd.Timedelta(days=30), "us").astype(np.int64)
        recent = m.clicks["clicked_at"].to_numpy("datetime64[us]").view(np.int64) > since
        stats["clicks_30d"] = np.bincount(m.clicks["product"].to_numpy()[recent], minlength=n_p).astype(np.int64)
    return stats


def anchor_stats(m: Marketplace, now: pd.Timestamp | None = None,
                 sold: tuple[list[np.ndarray], list[np.ndarray]] | None = None) -> pd.DataFrame:
    """Per anchor (vocabulary order): orders, GMV and distinct goods sold over 7/30 days, shelf size.
    `sold`: sold_pairs(m, now), when the caller has it."""
    now = now or m.snapshot_time
    n_a = len(m.anchor_ids)
    o = m.purchases
    age = m.purchase_age_days if now == m.snapshot_time else \
        days_between(o["ordered_at"], now)
    anchor = o["anchor"].to_numpy()
    out = {"anchor_id": m.anchor_ids.ids}
    goods = (sold or sold_pairs(m, now))[1][1:]  # WINDOWS' 7 and 30 days
    for i, days in enumerate((7, 30)):
        inside = age < days
        out[f"orders_{days}d"] = np.bincount(anchor[inside], minlength=n_a)
        out[f"gmv_{days}d"] = np.round(np.bincount(anchor[inside], o["amount"].to_numpy()[inside], n_a), 2)
        out[f"goods_sold_{days}d"] = goods[i]
    out["orders_all"] = np.bincount(anchor, minlength=n_a)
    out["shelf_size"] = np.bincount(m.shelf["anchor"].to_numpy(), minlength=n_a) if len(m.shelf) \
        else np.zeros(n_a, np.int64)
    return pd.DataFrame(out)


def anchor_category_gmv(m: Marketplace, now: pd.Timestamp | None = None) -> np.ndarray:
    """(anchors, categories) GMV of the last 30 days, categories in the same order as the audience labels."""
    now = now or m.snapshot_time
    o = m.purchases
    recent = (o["ordered_at"] > now - pd.Timedelta(days=30)).to_numpy()
    cat_codes, cats = pd.factorize(m.products["category"], sort=True)
    n_c = len(cats)
    # a bincount: np.add.at's sums in the same order (each cell's amounts in row order), without its slow loop
    cell = o["anchor"].to_numpy(np.int64)[recent] * n_c + cat_codes[o["product"].to_numpy()[recent]]
    out = np.bincount(cell, o["amount"].to_numpy(np.float64)[recent], len(m.anchor_ids) * n_c)
    return np.round(out.reshape(len(m.anchor_ids), n_c), 2)


def anchor_category_windows(m: Marketplace, now: pd.Timestamp | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(anchors, windows, categories) GMV (yuan) and orders of unrefunded orders over the last 1/7/30 days, the
    windows of `anchor_stats` (an order `age < days` old), categories in the audience labels' order: the anchor
    boards (达人带货榜) per window and category. Summed over categories they are `anchor_stats`' totals."""
    now = now or m.snapshot_time
    o = m.purchases
    age = m.purchase_age_days if now == m.snapshot_time else \
        days_between(o["ordered_at"], now)
    cat_codes, cats = pd.factorize(m.products["category"], sort=True)
    n_a, n_c = len(m.anchor_ids), len(cats)
    cell = o["anchor"].to_numpy(np.int64) * n_c + cat_codes[o["product"].to_numpy()]
    amount = o["amount"].to_numpy(float)
    gmv = np.zeros((n_a, len(WINDOWS), n_c))
    orders = np.zeros((n_a, len(WINDOWS), n_c), np.int64)
    for i, days in enumerate(WINDOWS):
        inside = age < days
        gmv[:, i] = np.bincount(cell[inside], amount[inside], n_a * n_c).reshape(n_a, n_c)
        orders[:, i] = np.bincount(cell[inside], minlength=n_a * n_c).reshape(n_a, n_c)
    return np.round(gmv, 2), orders


def audience_order_value(m: Marketplace, now: pd.Timestamp | None = None, days: int = 30,
                         follows: sp.csr_matrix | None = None) -> np.ndarray:
    """(anchors,) the audience's price level: the average unrefunded order (yuan) its followers placed in the last
    `days`, in any room (客单价 of the audience, so a new room with fans but no sales has one). NaN where no
    follower bought."""
    now = now or m.snapshot_time
    o = m.purchases
    recent = (o["ordered_at"] > now - pd.Timedelta(days=days)).to_numpy()
    fan = o["fan"].to_numpy()[recent]
    n_f = len(m.fan_ids)
    spent = np.bincount(fan, o["amount"].to_numpy(float)[recent], n_f)
    count = np.bincount(fan, minlength=n_f).astype(float)
    if follows is None:  # `follows`: interactions.follower_matrix(m), when the caller has it
        pairs = (m.follows["anchor"].to_numpy(), m.follows["fan"].to_numpy())
        follows = sp.csr_matrix((np.ones(len(m.follows)), pairs), shape=(len(m.anchor_ids), n_f))
        follows.data[:] = 1.0
    total, n = follows @ spent, follows @ count
    return np.round(np.divide(total, n, out=np.full(len(total), np.nan), where=n > 0), 2)


def _csr(rows: np.ndarray, values: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(rows, kind="stable")
    indptr = np.searchsorted(rows[order], np.arange(n_rows + 1)).astype(np.int64)
    return indptr, values[order].astype(np.int32)


def shelf_lists(m: Marketplace) -> tuple[np.ndarray, np.ndarray]:
    """Each anchor's shelf as CSR arrays (indptr over anchors, product rows), for excluding listed goods."""
    if not len(m.shelf):  # the shelf table is optional (an absent one has no dense columns)
        return np.zeros(len(m.anchor_ids) + 1, np.int64), np.zeros(0, np.int32)
    return _csr(m.shelf["anchor"].to_numpy(), m.shelf["product"].to_numpy(), len(m.anchor_ids))


def follow_lists(m: Marketplace) -> tuple[np.ndarray, np.ndarray]:
    """Each fan's followed anchors as CSR arrays (indptr over fans, anchor rows): the hot feed favours them."""
    return _csr(m.follows["fan"].to_numpy(), m.follows["anchor"].to_numpy(), len(m.fan_ids))


def recent_orders(m: Marketplace, days: int = 7) -> dict[str, np.ndarray]:
    """The last `days` of kept, unrefunded orders (order key, anchor row, product row, minute), so a restarted
    service knows what is hot and each good's baseline without the raw snapshot."""
    o = m.orders
    since = m.snapshot_time - pd.Timedelta(days=days)
    keep = (o["ordered_at"] > since).to_numpy()
    if "refunded" in o:
        keep = keep & ~o["refunded"].fillna(False).to_numpy(bool)
    o = o[["order_id", "anchor", "product", "ordered_at"]][keep]
    return {"key": order_keys(o["order_id"].to_numpy()), "anchor": o["anchor"].to_numpy(np.int32),
            "product": o["product"].to_numpy(np.int32), "minute": to_minutes(o["ordered_at"].to_numpy())}
