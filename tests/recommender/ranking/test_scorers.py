"""Scorers give candidates that provably hold the first picks over every eligible good, and the scores they
promise."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from recommender.audience_fit import BANDS, AudienceRates, View
from recommender.ranking import PickFilters, RankingConfig, arrange, slot_codes
from recommender.ranking.audience_scorer import AudienceFitScorer
from recommender.ranking.catalog import Goods
from recommender.ranking.explore import Exploration
from recommender.ranking.picks import arranged
from recommender.ranking.scorers import Eligible, ShelfRateScorer
from recommender.shelf_rate import ShelfRates
from recommender.trend import room_trend_reach
from tests.recommender.ranking.conftest import FILTERS
from tests.recommender.ranking.plain_rules import brute_top, qc_plain


@pytest.mark.parametrize("filters", FILTERS)
def test_the_vector_scorer_retrieves_the_exact_top_goods_by_inner_product(vector_ranker, filters):
    scorer, goods = vector_ranker.scorer, vector_ranker.goods
    for anchor in range(0, 50, 7):
        mask = vector_ranker.goods_for_anchor.filter_mask(filters, anchor)
        scores = scorer.vectors @ scorer.anchor_vectors[anchor]
        got, _ = scorer.retrieve_for_anchor(anchor, mask, 300)
        assert got.tolist() == brute_top(scores, mask, 300).tolist()
        got_sup, _ = scorer.retrieve_for_anchor(anchor, mask, 50, supported_only=True)
        assert got_sup.tolist() == brute_top(scores, mask & goods.supported, 50).tolist()


@pytest.mark.parametrize("scan", [False, True], ids=["threshold-rule", "scan"])
@pytest.mark.parametrize("filters", FILTERS)
def test_the_vector_scorer_with_the_trend_retrieves_the_exact_top_goods_by_the_blend(vector_ranker, filters, scan,
                                                                                     monkeypatch):
    """relative affinity ** w + weight x trend: the threshold rule's candidates (or a scan's) are the brute-force
    top, and so are the first picks' scores over every eligible good."""
    from recommender.ranking import scorers

    monkeypatch.setattr(scorers, "BLEND_SCAN_GOODS", 10**9 if scan else 0)
    monkeypatch.setattr(scorers, "BLEND_SCAN_SHARE", 0.0 if scan else np.inf)
    scorer, goods = vector_ranker.scorer, vector_ranker.goods
    assert scorer.trend_weight > 0
    for anchor in range(0, 50, 7):
        mask = vector_ranker.goods_for_anchor.filter_mask(filters, anchor)
        base = scorer.blended_base(anchor, mask)
        top = max(float((scorer.vectors @ scorer.anchor_vectors[anchor])[mask].max(initial=0.0)), 1e-9)
        for n in (1, 20, 300):
            got, _ = scorer._top_blend(anchor, mask, n, top, int(mask.sum()))
            assert got.tolist() == brute_top(base, mask, n).tolist()
        got_sup, _ = scorer._top_blend(anchor, mask, 50, top, int(mask.sum()), supported_only=True)
        assert got_sup.tolist() == brute_top(base, mask & goods.supported, 50).tolist()
        scored = scorer.goods_for(anchor, Eligible(mask, int(mask.sum()), True), 20, 20)
        final = (base * scorer._value.per_order * scorer._value.commission * qc_plain(goods, vector_ranker.config)
                 * scorer.boost)
        first = scored.rows[np.lexsort((scored.rows, -scored.score))][:20]
        assert first.tolist() == brute_top(final, mask, 20).tolist()


