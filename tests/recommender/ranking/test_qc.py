"""品控 within the gates: a shop that refunds more, rates lower or breaks more rules ranks below an otherwise equal
one, and the pick says so."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from recommender.artifact import load_model
from recommender.columns import Columns
from recommender.ranking import Ranker, RankingConfig
from recommender.ranking.catalog import Goods
from recommender.ranking.qc import qc_factor


def goods_with(refund, rating, violations) -> Goods:
    n = len(refund)
    goods = Goods.of(np.full(n, 10.0), np.full(n, 0.2), np.zeros(n, np.int64), ["美妆"], np.zeros(n, bool),
                     np.zeros(n, bool))
    goods.refund[:], goods.shop_rating[:], goods.violations[:] = refund, rating, violations
    return goods


def test_the_factor_keeps_what_refunds_leave_and_weighs_the_rating_and_the_record():
    goods = goods_with([0.0, 0.149, 0.05, 0.0], [5.0, 4.0, 4.7, 5.0], [0, 2, 0, 1])
    factor = qc_factor(goods, RankingConfig())
    assert factor == pytest.approx([1.0, 0.851 * 0.8 * 0.81, 0.95 * 0.94, 0.9])
    assert qc_factor(goods, RankingConfig(qc_weight=0)).tolist() == [1.0] * 4
    assert qc_factor(goods, RankingConfig(qc_weight=2)) == pytest.approx(factor ** 2)
    assert qc_factor(goods, RankingConfig(violation_penalty=0.0))[3] == 1.0


def test_unknown_quality_costs_nothing():
    """A catalogue without the quality columns (a retailer's log) reads no refunds, 5 stars, no violations."""
    unknown = Goods.of(np.ones(2), np.ones(2), np.zeros(2, np.int64), ["美妆"], np.zeros(2, bool), np.zeros(2, bool))
    assert qc_factor(unknown, RankingConfig()).tolist() == [1.0, 1.0]


def _with_shop(artifact, product: int, refund: float, rating: float, violations: int):
    """The model with one good's shop made worse, still inside every gate."""
    model = load_model(artifact)
    p = model.columns.products
    changed = {name: np.where(np.arange(p.rows) == product, value, p.numbers(name, np.nan)) for name, value in
               (("refund_rate", refund), ("shop_rating", rating), ("merchant_violations", violations))}
    model.columns = dataclasses.replace(model.columns, products=Columns({**p, **changed}, p.rows))
    return model


def test_a_worse_shop_inside_the_gates_ranks_below_what_it_did_and_the_pick_says_why(small_artifact):
    """The probe: goods moved to a 14.9%-refund, 4.0-star, 2-violation shop ranked as well as before, or better."""
    anchor, model = 3, load_model(small_artifact)
    before = Ranker(model).picks(anchor, 20).items
    good = before[1].product
    worse = _with_shop(small_artifact, good, 0.149, 4.0, 2)
    ranker = Ranker(worse)
    assert ranker.gate[good]  # still inside every gate
    after = ranker.picks(anchor, 100).items
    rank = [p.product for p in after].index(good)
    was, shown = before[1].breakdown, after[rank]
    assert rank >= 1 and shown.score == pytest.approx(before[1].score * shown.breakdown["qc_factor"] / was[
        "qc_factor"], rel=1e-3)  # the same good, its score down by the factor: 0.55 against about 0.95
    assert shown.breakdown["qc_factor"] == pytest.approx(0.851 * 0.8 * 0.81, abs=1e-4)
    assert shown.breakdown["qc_factor"] < was["qc_factor"]
    # the yuan are the estimate before refunds, as before: the factor orders the picks, it is not money
    assert shown.breakdown["expected_commission_30d"] == pytest.approx(was["expected_commission_30d"], rel=1e-6)
    caution = [r for r in shown.reasons if r["code"] == "quality_control"]
    assert caution and caution[0]["text"].startswith("品控降权 45%：退款率 15%，店铺评分 4.0 分，违规 2 次")
    # exactly a fifth (4.0 stars, nothing else) is "a fifth or more": named too
    edge = Ranker(_with_shop(small_artifact, good, 0.0, 4.0, 0)).picks(anchor, 100).items
    said = next(p for p in edge if p.product == good)
    assert said.breakdown["qc_factor"] == 0.8 and any(r["code"] == "quality_control" for r in said.reasons)
    # with the factor off, the worse shop ranks where the clean one did
    off = Ranker(worse, RankingConfig(qc_weight=0)).picks(anchor, 20).items
    assert [p.product for p in off] == [p.product for p in Ranker(model, RankingConfig(qc_weight=0)).picks(
        anchor, 20).items]


def test_a_small_refund_rate_is_cited_as_the_card_shows_it_and_one_that_rounds_to_nothing_is_not():
    """"品控降权 21%：退款率 0%" cited a 0.2% refund rate as a cost (probe)."""
    from recommender import reasons

    said = reasons.quality_control(0.79, 0.002, 4.9, 2)["text"]
    assert said == "品控降权 21%：退款率 0.2%，店铺评分 4.9 分，违规 2 次"
    assert reasons.quality_control(0.79, 0.0004, 4.9, 2)["text"] == "品控降权 21%：店铺评分 4.9 分，违规 2 次"
    assert reasons.quality_control(0.5, 0.25, 5.0, 0)["text"] == "品控降权 50%：退款率 25%"
    assert reasons.quality_control(0.5, 0.25, 4.96, 0)["text"] == "品控降权 50%：退款率 25%"  # 4.96 shows as 5.0
