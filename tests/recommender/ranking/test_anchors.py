"""Anchors for a good (达人广场): gated rooms ranked by the scorer, pages that continue through ties."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from recommender import reasons
from recommender.artifact import load_model
from recommender.ranking import Ranker, RankingConfig
from recommender.ranking.anchors import AnchorFilters
from tests.recommender.ranking.plain_rules import expected_orders, reference_arrange


@pytest.mark.parametrize("which", ["ranker", "shelf_ranker"])
def test_anchors_for_a_good_are_the_rooms_expecting_the_most_orders(which, request):
    """With the shelf-rate model: gated rooms by expected orders if shelved, ties by row; pages continue."""
    ranker = request.getfixturevalue(which)
    for product in (0, 17, len(ranker.goods) - 1):
        expected = expected_orders(ranker, np.arange(len(ranker.anchor_gate)), np.array([product]))[:, 0]
        rows = np.flatnonzero(ranker.anchor_gate)
        best = rows[np.lexsort((rows, -expected[rows]))]
        first, second = ranker.anchors_for(product, 10), ranker.anchors_for(product, 10, offset=10)
        assert [it["anchor"] for it in first.items + second.items] == best[:20].tolist()
        np.testing.assert_allclose([it["breakdown"]["expected_orders_30d"] for it in first.items],
                                   expected[best[:10]], rtol=1e-5, atol=1e-6)  # rounded to 6 decimals
        assert first.candidates == len(rows) and first.next_offset == 10


@pytest.mark.parametrize("which", ["ranker", "shelf_ranker"])
def test_anchors_for_a_good_page_through_tied_rooms_by_row(which, request, monkeypatch):
    """Rooms with no sales, shelf or fans get identical strengths; pages must still continue without repeats."""
    ranker = request.getfixturevalue(which)
    scorer = ranker.scorer
    for name in ("room", "band_factor"):  # half the rooms tied in everything the scorer knows of a room
        if hasattr(scorer, name):
            value = np.array(getattr(scorer, name))
            value[::2] = value[0]
            monkeypatch.setattr(scorer, name, value)
    if hasattr(scorer, "personal"):  # and their audiences
        views = [dataclasses.replace(v, audience=np.array(v.audience)) for v in scorer.personal.views]
        for view in views:
            view.audience[::2] = view.audience[0]
        monkeypatch.setattr(scorer.personal, "views", views)
    assert which == "shelf_ranker" or hasattr(scorer, "personal")
    for product in (3, 40):
        score = scorer.rooms_for(product, np.arange(len(ranker.anchor_gate)))[0]
        rows = np.flatnonzero(ranker.anchor_gate)
        expected = rows[np.lexsort((rows, -score[rows]))][:40].tolist()
        pages = [it["anchor"] for offset in range(0, 40, 10) for it in ranker.anchors_for(product, 10, offset).items]
        assert pages == expected


def _with_new_anchors(model, new: np.ndarray, **config) -> Ranker:
    ranker = Ranker(model, RankingConfig(**config))
    ranker.rooms.new = new
    return ranker


@pytest.mark.parametrize("every", [10, 5, 3, 7])
def test_one_room_in_every_n_of_the_merchants_list_is_a_new_anchor(small_artifact, every):
    """扶持 for 新人主播 in 达人广场: every block of `new_anchor_every` rooms holds a new anchor, the best one left
    by the same score, while any is left; the other slots go by score, ties by row. Whatever the page size,
    pages are slices of one order."""
    model = load_model(small_artifact)
    plain = Ranker(model, RankingConfig(new_anchor_every=0))
    rows = np.flatnonzero(plain.anchor_gate)
    assert len(rows) >= 37  # the seven weakest rooms are not on a plain list of 30
    for product in (0, 17, 60):
        score = plain.scorer.rooms_for(product, rows)[0]
        new = np.zeros(len(plain.anchor_gate), bool)
        new[rows[np.argsort(score, kind="stable")[:7]]] = True  # the seven weakest rooms for this good are new
        ranker = _with_new_anchors(model, new, new_anchor_every=every)
        one = (1 + 1e-9) / every
        expected = rows[reference_arrange(np.zeros(len(rows), int), new[rows], score, 30, every, one, 1.0)]
        shown = [it["anchor"] for it in ranker.anchors_for(product, 30).items]
        assert shown == expected.tolist()
        assert [it["anchor"] for off in (0, 10, 20) for it in ranker.anchors_for(product, 10, off).items] == shown
        assert [it["anchor"] for off in (0, 15) for it in ranker.anchors_for(product, 15, off).items] == shown
        at = np.flatnonzero(new[np.array(shown)])  # the weakest rooms: each at the end of its block
        blocks = min(7, 30 // every)
        assert at[:blocks].tolist() == [every * (b + 1) - 1 for b in range(blocks)]
        # the established rooms keep their own order, and the weakest rooms would not have been shown at all
        established = [a for a in shown if not new[a]]
        assert established == [a for a in rows[np.lexsort((rows, -score))] if not new[a]][: len(established)]
        assert not new[[it["anchor"] for it in plain.anchors_for(product, 30).items]].any()


@pytest.mark.parametrize(("every", "label"), [(10, "新人主播扶持，入驻 12 天"), (0, "新人主播，入驻 12 天")])
def test_a_new_anchor_says_so_and_filters_come_first(small_artifact, every, label):
    """扶持 only where the list keeps slots for new anchors; without them a new room is there on its own score."""
    model = load_model(small_artifact)
    new = np.zeros(len(model.anchor_ids), bool)
    ranker = _with_new_anchors(model, new, new_anchor_every=every)
    new[np.flatnonzero(ranker.anchor_gate)[[3, 4, 5]]] = True
    ranker.rooms.age_days = np.where(new, 12.0, 400.0)
    items = ranker.anchors_for(8, len(new)).items
    for item in items:
        cited = {r["code"]: r for r in item["reasons"]}
        assert ("new_anchor" in cited) == bool(new[item["anchor"]])
        if new[item["anchor"]]:
            assert cited["new_anchor"]["text"] == label and cited["new_anchor"]["value"] == 12
    assert new[[it["anchor"] for it in items]].sum() == 3
    # a filter no new anchor passes leaves the list as it would be without the share
    big = AnchorFilters(min_fans=int(np.asarray(ranker.rooms.fans)[new].max()) + 1)
    assert [it["anchor"] for it in ranker.anchors_for(8, 20, filters=big).items] == \
        [it["anchor"] for it in Ranker(model, RankingConfig(new_anchor_every=0)).anchors_for(8, 20, filters=big).items]


def test_anchors_for_a_good_without_the_shelf_rate_model_are_ranked_by_their_score(vector_ranker):
    page = vector_ranker.anchors_for(5, 15, tier=None, min_fans=10)
    scores = [it["score"] for it in page.items]
    assert len(scores) == 15 and scores == sorted(scores, reverse=True)
    rows = [it["anchor"] for it in page.items]
    assert vector_ranker.anchor_gate[rows].all() and (vector_ranker.rooms.fans[rows] >= 10).all()


def test_each_proposed_room_cites_its_followers_share_buying_the_goods_category(ranker):
    """Whatever the good's category: the merchant reads the share of each room's followers that bought it, unless
    it rounds to 0% (which would argue against the room); a room that has not sold the category lately says so
    instead of citing its sales there."""
    goods, rooms = ranker.goods, ranker.rooms
    labels = ranker.model.audience.labels["category"]
    untried = 0
    for code in range(len(goods.categories)):
        product = int(np.flatnonzero(goods.category == code)[0])
        label = goods.categories[code]
        for item in ranker.anchors_for(product, 40).items:
            cited = {r["code"]: r for r in item["reasons"]}
            gmv = float(rooms.category_sales(np.array([item["anchor"]]), code)[0][0])
            assert ("category_sales" in cited) == (gmv > 0) and ("category_untried" in cited) == (gmv == 0)
            if gmv > 0:  # a GMV above 0 is never said to be 0% of the room's
                assert "占其 GMV 0%" not in cited["category_sales"]["text"]
            untried += gmv == 0
            if label not in labels:
                continue
            share = float(rooms.category_shares[item["anchor"], labels.index(label)])
            if round(share, 2) == 0 or rooms.fans[item["anchor"]] < reasons.MIN_FANS_FOR_SHARES:  # or too few
                assert "audience_match" not in cited
                continue
            assert cited["audience_match"]["value"] == pytest.approx(share, abs=1e-4), (label, item["anchor"])
            assert cited["audience_match"]["text"].startswith(f"TA的粉丝中 {share:.0%} 近30天购买过{label}")
    assert untried > 0  # the model proposes rooms new to a category (it expects they would sell it)


def test_without_the_shelf_rate_model_a_rooms_recent_orders_in_the_category_count(vector_ranker, monkeypatch):
    """Unit anchor vectors say which rooms a good suits, not how much they sell: the score is the relative fit x
    sqrt(fans + 1) x (1 + the room's 30-day orders in the good's category) ** room_activity_weight x (1 + category
    share), and a quiet room made busy in the category climbs to the top of the page; orders in other categories
    do not count."""
    ranker, scorer = vector_ranker, vector_ranker.scorer
    w = ranker.config.room_activity_weight
    assert w > 0
    rooms, everyone = ranker.rooms, np.arange(len(ranker.anchor_gate))
    np.testing.assert_array_equal(np.asarray(rooms.category_orders).sum(axis=1),
                                  ranker.model.anchor_stats["orders_30d"].to_numpy())
    product = 5
    category = int(ranker.goods.category[product])
    col = int(rooms.audience_column[category])
    orders = np.asarray(rooms.category_orders[:, col], float)
    score, figures = scorer.rooms_for(product, everyone)
    share = rooms.category_sales(everyone, category)[1]
    np.testing.assert_allclose(score, figures["relative_fit"] * np.sqrt(rooms.fans + 1) * (1 + share)
                               * (1 + orders) ** w, rtol=1e-6)
    np.testing.assert_array_equal(figures["category_orders_30d"], orders)

    page = [it["anchor"] for it in ranker.anchors_for(product, 10).items]
    quiet = int(np.flatnonzero(ranker.anchor_gate & ~np.isin(everyone, page))[-1])
    elsewhere = np.array(rooms.category_orders)
    elsewhere[quiet, np.arange(elsewhere.shape[1]) != col] += 10**6  # busy in every other category
    monkeypatch.setattr(rooms, "category_orders", elsewhere)
    np.testing.assert_array_equal(scorer.rooms_for(product, everyone)[0], score)
    busy = np.array(rooms.category_orders)
    busy[quiet, col] = 10**9
    monkeypatch.setattr(rooms, "category_orders", busy)
    first = ranker.anchors_for(product, 10).items[0]
    assert first["anchor"] == quiet and first["breakdown"]["category_orders_30d"] == 10**9
    new_score = scorer.rooms_for(product, everyone)[0][quiet]  # relative fit: over the rooms scored together
    assert new_score == pytest.approx(score[quiet] * ((1 + 10**9) / (1 + orders[quiet])) ** w)


def test_without_the_shelf_rate_model_an_activity_weight_of_zero_ranks_by_fit_reach_and_category(small_artifact):
    model = load_model(small_artifact)
    model.shelf_rate = None
    ranker = Ranker(model, RankingConfig(room_activity_weight=0))
    everyone = np.arange(len(ranker.anchor_gate))
    score, figures = ranker.scorer.rooms_for(5, everyone)
    share = ranker.rooms.category_sales(everyone, int(ranker.goods.category[5]))[1]
    np.testing.assert_allclose(score, figures["relative_fit"] * np.sqrt(ranker.rooms.fans + 1) * (1 + share),
                               rtol=1e-6)
    assert "category_orders_30d" not in figures


def test_without_the_anchor_boards_activity_is_left_out(small_artifact):
    """Artifacts before format 8 hold no orders per room and category: the score is as before, not an error."""
    model = load_model(small_artifact)
    model.shelf_rate, model.anchor_window_gmv, model.anchor_window_orders = None, None, None
    ranker = Ranker(model)
    assert ranker.rooms.category_orders is None
    everyone = np.arange(len(ranker.anchor_gate))
    score, figures = ranker.scorer.rooms_for(5, everyone)
    share = ranker.rooms.category_sales(everyone, int(ranker.goods.category[5]))[1]
    np.testing.assert_allclose(score, figures["relative_fit"] * np.sqrt(ranker.rooms.fans + 1) * (1 + share),
                               rtol=1e-6)
    assert ranker.anchors_for(5, 10).items


@pytest.mark.parametrize("audience_fit", [True, False])
def test_where_the_shelf_rate_model_ranks_room_activity_changes_nothing(small_artifact, audience_fit, monkeypatch):
    """Expected orders if shelved count a room's scale already: neither the activity exponent nor the rooms'
    recent orders move the merchant's pages."""
    model = load_model(small_artifact)
    plain = Ranker(model, RankingConfig(audience_fit=audience_fit, room_activity_weight=0))
    steep = Ranker(model, RankingConfig(audience_fit=audience_fit, room_activity_weight=3))
    scrambled = np.random.default_rng(0).permutation(np.asarray(steep.rooms.category_orders)) * 100
    monkeypatch.setattr(steep.rooms, "category_orders", scrambled)
    for product in (0, 17, len(plain.goods) - 1):
        for offset in (0, 10):
            a, b = plain.anchors_for(product, 10, offset).items, steep.anchors_for(product, 10, offset).items
            assert [(it["anchor"], it["score"], it["breakdown"]) for it in a] == \
                [(it["anchor"], it["score"], it["breakdown"]) for it in b]


def test_a_category_s_share_of_a_room_s_gmv_rounding_to_0_is_said_to_be_under_1_percent():
    from recommender import reasons

    assert reasons.anchor_category_sales("食品", 1708.0, 0.0006)["text"] == "近30天食品 GMV ¥1,708，占其 GMV 不到 1%"
    assert reasons.anchor_category_sales("食品", 1708.0, 0.012)["text"].endswith("占其 GMV 1%")
    # nor 100% when part of the GMV was another category's (the probe: 0.9961)
    assert reasons.anchor_category_sales("食品", 18196.12, 0.9961)["text"].endswith("占其 GMV 超过 99%")
    assert reasons.anchor_category_sales("食品", 18196.12, 1.0)["text"].endswith("占其 GMV 100%")
