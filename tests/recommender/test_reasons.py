"""How reasons write yuan: as the selection center writes them, and every digit grouped."""

from __future__ import annotations

import pytest

from recommender import reasons
from recommender.reasons import yuan


@pytest.mark.parametrize(("amount", "text"), [(8560, "¥8,560"), (12_000, "¥1.2万"), (13_268_000, "¥1,326.8万"),
                                              (150_000_000, "¥1.5亿")])
def test_yuan_below_ten_thousand_in_yuan_above_in_wan_with_thousands_grouped(amount: float, text: str):
    assert yuan(amount) == text


@pytest.mark.parametrize(("days", "supported", "text", "value"), [
    (12.7, True, "新人主播扶持，入驻 12 天", 12), (12.7, False, "新人主播，入驻 12 天", 12),
    (0.4, True, "新人主播扶持，入驻不到 1 天", 0), (-2.5, True, "新人主播扶持，入驻不到 1 天", 0),
    (None, True, "新人主播扶持", 0), (float("nan"), False, "新人主播", 0)])
def test_a_new_anchors_reason_says_its_age_as_the_figure_it_cites(days, supported, text, value):
    """An account created after the snapshot (clock skew) reads as less than a day old, never a negative age."""
    assert reasons.new_anchor(days, supported) == {"code": "new_anchor", "text": text, "value": value}


@pytest.mark.parametrize(("make", "days", "text", "value"), [
    (reasons.new_goods, 3.9, "新品，上架 3 天", 3), (reasons.new_goods, 0.2, "新品，上架不到 1 天", 0),
    (reasons.new_shop, 40.0, "新店扶持，开店 40 天", 40), (reasons.new_shop, -0.5, "新店扶持，开店不到 1 天", 0)])
def test_new_goods_and_new_shops_say_their_age_as_new_anchors_do(make, days, text, value):
    """The probe saw 新品，上架 0 天 beside 入驻不到 1 天 on one page."""
    got = make(days)
    assert got["text"] == text and got["value"] == value


def test_a_room_without_fans_is_not_said_to_be_estimated_from_its_fans():
    assert "粉丝构成" in reasons.anchor_untried_category("食品", 120)["text"]
    text = reasons.anchor_untried_category("食品", 0)["text"]
    assert "粉丝构成" not in text and text == "TA近30天没有带货食品，预估来自同类直播间的销量（TA还没有粉丝）"