def test_without_a_trend_a_rooms_goods_rank_by_affinity_alone(small_artifact, vector_ranker):
    """An artifact before the trend (or weight 0) ranks exactly as the vectors do."""
    from recommender.artifact import load_model
    from recommender.ranking import Ranker

    model = load_model(small_artifact)
    model.shelf_rate, model.trend = None, None
    plain = Ranker(model)
    assert plain.scorer.trend_weight == 0
    power = plain.config.vector_affinity_weight
    for pick in plain.picks(3, 20).items:
        b = pick.breakdown
        money = (b["order_value"] ** plain.config.price_weight * b["commission_rate"] ** plain.config.commission_weight
                 * b["qc_factor"])
        assert b["expected_value"] == pytest.approx(b["relative_affinity"] ** power * money, rel=1e-3,
                                                    abs=power * 1e-6 * money + 1e-6)
    blended = [p.product for p in vector_ranker.picks(3, 20).items]
    assert blended != [p.product for p in plain.picks(3, 20).items]  # the trend does move the picks
    model.trend = load_model(small_artifact).trend.model_copy(update={"room_weight": 0.0})  # the trend off
    off = Ranker(model)
    assert [p.product for p in off.picks(3, 20).items] == [p.product for p in plain.picks(3, 20).items]


def test_a_rooms_trend_stays_within_the_categories_it_sells(vector_ranker):
    """The market's trend x the room's 30-day GMV in the good's category over its best category's: nothing in
    categories the room did not sell (the unweighted trend filled synthetic rooms' picks with other verticals'
    best sellers), all of it in its best one, and all of it everywhere for a room without sales."""
    scorer, rooms = vector_ranker.scorer, vector_ranker.scorer._rooms
    gmv = np.asarray(rooms.category_gmv, float)
    column = scorer._trend_column
    sellers = np.flatnonzero((gmv > 0).sum(axis=1) >= 1)
    assert len(sellers) > 0
    for anchor in sellers[:20]:
        reach = scorer.room_trend(anchor) / np.maximum(scorer.trend, 1e-30)
        has = scorer.trend > 0
        sold = gmv[anchor][column]
        np.testing.assert_allclose(reach[has], (sold / gmv[anchor].max())[has], rtol=1e-5)
        assert (reach[has & (sold == 0)] == 0).all() and (reach[has & (sold == gmv[anchor].max())] == 1).all()
        mask = np.ones(len(scorer.trend), bool)
        base = scorer.blended_base(anchor, mask)
        affinity = scorer.vectors @ scorer.anchor_vectors[anchor]
        power = vector_ranker.config.vector_affinity_weight
        rel = np.maximum(affinity / max(float(affinity.max()), 1e-9), 1e-3) ** power
        np.testing.assert_allclose(base[sold == 0], rel[sold == 0], rtol=1e-6)
    assert (room_trend_reach(np.zeros_like(gmv)) == 1).all()
    assert room_trend_reach(np.array([[0.0, 5.0, 20.0]])).tolist() == [[0.0, 0.25, 1.0]]


def test_the_affinity_exponent_follows_the_affinity_source(ranker, vector_ranker):
    """Expected orders are ranked with affinity_weight, the vectors' flatter affinity with its own exponent (and
    the market's trend added to it, recommender/trend.py)."""
    cfg = ranker.config
    for r, power in ((ranker, cfg.affinity_weight), (vector_ranker, cfg.vector_affinity_weight)):
        for pick in r.picks(3, 20).items:
            b = pick.breakdown
            money = (b["order_value"] ** cfg.price_weight * b["commission_rate"] ** cfg.commission_weight
                     * b["qc_factor"])
            trend = (r.scorer.trend_weight * float(r.scorer.room_trend(3, np.array([pick.product]))[0])
                     if r is vector_ranker else 0.0)
            # the figures are rounded to 6 decimals: a relative affinity off by 5e-7 moves the value by that x money
            assert b["expected_value"] == pytest.approx((b["relative_affinity"] ** power + trend) * money, rel=1e-3,
                                                        abs=power * 1e-6 * money + 1e-6)
    assert cfg.affinity_weight != cfg.vector_affinity_weight


