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
