"""Anchor boards (达人带货榜), the 新人主播 rule, the 扶持 thresholds and the 达人广场 filters, against the
arrays they read and against hand-made rooms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender.artifact import load_model
from recommender.ranking import AnchorFilters, Ranker, RankingConfig, audience_line
from recommender.ranking.anchor_boards import AnchorBoards
from recommender.ranking.catalog import Goods, Rooms, new_anchors


def rooms_of(n: int, fans: list[int] | None = None, tier: list[str] | None = None) -> Rooms:
    return Rooms(rating=np.full(n, 5.0), violations=np.zeros(n), tier=np.array(tier or [""] * n),
                 fans=np.array(fans or [1] * n), gmv_30d=np.zeros(n), category_gmv=np.zeros((n, 2)),
                 category_shares=np.zeros((n, 2)), audience_column=np.arange(2), new=np.zeros(n, bool))


def test_a_board_is_one_total_order_and_ties_get_consecutive_ranks():
    """GMV, then orders, then fans, then row: two rooms tied on everything are 1 and 2, and pages are slices."""
    gmv = np.zeros((5, 3, 2))
    orders = np.zeros((5, 3, 2), np.int64)
    gmv[:, 1, 0] = [61, 61, 61, 0, 90]  # 7 days, category "a"
    orders[:, 1, 0] = [3, 5, 3, 0, 1]
    rooms = rooms_of(5, fans=[10, 10, 20, 5, 1])
    boards = AnchorBoards(gmv, orders, rooms, np.ones(5, bool), ["a", "b"])
    page = boards.page(7, "gmv", "a", k=10)
    assert page.rows.tolist() == [4, 1, 2, 0] and page.rank.tolist() == [1, 2, 3, 4]
    assert page.total == 4 and page.next_offset is None  # room 3 sold nothing: not on the board
    by_orders = boards.page(7, "orders", None, k=10)
    assert by_orders.rows.tolist() == [1, 2, 0, 4]  # 5, then 3 and 3 (GMV tied: more fans first), then 1
    first, second = boards.page(7, "gmv", "a", k=2), boards.page(7, "gmv", "a", k=2, offset=2)
    assert first.rows.tolist() + second.rows.tolist() == page.rows.tolist()
    assert second.rank.tolist() == [3, 4] and first.next_offset == 2 and second.next_offset is None
    assert boards.page(7, "gmv", "b").total == 0 and boards.page(1, "gmv", None).total == 0


def test_gated_rooms_are_not_on_boards_and_a_tier_or_the_new_rule_narrows_a_board():
    gmv = np.zeros((4, 3, 2))
    gmv[:, 2, 1] = [40, 30, 20, 10]
    rooms = rooms_of(4, tier=["头部", "腰部", "腰部", "腰部"])
    rooms.new = np.array([False, False, True, True])
    boards = AnchorBoards(gmv, np.zeros((4, 3, 2), np.int64), rooms, np.array([True, True, False, True]), ["a", "b"])
    assert boards.page(30).rows.tolist() == [0, 1, 3]
    assert boards.page(30, tier="腰部").rows.tolist() == [1, 3]
    new = boards.page(30, new=True)
    assert new.rows.tolist() == [3] and new.rank.tolist() == [1]


def test_the_new_anchor_board_lists_new_anchors_that_have_not_sold_yet_after_those_that_have():
    """A merchant looking for new anchors to back finds them on the board even before their first sale: those
    that sold by the metric, then the rest by fans (a sales board alone was always empty on a fresh platform)."""
    gmv = np.zeros((5, 3, 2))
    gmv[:, 2, 0] = [0, 50, 0, 0, 70]  # 30 days, category "a"
    rooms = rooms_of(5, fans=[30, 10, 90, 60, 5], tier=["尾部", "尾部", "尾部", "腰部", "尾部"])
    rooms.new = np.array([True, True, True, True, False])
    rooms.main = np.array([0, 0, 1, 0, 0])  # room 2's main category is "b"
    gate = np.array([True, True, True, True, True])
    boards = AnchorBoards(gmv, np.zeros((5, 3, 2), np.int64), rooms, gate, ["a", "b"])
    page = boards.page(30, new=True, k=10)
    assert page.rows.tolist() == [1, 2, 3, 0] and page.rank.tolist() == [1, 2, 3, 4] and page.total == 4
    assert page.gmv.tolist() == [50, 0, 0, 0]
    assert boards.page(30, category="a", new=True).rows.tolist() == [1, 3, 0]  # of its main category
    assert boards.page(30, tier="腰部", new=True).rows.tolist() == [3]
    assert boards.page(30, new=True, k=2, offset=2).rows.tolist() == [3, 0]  # pages are slices of one order
    assert boards.page(30).rows.tolist() == [4, 1]  # the sales board itself is unchanged


def test_the_new_anchor_rule_is_three_fixed_bars():
    cfg = RankingConfig(new_anchor_days=90, new_anchor_gmv_30d=10_000, new_anchor_max_violations=0)
    age = np.array([10, 89.9, 90, 10, 10])
    gmv = np.array([0, 9_999, 0, 10_000, 0])
    violations = np.array([0, 0, 0, 0, 1])
    assert new_anchors(age, gmv, violations, cfg).tolist() == [True, True, False, False, False]
    looser = cfg.model_copy(update={"new_anchor_max_violations": 1})
    assert new_anchors(age, gmv, violations, looser).tolist() == [True, True, False, False, True]


def test_small_merchants_and_new_shops_follow_their_thresholds_not_a_share_of_the_catalogue(small_artifact):
    model = load_model(small_artifact)
    p = model.products
    for limit in (1_000, 10_000, 50_000):
        goods = Goods.from_model(model, RankingConfig(small_merchant_gmv_30d=limit, new_shop_days=0))
        assert goods.small.tolist() == (p["merchant_gmv_30d"].fillna(np.inf) < limit).tolist()
        assert not goods.new_shop.any()
    goods = Goods.from_model(model, RankingConfig(small_merchant_gmv_30d=0, new_shop_days=120))
    opened = pd.to_datetime(p["created_at"]).groupby(p["merchant_id"]).transform("min")
    days = (model.snapshot_time - opened).dt.total_seconds() / 86400
    assert goods.new_shop.tolist() == (days < 120).tolist() and 0 < goods.new_shop.sum() < len(p)
    assert not goods.small.any()
    assert (goods.supported == (goods.new | goods.new_shop)).all()


@pytest.fixture(scope="module")
def ranker(small_artifact):
    return Ranker(load_model(small_artifact), RankingConfig(new_anchor_days=2000))


def test_the_board_s_figures_are_the_artifact_s_per_window_and_category(ranker):
    model = ranker.model
    labels = model.audience.labels["category"]
    for w, window in enumerate((1, 7, 30)):
        for category in (None, ranker.goods.categories[2]):
            page = ranker.anchor_board(window, "gmv", category, k=200)
            col = slice(None) if category is None else labels.index(category)
            gmv = np.asarray(model.anchor_window_gmv)[:, w, col]
            gmv = gmv.sum(axis=1) if category is None else gmv
            np.testing.assert_allclose(page.gmv, gmv[page.rows], atol=0.01)
            assert (np.diff(page.gmv) <= 1e-9).all() and (page.gmv > 0).all()
            sold = np.flatnonzero((gmv > 0) & ranker.anchor_gate)
            assert sorted(page.rows.tolist()) == sold.tolist()


def test_the_new_anchor_board_holds_only_new_anchors(ranker):
    new = ranker.anchor_board(30, new=True, k=200)
    assert new.total > 0 and ranker.rooms.new[new.rows].all()
    assert (ranker.rooms.gmv_30d[new.rows] < ranker.config.new_anchor_gmv_30d).all()


def test_the_audience_line_names_the_largest_share_of_each_dimension_and_the_average_order(ranker):
    rooms = ranker.rooms
    rows = np.arange(0, len(rooms), 7)
    for row, line in zip(rows.tolist(), audience_line(rooms, rows), strict=True):
        for dim in ("gender", "age_band", "region"):
            shares = np.asarray(rooms.audience[dim][row])
            assert line[dim]["label"] == rooms.audience_labels[dim][int(shares.argmax())]
            assert f"{shares.max():.0%}" in line["text"]
        assert line["text"].endswith(f"客单价 ¥{rooms.order_value[row]:,.0f}")
        few = rooms.fans[row] < 30
        assert line["text"].count(" · ") == 3 + few
        assert line["text"].startswith(f"仅 {rooms.fans[row]} 位粉丝 · ") == few


def test_a_room_under_thirty_followers_says_how_few_before_its_shares():
    """Five followers, four of them women, are not "an audience of 80% women": the line opens with the count."""
    rooms = rooms_of(3, fans=[5, 30, 0])
    rooms.audience = {"gender": np.array([[0.8, 0.2], [0.8, 0.2], [0.0, 0.0]])}
    rooms.audience_labels = {"gender": ["女", "男"]}
    small, large, none = audience_line(rooms, np.array([0, 1, 2]))
    assert small["text"] == "仅 5 位粉丝 · 女 80%" and small["few_fans"] == 5
    assert large["text"] == "女 80%" and "few_fans" not in large
    assert none["text"] == "暂无粉丝" and none["few_fans"] == 0


def test_each_square_filter_keeps_exactly_the_rooms_that_pass_it(ranker):
    rooms = ranker.rooms
    labels = rooms.audience_labels
    category = 1
    gmv, _ = rooms.category_sales(np.arange(len(rooms)), category)
    fans, value = np.asarray(rooms.fans), np.asarray(rooms.order_value)
    cases = [
        (AnchorFilters(tier="腰部"), rooms.tier == "腰部"),
        (AnchorFilters(min_fans=50, max_fans=150), (fans >= 50) & (fans <= 150)),
        (AnchorFilters(gender="女", gender_share_min=0.6), rooms.audience["gender"][:, labels["gender"].index("女")]
         >= 0.6),
        (AnchorFilters(age_band="24-30"), rooms.audience["age_band"][:, labels["age_band"].index("24-30")] >= 0.2),
        (AnchorFilters(region="广东", region_share_min=0.12),
         rooms.audience["region"][:, labels["region"].index("广东")] >= 0.12),
        (AnchorFilters(audience_price_min=80, audience_price_max=150), (value >= 80) & (value <= 150)),
        (AnchorFilters(category_gmv_min=1000), gmv >= 1000),
        (AnchorFilters(new_only=True), rooms.new),
    ]
    for filters, expected in cases:
        got = filters.mask(rooms, category)
        assert got.tolist() == np.asarray(expected, bool).tolist(), filters
        assert 0 < got.sum() < len(rooms) or filters.new_only, filters
    page = ranker.anchors_for(int(np.flatnonzero(ranker.goods.category == category)[0]), 200,
                              filters=AnchorFilters(gender="女", gender_share_min=0.6, min_fans=50))
    shown = [it["anchor"] for it in page.items]
    assert shown and all(cases[2][1][a] and fans[a] >= 50 and ranker.anchor_gate[a] for a in shown)