def random_scorer(seed: int) -> tuple[ShelfRateScorer, Goods, np.ndarray, RankingConfig]:
    """A shelf-rate scorer over a random small catalogue with random settings, ties when the seed is even, a
    category with no gated goods, and rooms of zero strength in some categories."""
    rng = np.random.default_rng(seed)
    n_p, n_c = int(rng.integers(1, 400)), int(rng.integers(1, 8))
    cfg = RankingConfig(support_share=float(rng.choice([0.0, 0.2, 0.35, 1.0])),
                        max_category_share=float(rng.choice([0.1, 0.3, 0.7, 1.0])),
                        affinity_weight=float(rng.choice([1.0, 0.5, 2.0])),
                        support_boost=float(rng.choice([0.0, 0.25, 3.0])))
    category = rng.integers(0, n_c, n_p)
    tie = seed % 2 == 0
    goods = Goods.of(price=rng.choice([10.0, 20.0], n_p) if tie else rng.lognormal(3, 1, n_p),
                  commission=rng.choice([0.0, 0.1, 0.2], n_p) if tie else rng.uniform(0, 0.3, n_p),
                  category=category, categories=[f"c{i}" for i in range(n_c)],
                  new=rng.random(n_p) < rng.choice([0.0, 0.05, 0.3, 0.9]), small=np.zeros(n_p, bool))
    gate = (rng.random(n_p) < rng.choice([1.0, 0.7])) & ((category != 0) | (n_c == 1))
    quality = (rng.integers(1, 4, n_p) / 3 if tie else rng.lognormal(0, 1, n_p)).astype(np.float32)
    room = (rng.integers(0, 3, (5, n_c)) / 2 if tie else rng.lognormal(0, 2, (5, n_c))).astype(np.float32)
    rates = ShelfRates(quality, room, category.astype(np.int32), goods.categories)
    return ShelfRateScorer(rates, goods, gate, cfg), goods, gate, cfg


def eligible(mask: np.ndarray, filtered: bool) -> Eligible:
    return Eligible(mask, int(np.count_nonzero(mask)), filtered)


def shown(scorer: ShelfRateScorer, cfg: RankingConfig, anchor: int, elig: Eligible, n: int, k: int,
          offset: int = 0, outside: np.ndarray | None = None) -> list[int]:
    """Goods offset..n of the room's list in pages of k, as the picks arrange the scorer's candidates."""
    scored = scorer.goods_for(anchor, elig, n, k, outside)
    return scored.rows[arranged(scored, n, k, cfg, outside)[offset:n]].tolist()


def assert_pages_are_the_rule_over_every_good(scorer, goods: Goods, cfg: RankingConfig, anchor: int,
                                              elig: Eligible, rows: np.ndarray, score: np.ndarray,
                                              outside: np.ndarray | None = None) -> None:
    """The scorer's pages (several sizes and offsets) are the arrangement rule applied to every eligible good
    `rows` with their exact `score` (ties by row), and pages joined end to end equal one long list."""
    for k, offset in ((1, 0), (5, 0), (5, 15), (20, 7)):
        got = shown(scorer, cfg, anchor, elig, offset + k, k, offset, outside)
        want = rows[arrange(slot_codes(goods.category, goods.supported)[rows], score, offset + k, k,
                            max_category_share=cfg.max_category_share, support_share=cfg.support_share,
                            outside=outside, max_outside_share=cfg.max_outside_share,
                            tie=rows)[offset:offset + k]].tolist()
        assert got == want and len(set(got)) == len(got), (anchor, k, offset)
    pages = [g for o in range(0, 40, 5) for g in shown(scorer, cfg, anchor, elig, o + 5, 5, o, outside)]
    assert pages == shown(scorer, cfg, anchor, elig, 40, 5, 0, outside)


