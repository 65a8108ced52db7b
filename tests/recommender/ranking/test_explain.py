"""Reasons: formatted once per good and shared, never changed by what a caller does with a page."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from recommender import reasons
from recommender.artifact import load_model
from recommender.ranking import Ranker, RankingConfig
from tests.recommender.ranking.plain_rules import fit_reasons_every_cell
from tests.recommender.ranking.test_scorers import random_audience_scorer


def test_remembered_reasons_give_the_same_pages_and_do_not_leak_edits(ranker):
    def pages():
        return [(p.product, p.score, p.breakdown, p.reasons, p.supported)
                for anchor in range(0, 50, 3) for p in ranker.picks(anchor, 20, 0).items]

    explainer = ranker.explainer
    explainer.memo_size = 0
    explainer.forget()
    plain = pages()
    explainer.memo_size = 5  # a small memo starts over often
    assert pages() == plain
    explainer.memo_size = 10_000
    first = ranker.picks(0, 20).items
    first[0].reasons[-1]["text"] = "edited"
    first[0].supported.append("edited")
    assert pages() == plain


def test_a_pick_cites_its_room_s_audience_and_the_good_s_own_figures(ranker):
    anchor = 3
    for pick in ranker.picks(anchor, 20).items:
        codes = [r["code"] for r in pick.reasons]
        category = ranker.goods.category[pick.product]
        col = ranker.rooms.audience_column[category]
        share = round(float(ranker.rooms.category_shares[anchor, col]), 4)
        if "audience_match" not in codes:  # a 拓品类 reason citing the same share of fans stands for it
            assert pick.outside and pick.reasons[0]["value"] == share
            continue
        match = codes.index("audience_match")
        assert set(codes[:match]) <= {"outside_category", "audience_fit", "price_band_fit"}  # the room's first
        assert pick.reasons[match]["value"] == share
        assert "commission" in codes
        assert ("new_goods" in codes) == bool(ranker.goods.new[pick.product])
        assert ("small_merchant" in codes) == bool(ranker.goods.small[pick.product])


def test_no_pick_is_argued_for_by_0_percent_of_the_fans(ranker):
    """A room's picks deep in its list come from categories almost none of its fans buy: the category match is
    then no reason (it would read "你的粉丝中 0% 近30天购买过家电"); where the share shows as 1% or more it is."""
    zero = cited = 0
    for anchor in range(0, 50, 7):
        shares = ranker.rooms.category_shares[anchor]
        for pick in ranker.picks(anchor, 400).items:
            share = shares[ranker.rooms.audience_column[ranker.goods.category[pick.product]]]
            said = [r for r in pick.reasons if r["code"] == "audience_match"]
            if round(float(share), 2) == 0 or ranker.rooms.fans[anchor] < reasons.MIN_FANS_FOR_SHARES:
                zero += 1
                assert not said, (anchor, pick.product, said)
            elif not pick.outside:
                cited += 1
                assert len(said) == 1 and said[0]["value"] == round(float(share), 4)
    assert zero > 5 and cited > 5, (zero, cited)


def test_a_good_nobody_sold_this_week_but_fans_click_far_more_than_its_category_says_so(ranker):
    """The click log speaks for goods without a sale: a good with no seller in 7 days, at least 10 clicks, and at
    least twice its category's average clicks a day on sale (a good listed three days ago is compared by the
    day: against a month of its elders' clicks it could never qualify, probe) carries its count, its days and
    that ratio; a good with sales proof, or with ordinary clicks, does not."""
    goods = ranker.goods
    clicks = np.asarray(goods.clicks_30d, np.float64)
    days = np.clip(np.ceil(np.minimum(goods.age_days, 30)), 1, 30)
    rate = clicks / days
    mean = np.bincount(goods.category, rate) / np.bincount(goods.category)
    ratio = rate / mean[goods.category]
    told = young = 0
    for p in range(len(clicks)):
        why = {r["code"]: r for r in ranker.explainer.good(p)[2]}
        should = goods.anchors_7d[p] == 0 and clicks[p] >= 10 and ratio[p] >= 2
        assert ("fans_clicks" in why) == should, p
        if should:
            told += 1
            young += days[p] < 30
            assert why["fans_clicks"]["value"] == clicks[p]
            times = reasons.times(ratio[p])
            expected = f"近{days[p]:.0f}天被点击 {clicks[p]:,.0f} 次，按天计是同类商品平均的 {times} 倍"
            assert why["fans_clicks"]["text"] == expected
    assert told > 0 and young > 0


def test_without_a_click_log_no_good_is_said_to_draw_clicks(small_artifact):
    ranker = Ranker(load_model(small_artifact))
    ranker.goods.clicks_30d = None
    explainer = type(ranker.explainer)(ranker.goods, ranker.rooms, ranker.board_rank[7])
    assert not any(r["code"] == "fans_clicks" for p in range(len(ranker.goods.price)) for r in explainer.good(p)[2])


def test_a_good_that_pays_no_commission_is_not_argued_for_by_its_commission(small_artifact):
    """A catalogue without commissions (Online Retail's rate is 0) says nothing of 佣金 0%，每单约赚 ¥0."""
    ranker = Ranker(load_model(small_artifact))
    ranker.goods.commission = np.where(np.arange(len(ranker.goods.price)) % 2 == 0, 0.0, ranker.goods.commission)
    explainer = type(ranker.explainer)(ranker.goods, ranker.rooms, ranker.board_rank[7])
    for p in range(0, 40):
        cited = any(r["code"] == "commission" for r in explainer.good(p)[2])
        assert cited == (p % 2 == 1), p


def test_a_pick_says_which_of_the_room_s_fans_and_price_band_it_fits(ranker):
    """The room x good term's reasons cite the model's own figures: a cell of at least 10% of the fans buying the
    good at least 1.25 times as much as its average buyer, a price band the room sells at least 1.25 times as well.
    The audience is the one the term weighs the good with (followers and buyers; for the gender x age view each
    weighed by how likely it is to buy the good's category), and the reason says so. The views: gender x age,
    region (来自…) and the fans' spending levels (消费水平 …)."""
    personal, cited = ranker.model.personal, {"audience_fit": 0, "price_band_fit": 0, "outside_category": 0}
    views = {v.name: v for v in personal.views}
    assert views["gender_age"].by_category is not None  # the default model's
    per_category, by_view = 0, {name: 0 for name in views}
    for anchor in range(len(ranker.model.anchor_ids)):
        for pick in ranker.picks(anchor, 20).items:
            for reason in pick.fit_reasons:
                cited[reason["code"]] += 1
                if reason["code"] == "outside_category":
                    continue
                if reason["code"] == "price_band_fit":  # an estimate of a band within the good's category
                    band = int(personal.band[pick.product])
                    factor = float(personal.band_factor[anchor, band])
                    assert reason["value"] == round(factor, 2) and factor >= 1.25
                    where = "较贵" if band > 2 else "较便宜" if band < 2 else "中等价位"
                    assert f"同类目中{where}的商品（第 {band + 1} 档" in reason["text"], reason["text"]
                    continue
                name = "region" if "来自" in reason["text"] else "price_level" if "消费水平" in reason["text"] \
                    else "gender_age"
                by_view[name] += 1
                view = views[name]
                t = next(i for i, label in enumerate(view.labels) if label in reason["text"])
                assert reason["value"] == round(float(view.response[pick.product, t]), 2) >= 1.25
                share = float(view.audience[anchor, t])
                if view.by_category is not None:
                    category = int(personal.base.category[pick.product])
                    share = float(view.by_category[anchor, category, t])
                    assert f"按买{personal.base.categories[category]}的可能性计" in reason["text"]
                    per_category += 1
                else:  # a room that has sold nothing has no buyers to count; spending levels count the known
                    sold = bool(ranker.scorer.sold[anchor])
                    assert ("你的观众（粉丝与下单买家）" if sold else "你的粉丝") in reason["text"], reason["text"]
                    assert ("已知消费水平的" in reason["text"]) == (name == "price_level"), reason["text"]
                assert share >= 0.1 and f"{share:.0%}" in reason["text"]
    assert cited["audience_fit"] > 20 and cited["price_band_fit"] > 5, cited
    assert per_category > 10
    assert by_view["price_level"] > 0, by_view  # the fans' spending levels (消费水平) are a reason too


def test_a_room_that_has_sold_nothing_is_not_told_a_price_band(ranker):
    """A room without sales has its band lean from where its fans buy elsewhere, which pointed the wrong way for 3
    in 10 new rooms (probe): such rooms get no price-band reason, rooms with sales do."""
    orders = ranker.model.columns.anchor_stats.numbers("orders_all", 1.0)
    said = {True: 0, False: 0}
    for anchor in range(len(orders)):
        sold = bool(orders[anchor] > 0)
        for pick in ranker.picks(anchor, 50).items:
            for reason in pick.fit_reasons:
                if reason["code"] == "price_band_fit":
                    said[sold] += 1
                    assert "按你的直播间各价位段的销量估计" in reason["text"], reason["text"]
    assert said[True] > 5 and said[False] == 0, said
    assert (orders == 0).sum() > 0  # the fixture has rooms without sales


def test_fit_reasons_are_those_of_weighing_every_cell_of_every_view(ranker):
    """The scorer weighs only the cells large enough to be a reason and formats each figure once: the same
    reasons as weighing every cell for every good, for every room of the model and goods in any order."""
    scorer, rng = ranker.scorer, np.random.default_rng(0)
    n_goods = len(ranker.goods.price)
    for anchor in range(len(ranker.model.anchor_ids)):
        rows = rng.permutation(n_goods)[:int(rng.integers(1, 200))]
        assert scorer.fit_reasons(anchor, rows) == fit_reasons_every_cell(scorer, anchor, rows)
    every = np.arange(n_goods)
    assert scorer.fit_reasons(0, every) == fit_reasons_every_cell(scorer, 0, every)


@pytest.mark.parametrize("seed", range(12))
def test_fit_reasons_weigh_every_cell_on_random_catalogues(seed):
    """Random audiences and responses (ties, rooms without known fans in a view): the same reasons as weighing
    every cell."""
    scorer, *_ = random_audience_scorer(seed)
    for view in scorer.personal.views:
        view.labels = [f"{view.name}-{t}" for t in range(view.response.shape[1])]
    rng = np.random.default_rng(seed)
    n_goods = len(scorer.unit)
    for anchor in range(6):
        rows = rng.integers(0, n_goods, int(rng.integers(0, 60)))  # repeats too
        assert scorer.fit_reasons(anchor, rows) == fit_reasons_every_cell(scorer, anchor, rows)


def test_without_the_term_a_pick_has_no_fit_reasons(shelf_ranker):
    codes = {r["code"] for a in range(10) for p in shelf_ranker.picks(a, 20).items for r in p.fit_reasons}
    assert not codes & {"audience_fit", "price_band_fit"}


@pytest.mark.parametrize("which", ["ranker", "shelf_ranker"])
def test_a_pick_s_expected_commission_is_yuan_from_its_expected_orders(which, request):
    """expected orders per 30 days x yuan per order x commission rate: the yuan the page shows as 预期佣金; the
    commission reason's 每单约赚 is one order's share of it."""
    ranker = request.getfixturevalue(which)
    for pick in ranker.picks(5, 20).items:
        b = pick.breakdown
        assert b["expected_commission_30d"] == pytest.approx(b["affinity"] * b["order_value"] * b["commission_rate"],
                                                             rel=1e-3, abs=0.01)  # order_value shown to the fen
        per_order = next(r for r in pick.reasons if r["code"] == "commission")["text"].split("每单约赚 ")[1]
        assert per_order == reasons.yuan(b["order_value"] * b["commission_rate"])


def test_without_expected_orders_a_pick_claims_no_yuan(vector_ranker):
    assert not any("expected_commission_30d" in p.breakdown for p in vector_ranker.picks(5, 20).items)


def test_a_pick_s_expected_commission_comes_with_the_range_its_evidence_and_the_model_s_error_allow(ranker,
                                                                                                      small_artifact):
    """The 5% and 95% points of the good's quality posterior widened by the model's error (range_log_sd) bound its
    expected commission; the more orders the model saw, the narrower the range, but never narrower than the
    model's error alone; with range_log_sd = 0 the range is the posterior's own quantiles."""
    from scipy.special import gammaincinv

    shape = np.asarray(ranker.model.shelf_rate.shape)
    floor = np.exp(2 * 1.6449 * ranker.config.range_log_sd)  # p95 / p05 of the error alone
    posterior = Ranker(load_model(small_artifact), RankingConfig(range_log_sd=0.0))
    for pick, bare in zip(ranker.picks(3, 20).items, posterior.picks(3, 20).items, strict=True):
        b, c, k = pick.breakdown, bare.breakdown, float(shape[pick.product])
        assert pick.product == bare.product and b["expected_commission_30d"] == c["expected_commission_30d"]
        assert c["expected_commission_30d_p95"] == pytest.approx(
            c["expected_commission_30d"] * gammaincinv(k, 0.95) / k, rel=1e-3, abs=0.02)
        assert b["expected_commission_30d_p95"] / b["expected_commission_30d_p05"] >= 0.99 * floor
        assert b["expected_commission_30d_p05"] < c["expected_commission_30d_p05"]
    widths, shapes = [], []
    for anchor in range(0, 50, 5):
        for pick in ranker.picks(anchor, 20).items:
            b = pick.breakdown
            assert b["expected_commission_30d_p05"] <= b["expected_commission_30d"] <= b["expected_commission_30d_p95"]
            if b["expected_commission_30d_p05"] > 0.1:
                widths.append(b["expected_commission_30d_p95"] / b["expected_commission_30d_p05"])
                shapes.append(shape[pick.product])
    assert len(widths) > 50 and spearmanr(shapes, widths)[0] < -0.9


def test_caution_ranks_goods_with_little_evidence_lower(small_artifact):
    """Ranked by a low point of quality, fewer of the first picks rest on little evidence (under 10 orders and
    pseudo-orders) than ranked by its mean: the lower the point, the fewer; the default (35%) is cautious too."""
    model = load_model(small_artifact)
    plain, default, strict = (Ranker(model, RankingConfig(caution=None)), Ranker(model),
                              Ranker(model, RankingConfig(caution=0.2)))
    shape = np.asarray(model.shelf_rate.shape)

    def thin(ranker) -> float:
        return float(np.mean([shape[p.product] < 10 for a in range(50) for p in ranker.picks(a, 10).items]))

    assert thin(strict) < 0.7 * thin(plain) and thin(default) < 0.85 * thin(plain)


def test_shares_of_an_audience_too_small_to_speak_of_are_no_reason(ranker):
    """"你的粉丝 100% 来自上海" was told a room with 2 fans (probe). A room needs
    reasons.MIN_FANS_FOR_SHARES followers before a share of them is cited, in the room's picks (audience_fit,
    audience_match) and in the merchant's view of it, whether or not it has sold (a room of 6 fans and 3 buyers
    was told "43% 来自湖北": its buyers are among its fans)."""
    fans = np.asarray(ranker.rooms.fans)
    few = fans < reasons.MIN_FANS_FOR_SHARES
    assert (few & np.asarray(ranker.scorer.sold)).any()  # small rooms that have sold are among them
    assert few.any() and (~few).any()
    cited = {True: 0, False: 0}
    for anchor in range(len(fans)):
        for pick in ranker.picks(anchor, 20).items:
            codes = [r["code"] for r in pick.reasons]
            cited[bool(few[anchor])] += codes.count("audience_fit") + codes.count("audience_match") + sum(
                r["code"] == "outside_category" and "你的粉丝中" in r["text"] for r in pick.reasons)
    assert cited[True] == 0 and cited[False] > 20, cited
    for product in range(0, 40, 4):  # the merchant's view: "TA的粉丝 x% 买过…" only of rooms with enough fans
        for item in ranker.anchors_for(product, 50).items:
            quoted = any(r["code"] == "audience_match" for r in item["reasons"])
            assert not (quoted and fans[item["anchor"]] < reasons.MIN_FANS_FOR_SHARES), item


def test_a_room_is_told_its_price_band_only_of_categories_it_sells(ranker):
    """A 珠宝 room that never sold 家电 was told of 家电 picks "同类目中较便宜的商品…在你这里比平常多卖 68%", its
    珠宝 lean (probe): the band reason is given only for goods of a category the room sold in 30 days."""
    rooms = ranker.rooms
    told = {True: 0, False: 0}
    for anchor in range(len(rooms.fans)):
        for pick in ranker.picks(anchor, 60).items:
            gmv, _ = rooms.category_sales(np.array([anchor]), int(ranker.goods.category[pick.product]))
            told[bool(gmv[0] > 0)] += sum(r["code"] == "price_band_fit" for r in pick.fit_reasons)
    assert told[False] == 0 and told[True] > 5, told
