"""The trend blend: what sells now, where the fan shops, on top of the vectors' taste."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recommender.artifact import load_model
from recommender.contract import load_snapshot
from recommender.trend import (
    TrendConfig,
    blend,
    category_codes,
    fan_category_log_share,
    fan_rebuys,
    product_trend,
)


@pytest.fixture(scope="module")
def market(small_snapshot):
    return load_snapshot(small_snapshot)


def test_an_order_counts_half_after_one_half_life(market):
    h = 5.0
    got = product_trend(market, h)
    o = market.purchases
    age = (market.snapshot_time - o["ordered_at"]).dt.total_seconds() / 86400
    decayed = (0.5 ** (age / h)).groupby(o["product"]).sum().reindex(range(len(market.product_ids)), fill_value=0)
    want = np.log1p(decayed.to_numpy())
    np.testing.assert_allclose(got, want / want.max(), rtol=1e-5, atol=1e-6)
    assert got.max() == pytest.approx(1.0) and got.min() >= 0


def test_a_short_half_life_ranks_this_weeks_sellers_over_last_months(market):
    o = market.purchases
    recent = set(o.loc[o["ordered_at"] >= market.snapshot_time - pd.Timedelta(days=2), "product"])
    old_only = set(o["product"]) - set(o.loc[o["ordered_at"] >= market.snapshot_time - pd.Timedelta(days=20),
                                              "product"])
    trend = product_trend(market, 1.0)
    assert recent and old_only
    assert np.median(trend[list(recent)]) > np.max(trend[list(old_only)])


def test_category_shares_are_finite_distributions_even_for_categories_nobody_bought(market):
    category, labels = category_codes(market)
    extra = len(labels) + 1  # a category with no goods and no purchases
    log_share = fan_category_log_share(market, category, extra, smoothing=0.1)
    assert np.isfinite(log_share).all()
    np.testing.assert_allclose(np.exp(log_share.astype(np.float64)).sum(axis=1), 1.0, rtol=1e-5)
    o = market.purchases
    fan = int(o["fan"].value_counts().index[0])  # the busiest fan: her favourite category has the largest share
    favourite = pd.Series(category[o.loc[o["fan"] == fan, "product"]]).value_counts().index[0]
    assert int(np.argmax(log_share[fan])) == favourite


def test_with_no_weights_the_blend_orders_goods_as_the_taste_does():
    rng = np.random.default_rng(0)
    taste = rng.normal(size=(5, 40)).astype(np.float32)
    trend, category = rng.random(40).astype(np.float32), rng.integers(0, 3, 40)
    share = np.log(rng.dirichlet(np.ones(3), 5)).astype(np.float32)
    off = blend(taste, trend, share, category, TrendConfig(weight=0, category_weight=0))
    np.testing.assert_array_equal(np.argsort(-off, axis=1), np.argsort(-taste, axis=1))
    heavy = blend(taste, trend, share, category, TrendConfig(weight=100, category_weight=0))
    np.testing.assert_array_equal(np.argsort(-heavy, axis=1)[:, 0], np.full(5, np.argmax(trend)))


def test_a_fans_own_order_counts_half_after_one_rebuy_half_life(market):
    h = 20.0
    got = fan_rebuys(market, h)
    o = market.purchases  # refunds are not purchases
    age = (market.snapshot_time - o["ordered_at"]).dt.total_seconds() / 86400
    want = (0.5 ** (age / h)).groupby([o["fan"], o["product"]]).sum()
    assert got.shape == (len(market.fan_ids), len(market.product_ids)) and got.nnz == len(want)
    fans, goods = want.index.get_level_values(0).to_numpy(), want.index.get_level_values(1).to_numpy()
    np.testing.assert_allclose(np.asarray(got[fans, goods]).ravel(), want.to_numpy(), rtol=1e-5)


def test_rebuys_lift_exactly_the_goods_the_fan_bought_by_weight_x_log1p():
    rng = np.random.default_rng(1)
    taste = rng.normal(size=(4, 30)).astype(np.float32)
    trend, category = rng.random(30).astype(np.float32), rng.integers(0, 3, 30)
    share = np.log(rng.dirichlet(np.ones(3), 4)).astype(np.float32)
    rebuys = sp.random(4, 30, density=0.2, random_state=2, format="csr", dtype=np.float32) * 3
    cfg = TrendConfig(rebuy_weight=0.7)
    without = blend(taste, trend, share, category, cfg)  # no rebuys given: the term is off
    np.testing.assert_array_equal(without, blend(taste, trend, share, category, cfg.model_copy(
        update={"rebuy_weight": 0.0}), rebuys))
    lifted = blend(taste, trend, share, category, cfg, rebuys)
    np.testing.assert_allclose(lifted - without, 0.7 * np.log1p(rebuys.toarray()), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(blend(taste, trend, share, category, cfg, rebuys.toarray()), lifted, rtol=1e-6)


def test_the_model_scores_fans_with_the_blend_it_was_trained_with(small_artifact, market):
    model = load_model(small_artifact)
    assert model.trend == TrendConfig()  # the defaults, recorded in the manifest
    o = market.purchases
    fans = np.unique(np.r_[np.arange(0, 60, 7), o["fan"].value_counts().index[:5].to_numpy()])
    taste = np.asarray(model.vectors["fan"][fans]) @ np.asarray(model.vectors["product"]).T
    rebuys = fan_rebuys(market, model.trend.rebuy_half_life_days)[fans]
    want = blend(taste, np.asarray(model.product_trend), np.asarray(model.fan_category[fans]),
                 np.asarray(model.product_category), model.trend, rebuys)
    np.testing.assert_allclose(model.fan_scores(fans), want, rtol=1e-5, atol=1e-6)
    assert (np.argsort(-model.fan_scores(fans), axis=1)[:, :20] != np.argsort(-taste, axis=1)[:, :20]).any()
    # the fans' own goods rank higher, on average, with their rebuys than by taste and trend alone
    no_rebuy = model.fan_scores(fans) - model.trend.rebuy_weight * np.log1p(rebuys.toarray())
    bought = rebuys.toarray() > 0
    rank = lambda s: np.argsort(np.argsort(-s, axis=1), axis=1)  # noqa: E731
    assert rank(model.fan_scores(fans))[bought].mean() < rank(no_rebuy)[bought].mean()


def test_an_artifact_trained_without_rebuys_keeps_no_rebuy_table(small_snapshot, tmp_path):
    from training.config import TrainConfig
    from training.trainer import train

    config = TrainConfig().model_copy(update={"trend": TrendConfig(rebuy_weight=0.0)})
    model = load_model(train(small_snapshot, tmp_path / "m", config))
    assert model.rebuys is None and not model.manifest["rebuy"] and model.manifest["counts"]["rebuy_pairs"] == 0
    assert not list((tmp_path / "m" / "trend").glob("rebuy_*"))
    fans = np.arange(5)
    taste = np.asarray(model.vectors["fan"][fans]) @ np.asarray(model.vectors["product"]).T
    np.testing.assert_allclose(model.fan_scores(fans), blend(
        taste, np.asarray(model.product_trend), np.asarray(model.fan_category[fans]),
        np.asarray(model.product_category), model.trend), rtol=1e-5)