@pytest.mark.parametrize("seed", range(80))
def test_the_category_pool_equals_ranking_every_eligible_good_under_any_settings(seed):
    """Pages from the pool of each category's first n (and first n supported) goods equal the arrangement over
    every eligible good, and pages joined end to end equal one long list."""
    scorer, goods, gate, cfg = random_scorer(seed)
    rng = np.random.default_rng(seed)
    for anchor in range(5):
        for elig in (eligible(gate, False), eligible(gate & (rng.random(len(gate)) < 0.6), True)):
            rows = np.flatnonzero(elig.mask)  # every eligible good, ties broken by row
            # the score as the scorer factors it (room strength x the good's own factor), so exact ties stay ties
            room = scorer.room[anchor].astype(float)
            strength = room * 30 / max(float((room * scorer.best_unit).max()), 1e-12)
            score = strength[scorer.category[rows]] ** cfg.affinity_weight * scorer.own[rows]
            assert_pages_are_the_rule_over_every_good(scorer, goods, cfg, anchor, elig, rows, score)


def test_a_filtered_pool_keeps_within_its_filters(shelf_ranker):
    filters = PickFilters(price_min=20.0, price_max=200.0)
    for anchor in range(0, 50, 7):
        mask = shelf_ranker.goods_for_anchor.filter_mask(filters, anchor)
        pool = shelf_ranker.scorer.pool(6, mask).rows
        assert len(pool) and mask[pool].all()


def random_audience_scorer(seed: int) -> tuple[AudienceFitScorer, Goods, np.ndarray, RankingConfig]:
    """A room x good scorer over a random small catalogue: random settings, price bands, two views of random
    audiences and responses (a room without known fans in one view), a category with no gated goods, rooms in
    groups or not."""
    rng = np.random.default_rng(seed)
    n_p, n_c, n_a = int(rng.integers(1, 400)), int(rng.integers(1, 6)), 6
    cfg = RankingConfig(support_share=float(rng.choice([0.0, 0.2, 0.35, 1.0])),
                        max_category_share=float(rng.choice([0.1, 0.3, 0.7, 1.0])),
                        affinity_weight=float(rng.choice([1.0, 0.5, 2.0])),
                        support_boost=float(rng.choice([0.0, 0.25, 3.0])))
    category = rng.integers(0, n_c, n_p)
    goods = Goods.of(price=rng.lognormal(3, 1, n_p), commission=rng.uniform(0, 0.3, n_p), category=category,
                     categories=[f"c{i}" for i in range(n_c)],
                     new=rng.random(n_p) < rng.choice([0.0, 0.05, 0.3, 0.9]), small=np.zeros(n_p, bool))
    gate = (rng.random(n_p) < rng.choice([1.0, 0.7])) & ((category != 0) | (n_c == 1))
    base = ShelfRates(rng.lognormal(0, 1, n_p).astype(np.float32), rng.lognormal(0, 2, (n_a, n_c)).astype(np.float32),
                      category.astype(np.int32), goods.categories, rng.gamma(1.0, 20.0, n_p).astype(np.float32))
    if seed % 4 == 1:  # ranked by a low quantile of quality: goods with little evidence need more of it
        cfg = cfg.model_copy(update={"caution": 0.2})
    if seed % 5 in (2, 3):  # goods outside the room's categories capped to a share of each page (拓品类)
        cfg = cfg.model_copy(update={"max_outside_share": float(rng.choice([0.0, 0.1, 0.3]))})
    views = []
    for name, cells in (("gender_age", 4), ("region", 3)):
        audience = rng.dirichlet(np.ones(cells) * 0.5, n_a).astype(np.float32)
        nobody = rng.integers(n_a)
        audience[nobody] = 0  # a room without known fans in this view
        views.append(View(name, audience, rng.lognormal(0, float(rng.choice([0.3, 1.5])), (n_p, cells))
                          .astype(np.float32)))
        if name == "gender_age" and seed % 2:  # the room's audience per category (its fans who buy there)
            by_category = rng.dirichlet(np.ones(cells) * 0.5, (n_a, n_c)).astype(np.float32)
            by_category[nobody] = 0
            views[-1].by_category, views[-1].category = by_category, category
    personal = AudienceRates(base, rng.integers(0, BANDS, n_p), rng.lognormal(0, 1, (n_a, BANDS)).astype(np.float32),
                             views)
    if seed % 3:  # rooms in groups with their own bounds (else one group, as the scorer makes without them)
        personal = personal.with_bounds(int(rng.choice([2, 3, 6])), seed=seed)
    explore = None
    if seed % 7 in (2, 5, 6):  # each (room, good) score times its exploration factor
        cfg = cfg.model_copy(update={"explore": float(rng.choice([0.05, 0.3, 1.0]))})
        explore = Exploration(cfg.explore, np.arange(n_a) + 100, np.arange(n_p) * 7, seed)
    sold = rng.random(n_a) < 0.5 if seed % 2 else None  # rooms that sold nothing word their price band apart
    return AudienceFitScorer(personal, goods, gate, cfg, explore, sold), goods, gate, cfg


