"""The ranking's settings: each one's range is enforced at both ends (what a share, a rating, an exponent or a
count can mean), unknown settings are refused, and every setting says what it does."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from recommender.ranking import RankingConfig

# setting: (lowest allowed or None, highest allowed or None, just below, just above); None: no bound that side
RANGES = {
    "candidates": (10, 5000, 9, 5001),
    "range_log_sd": (0.0, 3.0, -0.01, 3.01),
    "max_refund_rate": (0.0, 1.0, -0.01, 1.01),
    "min_shop_rating": (0.0, 5.0, -0.01, 5.01),
    "max_merchant_violations": (0, None, -1, None),
    "max_price_to_paid": (1.0, None, 0.99, None),
    "affinity_weight": (0.0, 10.0, -0.01, 10.01),
    "vector_affinity_weight": (0.0, 10.0, -0.01, 10.01),
    "price_weight": (0.0, 10.0, -0.01, 10.01),
    "commission_weight": (0.0, 10.0, -0.01, 10.01),
    "qc_weight": (0.0, 10.0, -0.01, 10.01),
    "violation_penalty": (0.0, 0.99, -0.01, 1.0),
    "small_merchant_gmv_30d": (0.0, None, -1.0, None),
    "new_shop_days": (0.0, None, -1.0, None),
    "new_goods_days": (0.0, None, -1.0, None),
    "support_boost": (0.0, None, -0.01, None),
    "support_share": (0.0, 1.0, -0.01, 1.01),
    "new_anchor_every": (0, 200, -1, 201),
    "max_category_share": (0.01, 1.0, 0.0, 1.01),
    "page_block": (5, 200, 0, 201),  # 5: the least that keeps the default support share (1 of 5)
    "max_outside_share": (0.0, 1.0, -0.01, 1.01),
    "home_share": (0.01, 1.0, 0.0, 1.01),
    "new_anchor_days": (0.0, None, -1.0, None),
    "new_anchor_gmv_30d": (0.0, None, -1.0, None),
    "new_anchor_max_violations": (0, None, -1, None),
    "room_activity_weight": (0.0, 10.0, -0.01, 10.01),
    "min_anchor_rating": (0.0, 5.0, -0.01, 5.01),
    "max_anchor_violations": (0, None, -1, None),
    "caution": (0.01, 0.99, 0.0, 1.0),
    "explore": (0.0, 1.0, -0.01, 1.01),
}


@pytest.mark.parametrize("name", sorted(RANGES))
def test_each_setting_s_range_is_enforced_at_both_ends(name):
    low, high, below, above = RANGES[name]
    for ok in (low, high):
        if ok is not None:
            assert getattr(RankingConfig(**{name: ok}), name) == ok
    for bad in (below, above):
        if bad is not None:
            with pytest.raises(ValidationError, match=name):
                RankingConfig(**{name: bad})


def test_unknown_settings_are_refused_and_every_setting_is_described():
    with pytest.raises(ValidationError):
        RankingConfig(max_category_shares=0.5)  # a typo must not fall back to the default
    assert all(f.description for f in RankingConfig.model_fields.values())
    numeric = {n for n, f in RankingConfig.model_fields.items() if f.annotation in (int, float, float | None)}
    assert numeric <= set(RANGES), numeric - set(RANGES)


@pytest.mark.parametrize("block", [1, 4])
def test_a_support_share_that_keeps_no_slot_of_a_block_is_refused_naming_both(block):
    """0.2 of a block of 4: floor(share x block) = 0 would switch the support off unseen."""
    with pytest.raises(ValidationError, match=f"support_share 0.2 .* page_block {block}"):
        RankingConfig(page_block=block)
    assert RankingConfig(page_block=block, support_share=0.0).support_share == 0.0
    assert RankingConfig(page_block=block, support_share=1 / block).page_block == block


@pytest.mark.parametrize("setting", ["support_boost", "price_weight", "small_merchant_gmv_30d", "new_shop_days"])
@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_an_unbounded_setting_is_still_a_finite_number(setting, value):
    """An infinite weight or threshold is a typo, and report.json could not record it (JSON reads it null)."""
    with pytest.raises(ValidationError, match="finite"):
        RankingConfig(**{setting: value})
