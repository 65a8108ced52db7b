"""A good's evidence: daily sales by Beijing day and its sellers by GMV, checked against pandas' own time zones
and group-bys over the snapshot, and against orders planted to cross a Beijing midnight."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from recommender.contract import load_snapshot
from recommender.evidence import (
    Evidence,
    beijing_day,
    daily_sales,
    days_of_stock,
    low_stock,
    manifest_entry,
    save_arrays,
    top_sellers,
)


@pytest.fixture(scope="module")
def market(small_snapshot):
    return load_snapshot(small_snapshot)


def beijing_dates(times: pd.Series) -> pd.Series:
    """What pandas says the Beijing date of a naive UTC time is."""
    return times.dt.tz_localize("UTC").dt.tz_convert("Asia/Shanghai").dt.strftime("%Y-%m-%d")


def test_a_beijing_day_starts_at_16_00_utc_the_day_before():
    times = pd.Series(pd.to_datetime(["2026-10-30 15:59:59", "2026-10-30 16:00:00", "2026-10-31 00:00:00",
                                      "2024-07-01 12:00:00"]))
    labels = [str(np.datetime64(int(d), "D")) for d in beijing_day(times)]
    assert labels == ["2026-10-30", "2026-10-31", "2026-10-31", "2024-07-01"]
    assert labels == beijing_dates(times).tolist()


def test_every_orders_beijing_day_agrees_with_pandas_time_zones(market):
    times = market.orders["ordered_at"]
    labels = pd.Series(beijing_day(times).astype("datetime64[D]")).astype(str)
    assert (labels.to_numpy() == beijing_dates(times).to_numpy()).all()


def window(market, days: int = 30) -> tuple[pd.DataFrame, list[str]]:
    """The unrefunded orders of the last `days` Beijing dates up to the snapshot's, with their date."""
    last = pd.Timestamp(beijing_dates(pd.Series([market.snapshot_time]))[0])
    dates = [str((last - pd.Timedelta(days=d)).date()) for d in range(days - 1, -1, -1)]
    o = market.purchases.assign(date=beijing_dates(market.purchases["ordered_at"]))
    return o[o["date"].isin(dates)], dates


def test_daily_sales_equal_a_group_by_of_the_orders_by_beijing_date(market):
    daily = daily_sales(market, 30)
    o, dates = window(market)
    assert str(np.datetime64(daily.first_day, "D")) == dates[0]
    expected = o.groupby(["product", "date"]).agg(orders=("order_id", "size"), units=("quantity", "sum"),
                                                 gmv=("amount", "sum"))
    good = np.repeat(np.arange(len(daily.indptr) - 1), np.diff(daily.indptr))
    got = pd.DataFrame({"product": good, "date": np.array(dates)[daily.day], "orders": daily.orders,
                        "units": daily.units, "gmv": daily.gmv}).set_index(["product", "date"])
    assert len(got) == len(expected) and got.index.is_unique
    joined = got.merge(expected, left_index=True, right_index=True, how="outer", suffixes=("", "_want"))
    assert (joined["orders"] == joined["orders_want"]).all()
    assert (joined["units"] == joined["units_want"]).all()
    np.testing.assert_allclose(joined["gmv"], joined["gmv_want"], atol=0.006)
    assert daily.day.dtype == np.int16 and daily.orders.dtype == np.int32


def test_refunded_orders_and_days_before_the_window_are_left_out(market):
    o = market.orders.copy()
    row = int(np.flatnonzero(~o["refunded"].fillna(False).to_numpy(bool))[-1])
    good = int(o["product"].iloc[row])
    before = daily_sales(market, 30)
    flags = o["refunded"].fillna(False).to_numpy(bool) | (o.index == row)
    refunded = dataclasses.replace(market, orders=o.assign(refunded=flags))
    refunded.__dict__.pop("purchases", None)  # a fresh cached property for the changed table
    after = daily_sales(refunded, 30)
    lo, hi = before.indptr[good], before.indptr[good + 1]
    assert after.orders[after.indptr[good]:after.indptr[good + 1]].sum() == before.orders[lo:hi].sum() - 1
    one_day = daily_sales(market, 1)
    assert set(one_day.day.tolist()) == {0}
    o_last, _ = window(market, 1)
    assert one_day.orders.sum() == len(o_last)


def test_an_order_just_after_beijing_midnight_counts_on_the_new_day(market):
    """Two orders 2 seconds apart around 16:00 UTC fall on two Beijing days (a UTC day would put them on one)."""
    o = market.orders
    last = beijing_day(market.snapshot_time)[0]
    midnight = pd.Timestamp(np.datetime64(int(last - 3), "D")) - pd.Timedelta(hours=8)  # UTC instant of 00:00 BJ
    planted = o.iloc[:2].assign(order_id=["planted-1", "planted-2"], product=0, quantity=1, amount=10.0,
                                refunded=False,
                                ordered_at=[midnight - pd.Timedelta(seconds=1), midnight + pd.Timedelta(seconds=1)])
    m = dataclasses.replace(market, orders=pd.concat([o[o["product"] != 0], planted], ignore_index=True))
    m.__dict__.pop("purchases", None)
    daily = daily_sales(m, 30)
    lo, hi = daily.indptr[0], daily.indptr[1]
    assert daily.day[lo:hi].tolist() == [25, 26] and daily.orders[lo:hi].tolist() == [1, 1]