@pytest.mark.parametrize("seed", range(60))
def test_the_audience_scorer_equals_ranking_every_eligible_good_under_any_settings(seed):
    """The bounded block search gives the pages of arranging every eligible good by its exact score, for any
    settings and filters, and pages joined end to end equal one long list."""
    scorer, goods, gate, cfg = random_audience_scorer(seed)
    rng = np.random.default_rng(seed)
    for anchor in range(6):
        for elig in (eligible(gate, False), eligible(gate & (rng.random(len(gate)) < 0.6), True)):
            rows = np.flatnonzero(elig.mask)
            expected = scorer.expected(anchor, rows)
            top = scorer.expected(anchor, np.flatnonzero(gate)).max(initial=0.0)
            if cfg.caution is not None:
                expected = expected * scorer.personal.base.quality_quantile(cfg.caution)[rows]
            score = ((expected / max(top, 1e-12)) ** cfg.affinity_weight * goods.price[rows] ** cfg.price_weight
                     * goods.commission[rows] ** cfg.commission_weight * qc_plain(goods, cfg)[rows]
                     * scorer.boost[rows])
            if scorer.explore is not None:
                score = score * scorer.explore.factors(anchor, rows)
            # the room's own categories: a fixed draw per room, as Rooms.outside is
            outside = (np.random.default_rng([seed, anchor]).random(len(goods.categories)) < 0.5
                       if cfg.max_outside_share < 1 else None)
            assert_pages_are_the_rule_over_every_good(scorer, goods, cfg, anchor, elig, rows, score, outside)


@pytest.mark.parametrize("width", [0.1, 1.0])
def test_exploration_keeps_the_search_exact_where_it_reorders_most(width):
    """Goods of nearly equal value, so the factors reorder most of the catalogue: the pages are still the
    arrangement of every good by its score times its factor (the bounds allow for the largest factor)."""
    rng = np.random.default_rng(1)
    n_p, n_a = 3000, 4
    goods = Goods.of(price=rng.lognormal(3, 0.2, n_p), commission=np.full(n_p, 0.2), category=rng.integers(0, 2, n_p),
                     categories=["a", "b"], new=rng.random(n_p) < 0.1, small=np.zeros(n_p, bool))
    base = ShelfRates(rng.lognormal(0, 0.3, n_p).astype(np.float32), np.ones((n_a, 2), np.float32),
                      goods.category.astype(np.int32), goods.categories)
    view = View("gender_age", rng.dirichlet(np.ones(4), n_a).astype(np.float32),
                rng.lognormal(0, 0.1, (n_p, 4)).astype(np.float32))
    personal = AudienceRates(base, rng.integers(0, BANDS, n_p), np.ones((n_a, BANDS), np.float32), [view])
    cfg = RankingConfig(explore=width)
    gate = np.ones(n_p, bool)
    scorer = AudienceFitScorer(personal, goods, gate, cfg, Exploration(width, np.arange(n_a), np.arange(n_p), 7))
    rows = np.arange(n_p)
    for anchor in range(n_a):
        expected = scorer.expected(anchor, rows) * personal.base.quality_quantile(cfg.caution)
        score = (expected / expected.max() * goods.price * 0.2 * scorer.boost * scorer.explore.factors(anchor, rows))
        assert_pages_are_the_rule_over_every_good(scorer, goods, cfg, anchor, eligible(gate, False), rows, score)


