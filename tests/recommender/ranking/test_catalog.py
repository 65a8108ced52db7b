"""What a good earns per order: buyers pay for several units, less discounts, and commission is paid on that."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.contract import load_snapshot
from recommender.ranking.catalog import order_value


def _orders(rng: np.random.Generator, n_goods: int, packs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prices, GMV and orders of goods whose orders hold `packs` units on average (a geometric count per order)."""
    price = rng.uniform(10, 200, n_goods)
    orders = rng.integers(0, 60, n_goods)
    gmv = np.array([price[i] * rng.geometric(1 / packs[i], orders[i]).sum() for i in range(n_goods)], float)
    return price, gmv, orders.astype(float)


def test_goods_alike_take_their_category_s_units_per_order_not_their_own_noise():
    rng = np.random.default_rng(0)
    price, gmv, orders = _orders(rng, 2000, np.full(2000, 1.3))
    value = order_value(price, gmv, orders, np.zeros(2000, np.int64))
    ratio = value / price
    assert ratio.mean() == pytest.approx(1.3, abs=0.02)
    raw = np.divide(gmv, orders * price, out=np.full(2000, np.nan), where=orders > 0)
    assert ratio.std() < 0.1 * np.nanstd(raw)  # a good with 3 orders is not read as selling 2.3 units an order


def test_a_good_sold_in_packs_earns_its_own_units_per_order_as_its_orders_show():
    rng = np.random.default_rng(1)
    packs = np.where(rng.random(2000) < 0.2, 3.0, 1.2)  # a fifth sold in packs of about three
    price, gmv, orders = _orders(rng, 2000, packs)
    ratio = order_value(price, gmv, orders, np.zeros(2000, np.int64)) / price
    many = orders >= 30
    assert np.abs(ratio[many] - packs[many]).mean() < 0.2
    few = (orders > 0) & (orders <= 3)  # moved toward their own, not all the way
    assert np.abs(ratio[few & (packs == 3)] - 3.0).mean() > np.abs(ratio[many & (packs == 3)] - 3.0).mean()


def test_goods_without_orders_take_their_category_s_ratio_and_a_catalogue_without_sales_its_prices():
    price = np.array([10.0, 20.0, 30.0, 40.0])
    orders = np.array([10.0, 0.0, 10.0, 0.0])
    category = np.array([0, 0, 1, 1])
    value = order_value(price, np.array([150.0, 0.0, 600.0, 0.0]), orders, category)
    assert value[1] == pytest.approx(20.0 * 1.5) and value[3] == pytest.approx(40.0 * 2.0)
    assert np.array_equal(order_value(price, np.zeros(4), np.zeros(4), category), price)


def test_the_served_yuan_per_order_is_what_the_snapshot_s_buyers_paid(ranker, small_snapshot):
    """On the synthetic marketplace an order holds 1.33 units on average, 30% of them discounted: the picks'
    order_value over price is the buyers' paid amount per order over the list price, not 1."""
    m = load_snapshot(small_snapshot)
    o = m.orders[~m.orders["refunded"].to_numpy(bool)]
    price = m.products["price"].to_numpy(float)[o["product"].to_numpy()]
    paid = float(o["amount"].sum() / price.sum())
    ratios = [p.breakdown["order_value"] / p.breakdown["price"] for a in range(0, 40, 4)
              for p in ranker.picks(a, 20).items]
    assert paid > 1.2 and np.median(ratios) == pytest.approx(paid, rel=0.05)


def test_tiers_are_listed_from_the_top_down_and_others_after_them(ranker):
    """The 层级 filter listed 头部、尾部、腰部 (code-point order; probe)."""
    import dataclasses

    assert ranker.rooms.tiers == ["头部", "腰部", "尾部"]
    tier = np.array(["尾部", "KOC", "", "肩部", "头部", "腰部", "A级"])
    rooms = dataclasses.replace(ranker.rooms, tier=tier)
    assert rooms.tiers == ["头部", "肩部", "腰部", "尾部", "A级", "KOC"]
