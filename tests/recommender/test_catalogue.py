"""recommender.catalogue on catalogues planted here: growth, folding, ties, optional columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender.catalogue import Catalogue, ProductQuery, growth_7d

NOW = pd.Timestamp("2026-10-31")


def catalogue(rows: list[dict], ids: list | None = None, **columns) -> Catalogue:
    base = {"title": "商品", "category": "美妆", "merchant_id": 1, "price": 10.0, "commission_rate": 0.2,
            "created_at": NOW - pd.Timedelta(days=100)}
    products = pd.DataFrame([base | {k: v for k, v in r.items() if k not in STATS} for r in rows])
    for name, values in columns.items():
        products[name] = values
    stats = pd.DataFrame([{s: r.get(s, 0) for s in STATS} for r in rows])
    return Catalogue(np.array(ids if ids is not None else list(range(len(rows)))), products, stats, NOW)


STATS = ("sales_7d", "gmv_7d", "orders_7d", "orders_30d")


def test_growth_is_the_last_week_against_the_weekly_rate_before_it_smoothed():
    baseline, growth = growth_7d(np.array([0, 1, 30, 150, 20]), np.array([0, 1, 30, 150 + 230, 20 + 6]),
                                 np.array([100, 100, 100, 100, 10.0]))
    assert baseline.tolist() == [0, 0, 0, 70, 14]  # 230 orders over 23 days; 6 orders over the 3 days on sale
    assert growth == pytest.approx([0, 1 / 3, 10, 153 / 73 - 1, 23 / 17 - 1], abs=1e-4)
    _, young = growth_7d(np.array([5]), np.array([5]), np.array([2.0]))  # listed inside the week: no baseline
    assert young[0] == pytest.approx(8 / 3 - 1, abs=1e-4)


def test_ties_go_to_the_smaller_product_id_in_either_order():
    c = catalogue([{"price": 5.0}, {"price": 5.0}, {"price": 1.0}, {"price": 5.0}], ids=["b", "c", "z", "a"])
    assert c.search(ProductQuery(sort="price", order="asc")).rows.tolist() == [2, 3, 0, 1]
    assert c.search(ProductQuery(sort="price", order="desc")).rows.tolist() == [3, 0, 1, 2]


def test_keywords_fold_width_and_case_and_skip_title_spaces():
    c = catalogue([{"title": "ＬＯＲＥＡＬ 保湿 面霜"}, {"title": "洗面奶"}, {"title": "面 霜"}],
                  brand=[None, "Loreal", None])
    assert c.search(ProductQuery(q="loreal")).rows.tolist() == [0, 1]
    assert set(c.search(ProductQuery(q="面霜")).rows.tolist()) == {0, 2}
    assert c.search(ProductQuery(q="保湿面霜")).rows.tolist() == [0]
    assert c.search(ProductQuery(q="loreal 奶")).rows.tolist() == [1]  # every word, title or brand
    assert c.search(ProductQuery(brand="LOREAL")).rows.tolist() == [1]


def test_a_category_name_finds_the_category_s_goods_as_a_title_word_would():
    food = "食品/农产品"
    c = catalogue([{"title": "面霜", "sales_7d": 3}, {"title": "挂面", "category": food, "sales_7d": 9},
                   {"title": "美妆蛋", "category": "家居", "sales_7d": 1}, {"title": "大米", "category": food}])
    assert c.search(ProductQuery(q="美妆")).rows.tolist() == [2, 0]  # the title's 美妆蛋 first, then by sales
    assert c.search(ProductQuery(q="食品")).rows.tolist() == [1, 3]  # a part of 食品/农产品
    assert c.search(ProductQuery(q="食品 大米")).rows.tolist() == [3]  # every word, as always


def test_relevance_first_class_then_sales():
    c = catalogue([{"title": "好 面霜", "sales_7d": 9}, {"title": "面霜 大瓶", "sales_7d": 1},
                   {"title": "小 面霜", "sales_7d": 5}, {"title": "无关"}, {"title": "面霜", "sales_7d": 3}])
    page = c.search(ProductQuery(q="面霜"))
    assert (page.sort, page.order, page.total) == ("relevance", "desc", 4)
    assert page.rows.tolist() == [4, 1, 0, 2]
    assert c.search(ProductQuery(q="面霜", order="asc")).rows.tolist() == [2, 0, 1, 4]


def test_merchant_by_id_or_name_and_catalogues_without_optional_columns():
    c = catalogue([{"merchant_id": 7}, {"merchant_id": 8}], merchant_name=["美丽小店", None])
    assert c.search(ProductQuery(merchant="8")).rows.tolist() == [1]
    assert c.search(ProductQuery(merchant="美丽小店")).rows.tolist() == [0]
    bare = catalogue([{"refund_rate": 0.3}, {}]).search(ProductQuery(max_refund_rate=0.1, merchant="1"))
    assert bare.rows.tolist() == [1] and bare.total == 1


def test_paging_reports_the_next_offset_until_the_end():
    c = catalogue([{"sales_7d": i} for i in range(5)])
    assert [c.search(ProductQuery(), 2, o).next_offset for o in (0, 2, 4)] == [2, 4, None]
    assert c.search(ProductQuery(), 2, 2).rows.tolist() == [2, 1]


def test_commission_per_unit_is_rounded_half_up_to_the_cent_as_a_shop_rounds():
    """47.9 x 25% is ¥11.975: numpy's round said 11.98 and Python's 11.97 (the binary value sits just below the
    half), so a card showing 11.97 sorted above one showing 11.98 in the search."""
    from recommender.catalogue import commission_per_unit

    assert float(commission_per_unit(47.9, 0.25)) == 11.98
    got = commission_per_unit(np.array([47.9, 43.0, 23.3, 10.0, np.nan]), np.array([0.25, 0.25, 0.25, 0.3, 0.2]))
    np.testing.assert_array_equal(got, [11.98, 10.75, 5.83, 3.0, np.nan])


def test_a_good_s_id_finds_the_good_first_whatever_its_title():
    """A team pastes ids from a merchant's sheet: 6000000389 found nothing, though the good exists."""
    c = catalogue([{"title": "牛排 6000000002 装", "sales_7d": 50}, {"title": "苹果"}, {"title": "梨"}],
                  ids=[6000000001, 6000000002, 6000000003])
    assert c.search(ProductQuery(q="6000000002")).rows.tolist() == [1, 0]  # the id's good, then the title's
    # first even before a title that starts with the id and sells more (the review's case)
    c2 = catalogue([{"title": "6000000002 礼盒", "sales_7d": 50}, {"title": "苹果"}], ids=[6000000001, 6000000002])
    assert c2.search(ProductQuery(q="6000000002")).rows.tolist() == [1, 0]
    assert c2.search(ProductQuery(q="6000000002", order="asc")).rows.tolist() == [0, 1]
    # the id as written: not with a leading zero; a 19-digit id (Douyin's are) is found
    assert c2.search(ProductQuery(q="06000000002")).total == 0
    big = catalogue([{"title": "a"}, {"title": "b"}], ids=[3_712_345_678_901_234_567, 5])
    assert big.search(ProductQuery(q="3712345678901234567")).rows.tolist() == [0]
    assert big.search(ProductQuery(q="99999999999999999999")).total == 0  # beyond 64 bits: no id
    assert c.search(ProductQuery(q=" 6000000003 ")).rows.tolist() == [2]
    assert c.search(ProductQuery(q="6000000009")).total == 0 and c.search(ProductQuery(q="x1")).total == 0
    assert c.search(ProductQuery(q="6000000003", category="家居")).total == 0  # the filters still apply
    text = catalogue([{"title": "a"}, {"title": "b"}], ids=["sku-9", "sku-1"])
    assert text.search(ProductQuery(q="sku-1")).rows.tolist() == [1]


def test_a_refund_rate_the_export_held_invalid_passes_no_max_refund_rate():
    """A good whose refund rate was 20.3 in the export (blanked, its gate failed) was found by 退款率 ≤ 1%; a
    blank one still passes, as unknown passes the gate."""
    from recommender.contract import gate_columns

    bit = 1 << gate_columns("products").index("refund_rate")
    c = catalogue([{"refund_rate": np.nan}, {"refund_rate": np.nan}, {"refund_rate": 0.005}],
                  invalid_gates=np.array([bit, 0, 0], np.uint8))
    assert c.search(ProductQuery(max_refund_rate=0.01)).rows.tolist() == [1, 2]

