"""The quality gates on their own: each gate alone, its limit inclusive, the reasons the product page gives."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.contract import gate_columns
from recommender.ranking.catalog import Goods, Rooms
from recommender.ranking.config import RankingConfig
from recommender.ranking.gates import anchors_gate, gate_failures, goods_gate

# one good per case: clean, on every limit, and just past each limit alone
CASES = {"clean": {}, "on_limits": {"refund": 0.15, "shop_rating": 4.0, "violations": 2, "stock": 1},
         "refund": {"refund": 0.1501}, "shop_rating": {"shop_rating": 3.99}, "violations": {"violations": 3},
         "stock": {"stock": 0}, "future": {"age_days": -3.0}}


def goods_of(cases: dict[str, dict]) -> Goods:
    n = len(cases)
    goods = Goods.of(np.full(n, 10.0), np.full(n, 0.2), np.zeros(n, np.int64), ["美妆"], np.zeros(n, bool),
                     np.zeros(n, bool))
    for row, values in enumerate(cases.values()):
        for name, value in values.items():
            getattr(goods, name)[row] = value
    return goods


def test_each_gate_alone_gates_out_and_the_limits_pass():
    passed = goods_gate(goods_of(CASES), RankingConfig())
    assert dict(zip(CASES, passed.tolist(), strict=True)) == {
        "clean": True, "on_limits": True, "refund": False, "shop_rating": False, "violations": False, "stock": False,
        "future": False}  # created after the snapshot (a split's cut-off): not offered


def test_the_stock_gate_can_be_turned_off_and_unknown_values_pass():
    assert goods_gate(goods_of(CASES), RankingConfig(require_stock=False)).tolist() == [
        True, True, False, False, False, True, False]
    unknown = Goods.of(np.ones(1), np.ones(1), np.zeros(1, np.int64), ["美妆"], np.zeros(1, bool), np.zeros(1, bool))
    assert goods_gate(unknown, RankingConfig()).tolist() == [True]


@pytest.mark.parametrize(("case", "reason"), [("refund", "refund_rate 15.01% > 15%"),
                                              ("shop_rating", "shop_rating 3.99 < 4"),
                                              ("violations", "merchant_violations 3 > 2"), ("stock", "out of stock"),
                                              ("future", "created after the snapshot")])
def test_the_product_page_names_exactly_the_gate_failed(case: str, reason: str):
    """Rates as percentages, and each figure with as many decimals as tell it from its limit (never "15.0% >
    15%")."""
    goods = goods_of(CASES)
    assert gate_failures(goods, RankingConfig(), list(CASES).index(case)) == [reason]
    assert gate_failures(goods, RankingConfig(), list(CASES).index("on_limits")) == []


def test_a_value_the_export_held_invalid_fails_its_gate_where_a_blank_one_passes():
    """The contract blanks an invalid value (a refund rate of 20.3, a stock of -3) and flags it: read as unknown,
    it passed every gate, and such goods were picked and put on boards."""
    goods = goods_of({"refund_as_percent": {}, "oversold": {}, "unknown": {}})
    goods.invalid[:2] = [1 << gate_columns("products").index("refund_rate"), 1 << gate_columns("products").index(
        "stock")]
    assert goods_gate(goods, RankingConfig()).tolist() == [False, False, True]
    assert gate_failures(goods, RankingConfig(), 0) == [
        "refund_rate invalid in the export (blanked; the training's warnings give the value)"]
    assert gate_failures(goods, RankingConfig(), 1)[0].startswith("stock invalid in the export")
    # with the stock gate off, an invalid stock no longer gates; an invalid refund rate still does
    assert goods_gate(goods, RankingConfig(require_stock=False)).tolist() == [False, True, True]
    assert gate_failures(goods, RankingConfig(require_stock=False), 1) == []


def test_a_price_far_from_what_buyers_paid_is_a_placeholder_and_gated_out():
    """A data engineer's probe: ¥999,999 on goods sold at about ¥50 passed, and topped a new room's picks at
    "预期佣金 ¥2,914/30天". Over ten times the most paid per unit, or under a tenth of the least, fails; a flash
    sale beside full-price orders (the most paid near the price), or a good with under 3 units sold, passes."""
    goods = goods_of({"placeholder": {}, "penny": {}, "flash_sale": {}, "on_limit": {}, "unsold": {}})
    goods.price[:] = [999_999.0, 0.01, 199.0, 100.0, 999_999.0]
    goods.paid_max[:] = [55.0, 60.0, 199.0, 10.0, np.nan]
    goods.paid_min[:] = [45.0, 50.0, 1.0, 10.0, np.nan]
    assert goods_gate(goods, RankingConfig()).tolist() == [False, False, True, True, True]
    assert gate_failures(goods, RankingConfig(), 0) == [
        "price ¥999,999.00 against at most ¥55.00 paid per unit in 30 days (over 10x: a placeholder price?)"]
    assert gate_failures(goods, RankingConfig(), 1) == [
        "price ¥0.01 against at least ¥50.00 paid per unit in 30 days (under 1/10: a placeholder price?)"]
    assert gate_failures(goods, RankingConfig(), 2) == [] and gate_failures(goods, RankingConfig(), 4) == []
    assert goods_gate(goods, RankingConfig(max_price_to_paid=1e9)).all()


def test_an_anchor_whose_export_held_an_invalid_rating_is_not_proposed():
    rooms = Rooms(rating=np.full(2, 5.0), violations=np.zeros(2), tier=np.full(2, ""), fans=np.ones(2),
                  gmv_30d=np.zeros(2), category_gmv=np.zeros((2, 1)), category_shares=np.zeros((2, 1)),
                  audience_column=np.zeros(1, np.int64),
                  invalid=np.array([1 << gate_columns("anchors").index("shop_rating"), 0], np.uint8))
    assert anchors_gate(rooms, RankingConfig()).tolist() == [False, True]


def test_each_anchor_gate_alone_and_its_limits():
    rating = np.array([4.8, 4.0, 3.99, 4.8])
    violations = np.array([0, 3, 0, 4])
    rooms = Rooms(rating=rating, violations=violations, tier=np.full(4, ""), fans=np.ones(4), gmv_30d=np.zeros(4),
                  category_gmv=np.zeros((4, 1)), category_shares=np.zeros((4, 1)),
                  audience_column=np.zeros(1, np.int64))
    assert anchors_gate(rooms, RankingConfig()).tolist() == [True, True, False, False]
    looser = RankingConfig(min_anchor_rating=3.5, max_anchor_violations=4)
    assert anchors_gate(rooms, looser).tolist() == [True, True, True, True]


@pytest.mark.parametrize(("refund", "text"), [(0.365, "refund_rate 36.5% > 15%"), (0.2, "refund_rate 20.0% > 15%"),
                                              (0.15004, "refund_rate 15.004% > 15%")])
def test_refund_rates_read_as_percentages(refund: float, text: str):
    goods = goods_of({"refund": {"refund": refund}})
    assert gate_failures(goods, RankingConfig(), 0) == [text]