def test_top_sellers_are_each_goods_rooms_by_gmv_with_their_buyers_who_follow_them(market):
    sellers = top_sellers(market, 30, keep=3)
    o, _ = window(market)
    pairs = o.groupby(["product", "anchor"]).agg(orders=("order_id", "size"), units=("quantity", "sum"),
                                                gmv=("amount", "sum"), buyers=("fan", "nunique")).reset_index()
    follows = set(zip(market.follows["fan"], market.follows["anchor"], strict=True))
    fol = o[[(f, a) in follows for f, a in zip(o["fan"], o["anchor"], strict=True)]]
    fan_buyers = fol.groupby(["product", "anchor"])["fan"].nunique()
    pairs["fan_buyers"] = [int(fan_buyers.get((p, a), 0)) for p, a in zip(pairs["product"], pairs["anchor"],
                                                                           strict=True)]
    pairs["gmv"] = pairs["gmv"].round(2)
    totals = pairs.groupby("product").size()
    checked = 0
    for good in totals.index[:200]:
        want = pairs[pairs["product"] == good].sort_values(["gmv", "anchor"], ascending=[False, True]).head(3)
        lo, hi = sellers.indptr[good], sellers.indptr[good + 1]
        assert sellers.anchor[lo:hi].tolist() == want["anchor"].tolist()
        for name in ("orders", "units", "buyers", "fan_buyers"):
            assert getattr(sellers, name)[lo:hi].tolist() == want[name].tolist(), name
        np.testing.assert_allclose(sellers.gmv[lo:hi], want["gmv"], atol=0.006)
        assert sellers.total[good] == totals[good]
        checked += totals[good] > 3
    assert checked, "some goods have more sellers than are kept"
    assert (sellers.fan_buyers <= sellers.buyers).all() and sellers.fan_buyers.sum() > 0
    unsold = np.setdiff1d(np.arange(len(market.product_ids)), totals.index)
    assert (sellers.total[unsold] == 0).all() and (np.diff(sellers.indptr)[unsold] == 0).all()


def evidence(market, keep: int = 100) -> Evidence:
    daily, sellers = daily_sales(market, 30), top_sellers(market, 30, keep)
    return Evidence(save_arrays(daily, sellers), manifest_entry(daily, sellers, keep))


def test_a_goods_trend_has_every_day_of_the_window_zeros_included(market):
    ev = evidence(market)
    good = int(np.argmax(np.diff(ev.daily.indptr)))
    trend = ev.trend(good)
    o, dates = window(market)
    assert trend["dates"] == dates
    mine = o[o["product"] == good].groupby("date")
    assert trend["orders"].tolist() == [int(mine.size().get(d, 0)) for d in dates]
    np.testing.assert_allclose(trend["gmv"], [mine["amount"].sum().get(d, 0.0) for d in dates], atol=0.006)
    week = ev.trend(good, 7)
    assert week["dates"] == dates[-7:] and week["units"].tolist() == trend["units"][-7:].tolist()
    assert ev.trend(int(np.flatnonzero(np.diff(ev.daily.indptr) == 0)[0]))["orders"].sum() == 0


def test_seller_pages_sort_filter_and_define_conversion_over_the_rooms_followers(market):
    ev = evidence(market)
    good = int(np.argmax(ev.sellers.total))
    fans = np.bincount(market.follows["anchor"], minlength=len(market.anchor_ids))
    tier = market.anchors["tier"].astype(str).to_numpy()
    page = ev.seller_page(good, fans, tier, k=200)
    assert page.gmv.tolist() == sorted(page.gmv.tolist(), reverse=True)
    assert page.gmv_rank.tolist() == list(range(1, page.matched + 1))
    np.testing.assert_allclose(page.conversion, np.where(page.fans > 0, page.fan_buyers / np.maximum(page.fans, 1), 0))
    for sort, values in (("orders", "orders"), ("sales", "units"), ("fans", "fans"), ("conversion", "conversion")):
        by = ev.seller_page(good, fans, tier, sort=sort, k=200)
        got = getattr(by, values).tolist()
        assert got == sorted(got, reverse=True), sort
        assert sorted(by.rows.tolist()) == sorted(page.rows.tolist())
    first, second = ev.seller_page(good, fans, tier, k=2), ev.seller_page(good, fans, tier, k=2, offset=2)
    assert [*first.rows, *second.rows] == page.rows[:4].tolist()
    some_tier = tier[page.rows[0]]
    only = ev.seller_page(good, fans, tier, tier_is=some_tier, k=200)
    assert only.matched == int((tier[page.rows] == some_tier).sum()) and set(tier[only.rows]) == {some_tier}
    floor = int(np.median(page.fans))
    big = ev.seller_page(good, fans, tier, min_fans=floor, k=200)
    assert (big.fans >= floor).all() and big.matched == int((page.fans >= floor).sum())
    assert page.total == ev.sellers.total[good]


def test_low_stock_is_stock_below_the_last_weeks_sales():
    assert low_stock(9, 10) is True and low_stock(10, 10) is False and low_stock(0, 0) is False
    assert low_stock(None, 10) is None
    assert days_of_stock(14, 7) == 14.0 and days_of_stock(5, 0) is None and days_of_stock(None, 3) is None


def test_the_sellers_following_buyers_are_the_same_from_the_shared_followers_matrix(market):
    from recommender.interactions import follower_matrix

    alone, shared = top_sellers(market), top_sellers(market, followers=follower_matrix(market))
    assert alone.fan_buyers.sum() > 0
    for name in ("indptr", "anchor", "orders", "buyers", "fan_buyers", "total"):
        assert np.array_equal(getattr(alone, name), getattr(shared, name)), name
