"""The statistics reasons cite equal what a direct count of the tables gives."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from recommender.contract import load_snapshot, paid_per_unit_range
from recommender.profiles import anchor_stats, audience_profile, product_stats


@pytest.fixture(scope="module")
def market(small_snapshot):
    return load_snapshot(small_snapshot)


def test_category_share_is_followers_who_bought_the_category_in_30_days(market):
    prof = audience_profile(market)
    now = market.snapshot_time
    a = int(np.argmax(prof.fans))
    fans = set(market.follows.loc[market.follows["anchor"] == a, "fan"])
    o = market.orders[(market.orders["ordered_at"] > now - pd.Timedelta(days=30)) & ~market.orders["refunded"]]
    cat = market.products["category"].to_numpy()[o["product"].to_numpy()]
    for c_idx, c in enumerate(prof.labels["category"]):
        buyers = set(o["fan"].to_numpy()[cat == c]) & fans
        assert prof.shares["category"][a, c_idx] == pytest.approx(len(buyers) / len(fans), abs=1e-6)


def test_demographic_shares_sum_to_one_for_anchors_with_fans(market):
    prof = audience_profile(market)
    has = prof.fans > 0
    for dim in ("gender", "age_band", "region"):
        assert np.allclose(prof.shares[dim][has].sum(axis=1), 1.0, atol=1e-5)
    assert set(prof.labels["gender"]) == {"女", "男"}


def test_spending_level_shares_count_followers_of_each_level_and_leave_out_those_unknown(market):
    prof = audience_profile(market)
    assert prof.labels["spending_level"] == ["消费水平 1 级", "消费水平 2 级", "消费水平 3 级"]  # low to high
    a = int(np.argmax(prof.fans))
    mine = market.fans.iloc[market.follows.loc[market.follows["anchor"] == a, "fan"].to_numpy()]
    said = mine["spending_level"]
    for level in (1, 2, 3):
        assert prof.shares["spending_level"][a, level - 1] == pytest.approx((said == level).sum() / len(mine),
                                                                             abs=1e-6)
    assert prof.shares["spending_level"][a].sum() == pytest.approx(said.notna().mean(), abs=1e-6)
    assert said.notna().mean() < 1


def test_a_spending_level_keeps_its_number_whatever_levels_the_snapshot_holds(market):
    """Labels are the contract's levels, not ranks among those present: one fan said to be at level 5 adds
    levels 4 and 5 and renames nothing."""
    fans = market.fans.copy()
    fans.loc[fans.index[0], "spending_level"] = 5
    labels = audience_profile(dataclasses.replace(market, fans=fans)).labels["spending_level"]
    assert labels == [f"消费水平 {k} 级" for k in range(1, 6)]


def test_without_a_spending_level_there_is_no_such_share(market):
    bare = dataclasses.replace(market, fans=market.fans.drop(columns="spending_level"))
    assert "spending_level" not in audience_profile(bare).shares


def test_demographic_counts_equal_a_direct_count_whichever_way_they_are_summed(market):
    """cell_sums counts each room's followers of each label, a missing value in no label, alike whether the
    dimensions share one joint table or (past its size limit) each gets its own pass."""
    import pandas as pd

    from recommender.arrays import cell_sums
    from recommender.interactions import follower_matrix

    fans = market.fans.copy()
    fans.loc[fans.index[::7], "region"] = None  # some fans never said where they live
    follows = follower_matrix(market)
    dims = ["gender", "age_band", "region"]
    factorized = [pd.factorize(fans[d], sort=True) for d in dims]
    cells = [(codes, len(uniques)) for codes, uniques in factorized]
    joint = dict(zip(dims, cell_sums(follows, cells), strict=True))
    apart = dict(zip(dims, cell_sums(follows, cells, limit=0), strict=True))
    a = int(np.argmax(np.diff(follows.indptr)))
    mine = fans.iloc[follows.indices[follows.indptr[a]:follows.indptr[a + 1]]]
    for d, (_, uniques) in zip(dims, factorized, strict=True):
        assert np.array_equal(joint[d], apart[d])
        direct = mine[d].value_counts()
        assert dict(zip(uniques, joint[d][a], strict=True)) == {k: direct.get(k, 0) for k in uniques}
    assert joint["region"][a].sum() == mine["region"].notna().sum() < len(mine)


def test_product_windows_match_a_direct_count(market):
    stats = product_stats(market)
    now = market.snapshot_time
    o = market.orders[~market.orders["refunded"]]
    for days in (1, 7, 30):
        inside = o[o["ordered_at"] > now - pd.Timedelta(days=days)]
        p = int(inside["product"].value_counts().index[0])
        mine = inside[inside["product"] == p]
        row = stats.iloc[p]
        assert row[f"sales_{days}d"] == mine["quantity"].sum()
        assert row[f"gmv_{days}d"] == pytest.approx(mine["amount"].sum(), abs=0.01)
        assert row[f"anchors_{days}d"] == mine["anchor"].nunique()


def test_top_board_rank_is_one_for_each_categorys_best_seller(market):
    stats = product_stats(market).assign(category=market.products["category"])
    for _, grp in stats[stats["sales_7d"] > 0].groupby("category"):
        best = grp.loc[grp["sales_7d"].idxmax()]
        assert best["rank_7d"] == 1
        assert (grp["rank_7d"] >= 1).all()
    assert (stats.loc[stats["sales_7d"] == 0, "rank_7d"] == 0).all()


def test_anchor_conversion_is_selling_over_shelving_anchors(market):
    stats = product_stats(market)
    shelved = stats["shelf_anchors"] > 0
    assert stats.loc[shelved, "anchor_conversion_30d"].between(0, 1).all()
    assert stats.loc[~shelved, "anchor_conversion_30d"].isna().all()


def test_anchor_stats_count_orders_per_room(market):
    stats = anchor_stats(market)
    kept = market.orders[~market.orders["refunded"]]
    assert stats["orders_all"].sum() == len(kept)


def test_statistics_columns_come_in_the_artifacts_order(market):
    from recommender.artifact.layout import ANCHOR_STATS, PRODUCT_STATS

    assert len(market.clicks) > 0
    paid = ["paid_unit_max_30d", "paid_unit_min_30d"]  # the placeholder-price gate's (models before them lack them)
    assert list(product_stats(market).columns) == ["product_id", *PRODUCT_STATS, *paid, "clicks_30d"]  # clicks
    without = dataclasses.replace(market, clicks=market.clicks.iloc[:0])
    assert list(product_stats(without).columns) == ["product_id", *PRODUCT_STATS, *paid]
    assert list(anchor_stats(market).columns) == ["anchor_id", *ANCHOR_STATS]


def test_the_most_and_least_paid_per_unit_are_each_goods_own_from_3_units():
    """Good 0 sold once at full price and twice in a flash sale (¥1 each); good 3 only 2 units; good 4 none."""
    product = np.array([0, 0, 1, 1, 1, 2, 3])
    amount = np.array([199.0, 2.0, 10.0, 30.0, 50.0, 9.0, 20.0])
    quantity = np.array([1, 2, 1, 3, 1, 5, 2])
    most, least = paid_per_unit_range(product, amount, quantity, 5)
    np.testing.assert_allclose(most[:3], [199.0, 50.0, 1.8])
    np.testing.assert_allclose(least[:3], [1.0, 10.0, 1.8])
    assert np.isnan(most[3:]).all() and np.isnan(least[3:]).all()
    # a gift (amount 0) says nothing of the price: neither the least paid nor the units counted
    most, least = paid_per_unit_range(np.array([0, 0, 0, 0]), np.array([0.0, 50.0, 50.0, 50.0]),
                                      np.array([5, 1, 1, 1]), 1)
    assert (most[0], least[0]) == (50.0, 50.0)


def test_a_goods_clicks_count_the_click_logs_last_30_days(market):
    old = market.clicks.iloc[:500].assign(clicked_at=market.snapshot_time - pd.Timedelta(days=31))
    market = dataclasses.replace(market, clicks=pd.concat([market.clicks, old], ignore_index=True))
    stats = product_stats(market).set_index("product_id")["clicks_30d"]
    c = market.clicks
    recent = c[c["clicked_at"] > market.snapshot_time - pd.Timedelta(days=30)]
    want = recent["product_id"].value_counts().reindex(stats.index, fill_value=0)
    assert stats.sum() == len(recent) > 0
    pd.testing.assert_series_equal(stats, want, check_names=False, check_dtype=False)


def test_statistics_from_shared_work_equal_those_computed_alone(market):
    """The trainer shares the followers matrix and one sort of the sold pairs between the statistics: the same
    figures as each function computing its own."""
    from recommender.interactions import anchor_fan_engagement, follower_matrix
    from recommender.profiles import sold_pairs

    sold = sold_pairs(market)
    pd.testing.assert_frame_equal(product_stats(market, sold=sold), product_stats(market))
    pd.testing.assert_frame_equal(anchor_stats(market, sold=sold), anchor_stats(market))
    alone, shared = audience_profile(market), audience_profile(market, follows=follower_matrix(market))
    assert np.array_equal(alone.fans, shared.fans) and np.array_equal(alone.buyers_30d, shared.buyers_30d)
    for dim in alone.shares:
        assert np.array_equal(alone.shares[dim], shared.shares[dim]), dim
    # the average order sums yuan in the matrix's order of fans: equal to the cent (the order of a float sum)
    from recommender.profiles import anchor_category_gmv, audience_order_value

    np.testing.assert_allclose(audience_order_value(market, follows=follower_matrix(market)),
                               audience_order_value(market), rtol=0, atol=0.01)
    assert anchor_category_gmv(market).sum() == pytest.approx(anchor_stats(market)["gmv_30d"].sum())
    engagement = anchor_fan_engagement(market), anchor_fan_engagement(market, follows=follower_matrix(market))
    assert (engagement[0] != engagement[1]).nnz == 0