def test_the_audience_scorer_scores_only_a_part_of_the_catalogue():
    """The bound prunes: a first page of a large catalogue scores far fewer goods than there are."""
    rng = np.random.default_rng(0)
    n_p = 20_000
    goods = Goods.of(price=rng.lognormal(3, 1, n_p), commission=rng.uniform(0, 0.3, n_p),
                     category=rng.integers(0, 4, n_p), categories=list("abcd"), new=np.zeros(n_p, bool),
                     small=np.zeros(n_p, bool))
    base = ShelfRates(rng.lognormal(0, 1, n_p).astype(np.float32), np.ones((2, 4), np.float32),
                      goods.category.astype(np.int32), goods.categories)
    view = View("gender_age", np.full((2, 4), 0.25, np.float32), rng.lognormal(0, 0.3, (n_p, 4)).astype(np.float32))
    personal = AudienceRates(base, rng.integers(0, BANDS, n_p), np.ones((2, BANDS), np.float32), [view])
    s = AudienceFitScorer(personal, goods, np.ones(n_p, bool), RankingConfig())
    assert len(s.goods_for(0, eligible(np.ones(n_p, bool), False), 20, 20).rows) < n_p / 10


def test_a_rooms_first_pages_come_from_its_kept_candidates_once_searched(ranker, monkeypatch):
    """The search for a room's first pages runs once; later first pages are proved from the kept candidates
    (and still equal the arrangement over every eligible good, which the picks tests check)."""
    scorer, unfiltered = ranker.scorer, ranker.goods_for_anchor.eligible(PickFilters(), 0)
    first = [scorer.goods_for(a, unfiltered, 20, 20) for a in range(10)]
    searches = []
    search = scorer._search_goods
    monkeypatch.setattr(scorer, "_search_goods", lambda *args: searches.append(args) or search(*args))
    again = [scorer.goods_for(a, unfiltered, 20, 20) for a in range(10)]
    page_two = [scorer.goods_for(a, unfiltered, 40, 20) for a in range(10)]
    assert not searches
    for one, two in zip(first, again, strict=True):
        assert one.rows[one.arranged].tolist() == two.rows[two.arranged].tolist()
    assert all(len(p.arranged) == 40 for p in page_two)
    scorer.goods_for(3, unfiltered, 500, 20)  # far beyond the kept pages: a search of its own
    assert len(searches) == 1


def test_a_repeated_unfiltered_page_reuses_the_arrangement_it_proved(ranker, monkeypatch):
    """A room's unfiltered first pages are arranged and proved from its kept candidates once; asked again they
    are that arrangement (a pure function of the kept candidates), without arranging; filtered ones are proved
    each time."""
    scorer, block = ranker.scorer, ranker.config.page_block
    unfiltered = ranker.goods_for_anchor.eligible(PickFilters(), 0)
    for a in range(12):
        for n in (block, 2 * block, 60):
            scorer.goods_for(a, unfiltered, n, block)
    calls = []
    needs = scorer._needs
    monkeypatch.setattr(scorer, "_needs", lambda *args: calls.append(args) or needs(*args))
    for a in range(12):
        kept = scorer._cache[a]
        for n in (block, 2 * block, 60):
            got = scorer.goods_for(a, unfiltered, n, block)
            assert got.rows is kept.rows
            fresh = needs(kept.rows, kept.score, kept.unscored, n, block, None)[1]
            assert got.arranged.tolist() == fresh.tolist()
    assert len(calls) == 0
    filtered = ranker.goods_for_anchor.eligible(PickFilters(price_max=50.0), 0)
    scorer.goods_for(0, filtered, 20, block)
    scorer.goods_for(0, filtered, 20, block)
    assert len(calls) >= 2


