"""A good's evidence (the selection center's "TOP销售榜和推广数据"): its daily orders and GMV over the snapshot's
last 30 days, the rooms that sold it ranked by GMV, and whether its stock outlasts a week of sales.

Days are Beijing days (Asia/Shanghai, UTC+8 without daylight saving since 1991): the platform's sellers and
merchants read a day as 00:00-24:00 China time, and a UTC day would split every evening's live sessions in two.
The window is the 30 Beijing days ending with the day that holds the snapshot time, so its last day is partial
(the page says up to when). Refunded orders are left out, as in the 1/7/30-day statistics
(`recommender.profiles.product_stats`).

Both tables are computed once in training from the orders, vectorised, and stored compactly as CSR arrays over
goods: only the nonzero (good, day) cells, and each good's `top_sellers` rooms by GMV.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import Field

from recommender.arrays import unique_sorted
from recommender.contract import Marketplace
from recommender.settings import Settings

TIMEZONE = "Asia/Shanghai"
#: Asia/Shanghai's offset from UTC: +8 h all year (no daylight saving since 1991), so a Beijing day is a UTC
#: instant shifted by 8 hours and floored to the day (tested against pandas' tz_convert)
BEIJING_OFFSET = pd.Timedelta(hours=8)
DAY_US = 86_400 * 1_000_000

SellerSort = Literal["gmv", "orders", "sales", "conversion", "fans"]


#: Beijing days of the daily trend and of the sellers' window (the selection center shows 30)
DAYS = 30


class EvidenceConfig(Settings):
    top_sellers: int = Field(100, ge=1, le=10_000, description="rooms kept per good, the biggest by GMV in the "
                             "window (the sellers route sorts and filters within them)")


def beijing_day(times: pd.Series | np.ndarray | pd.Timestamp) -> np.ndarray:
    """Days since 1970-01-01 in Beijing time of naive UTC timestamps (the contract's timestamps)."""
    us = np.asarray(pd.to_datetime(pd.Series(np.atleast_1d(times))).astype("datetime64[us]").to_numpy()
                    ).astype(np.int64)
    return (us + BEIJING_OFFSET.value // 1000) // DAY_US


def beijing_time(time: pd.Timestamp) -> str:
    """A naive UTC timestamp as Beijing time in ISO 8601, ``2026-10-31T07:57:09+08:00``."""
    return pd.Timestamp(time).tz_localize("UTC").tz_convert(TIMEZONE).isoformat()


def day_label(day: int) -> str:
    """A Beijing day number as its date, ``2026-10-31``."""
    return str(np.datetime64(int(day), "D"))


@dataclass
class DailySales:
    """(good, day) cells with sales, as CSR over goods: ``indptr`` (goods+1), and per cell its day offset in the
    window (0 = ``first_day``), orders, units and GMV (yuan)."""

    first_day: int  # Beijing day number of the window's first day
    days: int
    indptr: np.ndarray
    day: np.ndarray
    orders: np.ndarray
    units: np.ndarray
    gmv: np.ndarray


@dataclass
class Sellers:
    """Each good's biggest rooms by GMV in the window, as CSR over goods, best first (ties by anchor row):
    anchor row, orders, units, GMV (yuan), distinct buyers, and buyers among the room's followers. ``total``
    counts every room that sold the good in the window (not only the kept ones)."""

    indptr: np.ndarray
    anchor: np.ndarray
    orders: np.ndarray
    units: np.ndarray
    gmv: np.ndarray
    buyers: np.ndarray
    fan_buyers: np.ndarray
    total: np.ndarray


def _window_orders(m: Marketplace, days: int) -> tuple[int, pd.DataFrame, np.ndarray]:
    """The window's first Beijing day, its unrefunded orders, and each order's day offset in the window."""
    last = int(beijing_day(m.snapshot_time)[0])
    first = last - days + 1
    o = m.purchases
    offset = beijing_day(o["ordered_at"]) - first
    inside = (offset >= 0) & (offset < days)
    # only the columns the callers read: taking every column (the order ids' strings too) cost seconds on large
    return first, o[["product", "anchor", "fan", "quantity", "amount"]][inside], offset[inside]


def _sum_by(keys: np.ndarray, *values: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Distinct sorted keys, the sums of each value per key, and each input row's key index. By a sort:
    numpy 2.4's np.unique with return_inverse hashes and was 10x slower here (recommender.arrays)."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.ones(len(ordered), bool)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(len(keys), np.int64)
    inverse[order] = np.cumsum(first) - 1
    uniq = ordered[first]
    return uniq, [np.bincount(inverse, v, len(uniq)) for v in values], inverse


def daily_sales(m: Marketplace, days: int = DAYS) -> DailySales:
    """Per good and Beijing day of the last `days`: orders, units and GMV (refunds left out)."""
    first, o, offset = _window_orders(m, days)
    n_p = len(m.product_ids)
    cell = o["product"].to_numpy(np.int64) * days + offset
    # goods x days is small (100k goods: 3M cells), so dense bincounts replace a sort of the window's orders
    count = np.bincount(cell, minlength=n_p * days)
    keys = np.flatnonzero(count)
    orders = count[keys]
    units = np.bincount(cell, o["quantity"].to_numpy(float), n_p * days)[keys]
    gmv = np.bincount(cell, o["amount"].to_numpy(float), n_p * days)[keys]
    good = keys // days
    indptr = np.searchsorted(good, np.arange(n_p + 1)).astype(np.int64)
    return DailySales(first, days, indptr, (keys % days).astype(np.int16), np.rint(orders).astype(np.int32),
                      np.rint(units).astype(np.int32), np.round(gmv, 2))


def _follow_keys(m: Marketplace, followers: sp.csr_matrix | None = None) -> np.ndarray:
    """The follows' sorted (anchor, fan) keys, anchor x fans + fan: read off the (anchors, fans) CSR matrix of
    follower_matrix when given (canonical, so already in order), else a sort of the follows (20M on large)."""
    n_f = len(m.fan_ids)
    if followers is not None:
        rows = np.repeat(np.arange(followers.shape[0], dtype=np.int64), np.diff(followers.indptr))
        return rows * n_f + followers.indices
    return np.sort(m.follows["anchor"].to_numpy(np.int64) * n_f + m.follows["fan"].to_numpy(np.int64))


def _is_follow(follows: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Whether each (fan, anchor) key is in the sorted `follows`. The keys are looked up in sorted order: binary
    searches of random keys into 20M follows jump all over memory and took 9 s on the large world, sorted
    ones walk it once (under 1 s with the sort)."""
    if not len(follows):
        return np.zeros(len(key), bool)
    order = np.argsort(key)
    ordered = key[order]
    at = np.minimum(np.searchsorted(follows, ordered), len(follows) - 1)
    out = np.empty(len(key), bool)
    out[order] = follows[at] == ordered
    return out


def top_sellers(m: Marketplace, days: int = DAYS, keep: int = 100, followers: sp.csr_matrix | None = None
                ) -> Sellers:
    """Per good, the `keep` rooms with the most GMV from it in the window (Beijing days), with their orders,
    units, distinct buyers and buyers who follow the room (`followers`: follower_matrix(m) if the caller has
    it)."""
    _, o, _ = _window_orders(m, days)
    n_p, n_a = len(m.product_ids), len(m.anchor_ids)
    product, anchor, fan = (o[c].to_numpy(np.int64) for c in ("product", "anchor", "fan"))
    pair = product * n_a + anchor
    keys, (orders, units, gmv), inverse = _sum_by(pair, np.ones(len(o)), o["quantity"].to_numpy(float),
                                                  o["amount"].to_numpy(float))
    # distinct buyers per pair, and those of them who follow the room (a (fan, anchor) pair in follows)
    buyer = unique_sorted(inverse * np.int64(len(m.fan_ids)) + fan)
    buyer_pair, buyer_fan = buyer // len(m.fan_ids), buyer % len(m.fan_ids)
    follower = _is_follow(_follow_keys(m, followers), keys[buyer_pair] % n_a * len(m.fan_ids) + buyer_fan)
    buyers = np.bincount(buyer_pair, minlength=len(keys))
    fan_buyers = np.bincount(buyer_pair[follower], minlength=len(keys))

    good, room = keys // n_a, keys % n_a
    gmv = np.round(gmv, 2)
    order = np.lexsort((room, -gmv, good))  # by good, then GMV descending, then anchor row
    start = np.searchsorted(good[order], np.arange(n_p + 1))
    total = np.diff(start)
    rank = np.arange(len(order)) - np.repeat(start[:-1], total)
    kept = order[rank < keep]
    indptr = np.concatenate([[0], np.cumsum(np.minimum(total, keep))]).astype(np.int64)
    return Sellers(indptr, room[kept].astype(np.int32), np.rint(orders[kept]).astype(np.int32),
                   np.rint(units[kept]).astype(np.int32), gmv[kept], buyers[kept].astype(np.int32),
                   fan_buyers[kept].astype(np.int32), total.astype(np.int32))


def low_stock(stock: int | None, sales_7d: int) -> bool | None:
    """Stock below the last 7 days' sales (units): at last week's pace it runs out within a week. None when the
    stock is unknown (an optional column of the contract)."""
    return None if stock is None else stock < sales_7d


def days_of_stock(stock: int | None, sales_7d: int) -> float | None:
    """Days the stock lasts at the last 7 days' pace (None: stock unknown, or nothing sold in 7 days)."""
    if stock is None or sales_7d <= 0:
        return None
    return round(stock / (sales_7d / 7), 1)


# -- the artifact's copy -----------------------------------------------------------------------------------

DAILY_FILES = ("indptr", "day", "orders", "units", "gmv")
SELLER_FILES = ("indptr", "anchor", "orders", "units", "gmv", "buyers", "fan_buyers", "total")


def save_arrays(daily: DailySales, sellers: Sellers) -> dict[str, np.ndarray]:
    """The arrays as the artifact's files (``evidence/...``), by relative path."""
    out = {f"evidence/daily_{name}.npy": getattr(daily, name) for name in DAILY_FILES}
    out |= {f"evidence/sellers_{name}.npy": getattr(sellers, name) for name in SELLER_FILES}
    return out


def manifest_entry(daily: DailySales, sellers: Sellers, keep: int) -> dict[str, Any]:
    return {"timezone": TIMEZONE, "days": daily.days, "first_day": day_label(daily.first_day),
            "last_day": day_label(daily.first_day + daily.days - 1), "top_sellers": keep,
            "daily_cells": len(daily.day), "seller_rows": len(sellers.anchor),
            "conversion": "buyers of the good among the room's followers / the room's followers"}


@dataclass
class SellerPage:
    """A page of a good's sellers: positions into the good's stored sellers, best first by the sort."""

    rows: np.ndarray  # anchor rows
    orders: np.ndarray
    units: np.ndarray
    gmv: np.ndarray
    buyers: np.ndarray
    fan_buyers: np.ndarray
    fans: np.ndarray
    conversion: np.ndarray
    gmv_rank: np.ndarray  # 1-based rank by GMV among all the good's sellers in the window
    matched: int  # kept sellers that pass the filters
    total: int  # every room that sold the good in the window


class Evidence:
    """The artifact's evidence arrays, read by model row (memory-mapped; a request slices one good)."""

    def __init__(self, files: dict[str, np.ndarray], entry: dict[str, Any]) -> None:
        self.entry = entry
        self.days = int(entry["days"])
        self.first_day = int(np.datetime64(entry["first_day"], "D").astype(np.int64))
        self.daily = DailySales(self.first_day, self.days,
                                *(files[f"evidence/daily_{n}.npy"] for n in DAILY_FILES))
        self.sellers = Sellers(*(files[f"evidence/sellers_{n}.npy"] for n in SELLER_FILES))

    @property
    def dates(self) -> list[str]:
        return [day_label(self.first_day + d) for d in range(self.days)]

    def trend(self, product: int, days: int | None = None) -> dict[str, Any]:
        """The good's last `days` (all by default) Beijing days, zeros where it sold nothing: dates, orders,
        units and GMV, and their totals over those days."""
        days = self.days if days is None else min(days, self.days)
        d = self.daily
        lo, hi = int(d.indptr[product]), int(d.indptr[product + 1])
        out = {name: np.zeros(self.days, dtype) for name, dtype in
               (("orders", np.int64), ("units", np.int64), ("gmv", np.float64))}
        at = np.asarray(d.day[lo:hi], np.int64)
        out["orders"][at] = d.orders[lo:hi]
        out["units"][at] = d.units[lo:hi]
        out["gmv"][at] = d.gmv[lo:hi]
        cut = self.days - days
        out = {name: values[cut:] for name, values in out.items()}
        totals = {"orders": int(out["orders"].sum()), "units": int(out["units"].sum()),
                  "gmv": round(float(out["gmv"].sum()), 2)}
        return {"dates": self.dates[cut:], **out, "totals": totals}

    def seller_page(self, product: int, fans: np.ndarray, tier: np.ndarray, *, sort: SellerSort = "gmv",
                    k: int = 20, offset: int = 0, tier_is: str | None = None,
                    min_fans: int | None = None) -> SellerPage:
        """The good's sellers sorted by `sort` (descending; ties by GMV rank), filtered by the room's tier and
        fans. Conversion: buyers of the good among the room's followers / the room's followers (0 without
        followers)."""
        s = self.sellers
        lo, hi = int(s.indptr[product]), int(s.indptr[product + 1])
        at = np.arange(lo, hi)
        rows = np.asarray(s.anchor[lo:hi], np.int64)
        room_fans = np.asarray(fans, np.int64)[rows]
        keep = np.ones(len(at), bool)
        if tier_is is not None:
            keep &= np.asarray(tier)[rows] == tier_is
        if min_fans is not None:
            keep &= room_fans >= min_fans
        at, rows, room_fans = at[keep], rows[keep], room_fans[keep]
        fan_buyers = np.asarray(s.fan_buyers[at], np.int64)
        conversion = np.divide(fan_buyers, room_fans, out=np.zeros(len(at)), where=room_fans > 0)
        gmv_rank = at - lo + 1
        key = {"gmv": -gmv_rank, "orders": s.orders[at], "sales": s.units[at], "conversion": conversion,
               "fans": room_fans}[sort]
        order = np.lexsort((gmv_rank, -np.asarray(key, float)))[offset:offset + k]
        pick = at[order]
        return SellerPage(rows=rows[order], orders=np.asarray(s.orders[pick]), units=np.asarray(s.units[pick]),
                          gmv=np.asarray(s.gmv[pick]), buyers=np.asarray(s.buyers[pick]),
                          fan_buyers=fan_buyers[order], fans=room_fans[order], conversion=conversion[order],
                          gmv_rank=gmv_rank[order], matched=len(at), total=int(s.total[product]))


def load_evidence(files: dict[str, Any], manifest: dict[str, Any]) -> Evidence | None:
    """The evidence of a loaded artifact; None for artifacts before format 8 (no ``evidence`` entry)."""
    entry = manifest.get("evidence")
    return None if not entry else Evidence(files, entry)

