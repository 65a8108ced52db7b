"""What the ranker prepares once per model: which room sold which good last week, and each room's own categories."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.contract import load_snapshot
from recommender.ranking.catalog import Rooms
from recommender.ranking.ranker import sold_within


def test_sold_within_is_what_each_room_sold_in_the_last_days_of_the_snapshot(ranker, small_snapshot):
    """Checked against the snapshot's own orders, by timestamps (not the artifact's minutes)."""
    model = ranker.model
    m = load_snapshot(small_snapshot)
    orders = m.purchases  # unrefunded
    for days in (1, 7):
        since = model.snapshot_time - pd.Timedelta(days=days)
        recent = orders[pd.to_datetime(orders["ordered_at"]) >= since]
        anchors = model.anchor_ids.index(recent["anchor_id"].astype(str).to_numpy())
        goods = model.product_ids.index(recent["product_id"].astype(str).to_numpy())
        expected = np.unique(anchors.astype(np.int64) * len(model.product_ids) + goods)
        got = sold_within(model, days)
        assert got is not None and len(got) > 0
        assert np.setxor1d(got, expected).tolist() == [], days
    assert len(sold_within(model, 1)) < len(sold_within(model, 7))


def rooms_with(gmv: list[list[float]], main: list[int] | None) -> Rooms:
    """Rooms over three goods categories, each its own audience column."""
    gmv_ = np.asarray(gmv, float)
    n = len(gmv_)
    return Rooms(rating=np.full(n, 5.0), violations=np.zeros(n), tier=np.full(n, ""), fans=np.ones(n),
                 gmv_30d=gmv_.sum(axis=1), category_gmv=gmv_, category_shares=np.zeros_like(gmv_),
                 audience_column=np.arange(3), main=None if main is None else np.asarray(main, np.int64))


def test_a_rooms_own_categories_are_its_main_one_and_those_holding_the_home_share_of_its_gmv():
    rooms = rooms_with([[80.0, 15.0, 5.0], [0.0, 0.0, 0.0], [50.0, 50.0, 0.0]], main=[2, 1, -1])
    assert rooms.outside(0, 0.15).tolist() == [False, False, False]  # 80%, 15% (exactly the share), main
    assert rooms.outside(0, 0.16).tolist() == [False, True, False]
    assert rooms.outside(1, 0.15).tolist() == [True, False, True]  # no sales: the main category only
    assert rooms.outside(2, 0.15).tolist() == [False, False, True]  # no main category: by GMV alone
    assert rooms_with([[0.0, 0.0, 0.0]], main=[0]).outside(0, 0.15).tolist() == [False, True, True]
    assert rooms_with([[0.0, 0.0, 0.0]], main=None).outside(0, 0.15) is None  # nothing is its own
