"""How reasons write yuan: as the selection center writes them, and every digit grouped."""

from __future__ import annotations

import pytest

from recommender.reasons import yuan


@pytest.mark.parametrize(("amount", "text"), [(8560, "¥8,560"), (12_000, "¥1.2万"), (13_268_000, "¥1,326.8万"),
                                              (150_000_000, "¥1.5亿")])
def test_yuan_below_ten_thousand_in_yuan_above_in_wan_with_thousands_grouped(amount: float, text: str):
    assert yuan(amount) == text