def test_a_repeated_unfiltered_page_keeps_its_breakdown(ranker, monkeypatch):
    """The breakdown of a kept room's unfiltered page is computed once and kept with its candidates (the same
    goods give the same figures); a filtered page computes its own each time."""
    scorer, block = ranker.scorer, ranker.config.page_block
    unfiltered = ranker.goods_for_anchor.eligible(PickFilters(), 0)
    first = {}
    for a in range(12):
        got = scorer.goods_for(a, unfiltered, 2 * block, block)
        for shown in (got.arranged[:block], got.arranged[block:]):
            first[(a, shown.tobytes())] = (shown, got.explain(shown))
    calls = []
    expected = scorer.expected
    monkeypatch.setattr(scorer, "expected", lambda *args: calls.append(args) or expected(*args))
    for (a, _), (shown, figures) in first.items():
        again = scorer.goods_for(a, unfiltered, 2 * block, block).explain(shown.copy())
        assert again is figures and not again.flags.writeable
    assert not calls
    for (a, _), (shown, figures) in first.items():
        kept = scorer._cache[a]
        picked = kept.rows[shown]
        np.testing.assert_array_equal(figures[0], expected(a, picked))
    filtered = ranker.goods_for_anchor.eligible(PickFilters(price_max=50.0), 0)
    for _ in range(2):
        got = scorer.goods_for(0, filtered, block, block)
        got.explain(got.arranged[:block])
    assert len(calls) == 2


def test_equal_scores_go_by_row_whichever_scorer_ranks():
    """Two goods of equal score (same price, commission 0) in categories 1 and 0: the lower row comes first, from
    the category x quality pool and from the room x good search alike."""
    goods = Goods.of(price=np.array([10.0, 10.0]), commission=np.array([0.0, 0.0]), category=np.array([1, 0]),
                     categories=["a", "b"], new=np.zeros(2, bool), small=np.zeros(2, bool))
    cfg, gate = RankingConfig(support_share=0.0), np.ones(2, bool)
    base = ShelfRates(np.ones(2, np.float32), np.ones((1, 2), np.float32), np.array([1, 0], np.int32),
                      goods.categories, np.full(2, 10.0, np.float32))
    personal = AudienceRates(base, np.zeros(2, np.int64), np.ones((1, BANDS), np.float32), [])
    for scorer in (ShelfRateScorer(base, goods, gate, cfg), AudienceFitScorer(personal, goods, gate, cfg)):
        assert shown(scorer, cfg, 0, eligible(gate, False), 2, 2) == [0, 1]


def test_a_catalogue_without_commissions_ranks_by_affinity_not_by_ties(small_artifact):
    """Every rate 0 (a retailer's own log): every value would be 0, so price and commission are left out (the 品控
    factor is not: refunds and a poor shop lose sales whoever earns on them)."""
    from recommender.artifact import load_model
    from recommender.columns import Columns
    from recommender.ranking import Ranker

    model = load_model(small_artifact)
    model.shelf_rate = None  # the vectors rank, as for a snapshot without a shelf table
    n = len(model.product_ids)

    def with_commission(rate: np.ndarray) -> None:
        products = Columns({**model.columns.products, "commission_rate": rate}, n)
        model.columns = dataclasses.replace(model.columns, products=products)

    with_commission(np.zeros(n))
    ranker = Ranker(model)
    power = ranker.config.vector_affinity_weight
    picks = ranker.picks(3, 20).items
    assert len(picks) == 20
    for pick in picks:
        b = pick.breakdown
        assert b["expected_value"] > 0
        trend = ranker.scorer.trend_weight * float(ranker.scorer.room_trend(3, np.array([pick.product]))[0])
        assert b["expected_value"] == pytest.approx((b["relative_affinity"] ** power + trend) * b["qc_factor"],
                                                    rel=1e-3, abs=1e-5)  # 品控 still weighs: refunds lose sales
    # one good that earns brings the earnings back: price and commission weigh again
    with_commission(np.where(np.arange(n) == 0, 0.1, 0.0))
    earning = Ranker(model).picks(3, 20).items
    assert all(p.breakdown["expected_value"] == 0 for p in earning if p.product != 0)


@pytest.mark.parametrize("audience_fit", [False, True])
@pytest.mark.parametrize("power", [0.5, 2.0])
def test_a_good_s_value_is_its_relative_expected_orders_to_the_affinity_exponent(small_artifact, audience_fit, power):
    """Under any affinity_weight, in the category x quality model and with the room x good term: expected value =
    relative affinity ** affinity_weight x price x commission, and the score that x the support boost (x the
    exploration factor, with the term)."""
    from recommender.artifact import load_model
    from recommender.ranking import Ranker

    r = Ranker(load_model(small_artifact), RankingConfig(audience_fit=audience_fit, affinity_weight=power))
    cfg = r.config
    for anchor in (3, 17):
        items = r.picks(anchor, 20).items
        for pick in items:
            b = pick.breakdown
            money = (b["order_value"] ** cfg.price_weight * b["commission_rate"] ** cfg.commission_weight
                     * b["qc_factor"])
            rel = b["relative_affinity"]  # rounded to 6 decimals: off by up to 5e-7, moving the value by its slope
            slope = power * max(rel - 5e-7, 1e-9) ** (power - 1) * money
            assert b["expected_value"] == pytest.approx(rel ** power * money, rel=1e-3, abs=slope * 5e-7 + 1e-6)
            assert ("explore" in b) == audience_fit  # the category x quality model does not explore
            assert b["score"] == pytest.approx(b["expected_value"] * b["support_boost"] * b.get("explore", 1.0),
                                                 rel=1e-3, abs=1.5e-6)  # each rounded to 6 places


def test_an_artifact_whose_price_bands_are_out_of_range_or_short_is_refused(small_artifact):
    """Each good's price band is 0..BANDS-1 (a column of the rooms' band factors): a band outside, or a band file
    not of the catalogue's length, is an ArtifactError naming the file and the range, not a wrong ranking."""
    import dataclasses
    import re

    from recommender.artifact import load_model
    from recommender.audience_fit import BANDS
    from recommender.errors import ArtifactError
    from recommender.ranking import Ranker

    model = load_model(small_artifact)
    band = np.asarray(model.personal.band).copy()
    Ranker(model, RankingConfig())  # as saved: accepted
    edge = band.copy()
    edge[:2] = [0, BANDS - 1]
    model.personal = dataclasses.replace(model.personal, band=edge)
    Ranker(model, RankingConfig())  # both ends of the range: accepted
    for wrong in (BANDS, -1):
        bad = band.copy()
        bad[3] = wrong
        model.personal = dataclasses.replace(model.personal, band=bad)
        with pytest.raises(ArtifactError, match=re.escape(f"audience/band.npy must hold a band 0-{BANDS - 1} for "
                                                          f"each of {len(band)} goods")):
            Ranker(model, RankingConfig())
    model.personal = dataclasses.replace(model.personal, band=band[:-1])
    with pytest.raises(ArtifactError, match=re.escape("audience/band.npy")):
        Ranker(model, RankingConfig())


@pytest.mark.parametrize("audience_fit", [False, True])
def test_an_artifact_whose_model_categories_disagree_with_the_catalogue_is_refused(small_artifact, audience_fit):
    """The pools and the category cap must agree: three goods filed under another category in the model is an
    ArtifactError that counts them."""
    import dataclasses
    import re

    from recommender.artifact import load_model
    from recommender.errors import ArtifactError
    from recommender.ranking import Ranker

    model = load_model(small_artifact)
    rates = model.shelf_rate
    category = np.asarray(rates.category).copy()
    category[:3] = (category[:3] + 1) % len(rates.categories)
    moved = dataclasses.replace(rates, category=category)
    model.shelf_rate = moved
    if model.personal is not None:
        model.personal = dataclasses.replace(model.personal, base=moved)
    with pytest.raises(ArtifactError, match=re.escape("shelf_rate/category.npy disagrees with the catalogue's "
                                                      "categories for 3 goods")):
        Ranker(model, RankingConfig(audience_fit=audience_fit))
