"""Retrieval is exact whichever path serves it; the arrangement honours caps and reserved slots."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from recommender.artifact import load_model
from recommender.index import NormOrderedIndex
from recommender.ranking import PickFilters, Ranker, RankingConfig
from recommender.shelf_rate import ShelfRates


@pytest.fixture(scope="module")
def ranker(small_artifact):
    return Ranker(load_model(small_artifact))


@pytest.fixture(scope="module")
def vector_ranker(small_artifact):
    """The ranking of artifacts without the shelf-rate model (older formats, no shelf table)."""
    model = load_model(small_artifact)
    model.shelf_rate = None
    return Ranker(model)


def brute(vectors, query, mask, n):
    scores = vectors @ query
    rows = np.flatnonzero(mask)
    return rows[np.lexsort((rows, -scores[rows]))][:n]


def brute_expected(ranker, anchor, mask, n):
    scores = ranker.rates.expected(anchor)
    rows = np.flatnonzero(mask)
    return rows[np.lexsort((rows, -scores[rows]))][:n]


def test_norm_ordered_scan_equals_brute_force_with_and_without_a_mask():
    rng = np.random.default_rng(0)
    vecs = (rng.normal(size=(20_000, 16)) * rng.lognormal(0, 1, (20_000, 1))).astype(np.float32)
    index = NormOrderedIndex.build(vecs)
    for seed in range(5):
        q = np.random.default_rng(seed).normal(size=16).astype(np.float32)
        mask = np.random.default_rng(seed).random(20_000) < 0.3
        assert index.search(q, 100)[0].tolist() == brute(vecs, q, np.ones(20_000, bool), 100).tolist()
        assert index.search(q, 100, mask)[0].tolist() == brute(vecs, q, mask, 100).tolist()


def test_a_subset_index_returns_original_row_numbers():
    vecs = np.random.default_rng(1).normal(size=(1000, 8)).astype(np.float32)
    rows = np.arange(0, 1000, 7)
    q = vecs[14]
    found, _ = NormOrderedIndex.build(vecs, rows).search(q, 5)
    assert set(found) <= set(rows) and found[0] == brute(vecs[rows], q, np.ones(len(rows), bool), 1)[0] * 7


FILTERS = [PickFilters(), PickFilters(category="美妆"), PickFilters(price_max=30.0), PickFilters(exclude_shelf=True)]


@pytest.mark.parametrize("filters", FILTERS)
def test_without_the_shelf_rate_model_candidates_are_the_exact_top_goods_by_vectors(vector_ranker, filters):
    ranker = vector_ranker
    for anchor in range(0, 50, 7):
        mask = ranker.filter_mask(filters, anchor)
        expected = brute(ranker.vectors, ranker.anchor_vectors[anchor], mask, 300)
        got, _ = ranker.retrieve_for_anchor(anchor, mask, 300)
        assert got.tolist() == expected.tolist()
        sup = mask & ranker.supported
        got_sup, _ = ranker.retrieve_for_anchor(anchor, mask, 50, supported_only=True)
        assert got_sup.tolist() == brute(ranker.vectors, ranker.anchor_vectors[anchor], sup, 50).tolist()


def test_the_affinity_exponent_follows_the_affinity_source(ranker, vector_ranker):
    """Expected orders are ranked with affinity_weight, the vectors' flatter affinity with its own exponent."""
    for r, power in ((ranker, ranker.config.affinity_weight), (vector_ranker, ranker.config.vector_affinity_weight)):
        for pick in r.picks(3, 20).items:
            b = pick.breakdown
            assert b["expected_value"] == pytest.approx(
                b["relative_affinity"] ** power * b["price"] ** r.config.price_weight
                * b["commission_rate"] ** r.config.commission_weight, rel=1e-3)
    assert ranker.config.affinity_weight != ranker.config.vector_affinity_weight


def test_reserved_slots_are_spread_through_each_page(ranker):
    for anchor in range(0, 50, 5):
        page = ranker.picks(anchor, 20).items
        positions = [i for i, p in enumerate(page) if p.supported]
        if int(ranker.supported.sum()) >= 20 and positions:
            assert positions[0] <= 4  # the first reserved slot is the fifth at a 20% share


def reference_arrange(cats, supported, score, n, page, support_share, max_category_share):
    """The arrangement rule written plainly: per slot, the best unused candidate (ties: earlier) that a
    due support slot asks for, else the best under the category cap, else the best left."""
    cap = max(1, math.ceil(max_category_share * page))
    ranked = sorted(range(len(score)), key=lambda i: (-score[i], i))
    used, taken, support_left = set(), [], sum(supported)
    while len(taken) < min(n, len(score)):
        per_cat, in_page, n_support = Counter(), 0, 0
        while in_page < page and len(taken) < min(n, len(score)):
            free = [i for i in ranked if i not in used]
            pick = None
            if support_left > 0 and math.floor((in_page + 1) * support_share) > n_support:
                pick = next((i for i in free if supported[i] and per_cat[cats[i]] < cap), None)
            if pick is None:
                pick = next((i for i in free if per_cat[cats[i]] < cap), None)
            if pick is None:
                pick = free[0]
            used.add(pick)
            taken.append(pick)
            per_cat[cats[pick]] += 1
            in_page += 1
            if supported[pick]:
                n_support += 1
                support_left -= 1
    return taken


@pytest.mark.parametrize("seed", range(40))
def test_arrangement_equals_the_plain_rule(seed):
    rng = np.random.default_rng(seed)
    n_goods, n_cats = 400, int(rng.integers(1, 8))
    stub = Ranker.__new__(Ranker)  # _arrange reads only these
    stub.categories = [f"c{i}" for i in range(n_cats)]
    stub.category_code = rng.integers(-1 if seed % 4 == 0 else 0, n_cats, n_goods)  # -1: a good with no category
    stub.supported = rng.random(n_goods) < rng.choice([0.0, 0.05, 0.3, 1.0])
    stub._slot_code = Ranker.slot_codes(stub.category_code, stub.supported)
    stub.config = RankingConfig(support_share=float(rng.choice([0.0, 0.2, 0.35, 1.0])),
                                max_category_share=float(rng.choice([0.1, 0.3, 0.5, 1.0])))
    m = int(rng.integers(0, 120))
    rows = rng.choice(n_goods, m, replace=False)
    score = rng.choice([1.0, 2.0, 3.0], m) if seed % 3 == 0 else rng.random(m)  # ties, or none
    for page in (1, 5, 20):
        for n in (page, 3 * page, 2 * page + 1):
            expected = reference_arrange(stub.category_code[rows].tolist(), stub.supported[rows].tolist(),
                                         score.tolist(), n, page, stub.config.support_share,
                                         stub.config.max_category_share)
            assert stub._arrange(stub._slot_code[rows], score, n, page).tolist() == expected


def test_remembered_reasons_give_the_same_pages_and_do_not_leak_edits(ranker):
    def pages():
        return [(p.product, p.score, p.breakdown, p.reasons, p.supported)
                for anchor in range(0, 50, 3) for p in ranker.picks(anchor, 20, 0).items]

    ranker.fixed_memo_size, ranker._fixed_memo = 0, {}
    plain = pages()
    ranker.fixed_memo_size = 5  # a small memo starts over often
    assert pages() == plain
    ranker.fixed_memo_size = 10_000
    first = ranker.picks(0, 20).items
    first[0].reasons[-1]["text"] = "edited"
    first[0].supported.append("edited")
    assert pages() == plain


def test_the_category_cap_holds_when_a_room_s_own_best_goods_are_of_one_category(ranker):
    # a room's 20 goods with the most expected orders are nearly all of its main category; a cap of 5 a page is
    # kept, not relaxed, because every category's best goods are candidates
    strict = Ranker(ranker.model, RankingConfig(max_category_share=0.25, support_share=0.0))
    for anchor in range(0, 50, 5):
        best = np.argsort(-strict.rates.expected(anchor)[strict.gate], kind="stable")[:20]
        own = Counter(strict.category_code[np.flatnonzero(strict.gate)[best]].tolist()).most_common(1)[0][1]
        for offset in (0, 20):
            page = strict.picks(anchor, 20, offset).items
            cats = Counter(strict.category_code[[p.product for p in page]].tolist())
            assert len(page) == 20 and max(cats.values()) <= 5, (anchor, own, cats)


@pytest.mark.parametrize("k", [7, 20, 33])
def test_pages_of_every_room_continue_without_repeats(ranker, k):
    """Page p+1 continues page p: the candidates depend on k, not on the offset (the category pool included)."""
    for anchor in range(50):
        shown = [p.product for offset in range(0, 5 * k, k) for p in ranker.picks(anchor, k, offset).items]
        assert len(shown) == len(set(shown)), anchor
        assert shown[:k] == [p.product for p in ranker.picks(anchor, k, 0).items]


def test_a_filtered_request_keeps_the_category_pool_within_its_filters(ranker):
    filters = PickFilters(price_min=20.0, price_max=200.0)
    for anchor in range(0, 50, 7):
        mask = ranker.filter_mask(filters, anchor)
        pool = ranker.category_pool(6, mask).rows
        assert len(pool) and mask[pool].all()
        page = ranker.picks(anchor, 20, 0, filters).items
        assert all(20.0 <= ranker.price[p.product] <= 200.0 for p in page)


def brute_scores(ranker, anchor, rows):
    """A room's score of goods `rows` as the module docstring defines it, from the catalogue columns."""
    cfg = ranker.config
    expected = ranker.rates.expected(anchor).astype(float)
    top = expected[ranker.gate].max()
    boost = np.where(ranker.supported[rows], 1 + cfg.support_boost, 1)
    return ((expected[rows] / top) ** cfg.affinity_weight * ranker.price[rows] ** cfg.price_weight
            * ranker.commission[rows] ** cfg.commission_weight * boost)


@pytest.mark.parametrize("filters", FILTERS)
def test_picks_are_the_arrangement_rule_applied_to_every_eligible_good(ranker, filters):
    """No retrieval shortlist: the pages are what the plain rule gives over the whole filtered catalogue."""
    cfg = ranker.config
    for anchor in range(0, 50, 7):
        mask = ranker.filter_mask(filters, anchor)
        rows = np.flatnonzero(mask)
        score = brute_scores(ranker, anchor, rows)
        rows, score = rows[np.lexsort((rows, -score))], np.sort(score)[::-1]  # ties by row (none here: the pool
        # orders ties by category, then own, then row)
        for k, offset in ((20, 0), (20, 20), (7, 14)):
            expected = reference_arrange(ranker.category_code[rows].tolist(), ranker.supported[rows].tolist(),
                                         score.tolist(), offset + k, k, cfg.support_share, cfg.max_category_share)
            page = ranker.picks(anchor, k, offset, filters)
            got = [p.product for p in page.items]
            assert got == rows[expected[offset:offset + k]].tolist(), (anchor, k, offset)
            np.testing.assert_allclose([p.score for p in page.items], brute_scores(ranker, anchor, got), rtol=1e-5)


def test_anchors_for_a_good_are_the_rooms_expecting_the_most_orders(ranker):
    """With the shelf-rate model: gated rooms by expected orders if shelved, ties by row; pages continue."""
    for product in (0, 17, len(ranker.price) - 1):
        expected = ranker.rates.expected(np.arange(len(ranker.anchor_gate)), np.array([product]))[:, 0]
        rows = np.flatnonzero(ranker.anchor_gate)
        best = rows[np.lexsort((rows, -expected[rows]))]
        first, second = ranker.anchors_for(product, 10), ranker.anchors_for(product, 10, offset=10)
        assert [it["anchor"] for it in first.items + second.items] == best[:20].tolist()
        np.testing.assert_allclose([it["breakdown"]["expected_orders_30d"] for it in first.items],
                                   expected[best[:10]], rtol=1e-5, atol=1e-6)  # rounded to 6 decimals
        assert first.candidates == len(rows) and first.next_offset == 10


def test_anchors_for_a_good_page_through_tied_rooms_by_row(ranker, monkeypatch):
    """Rooms with no sales, shelf or fans get identical strengths; pages must still continue without repeats."""
    room = np.array(ranker._room)
    room[::2] = room[0]  # half the rooms tied
    monkeypatch.setattr(ranker, "_room", room)
    for product in (3, 40):
        score = room[:, ranker._room_col[product]].astype(float)
        rows = np.flatnonzero(ranker.anchor_gate)
        expected = rows[np.lexsort((rows, -score[rows]))][:40].tolist()
        pages = [it["anchor"] for offset in range(0, 40, 10) for it in ranker.anchors_for(product, 10, offset).items]
        assert pages == expected


def test_anchors_for_a_good_without_the_shelf_rate_model_are_ranked_by_their_score(vector_ranker):
    page = vector_ranker.anchors_for(5, 15, tier=None, min_fans=10)
    scores = [it["score"] for it in page.items]
    assert len(scores) == 15 and scores == sorted(scores, reverse=True)
    rows = [it["anchor"] for it in page.items]
    assert vector_ranker.anchor_gate[rows].all() and (vector_ranker.model.audience.fans[rows] >= 10).all()


def stub_ranker(seed: int) -> Ranker:
    """A ranker over a random small catalogue with random settings, ties when the seed is even, a category with
    no gated goods, and rooms of zero strength in some categories."""
    rng = np.random.default_rng(seed)
    n_p, n_c = int(rng.integers(1, 400)), int(rng.integers(1, 8))
    cfg = RankingConfig(support_share=float(rng.choice([0.0, 0.2, 0.35, 1.0])),
                        max_category_share=float(rng.choice([0.1, 0.3, 0.7, 1.0])),
                        affinity_weight=float(rng.choice([1.0, 0.5, 2.0])),
                        support_boost=float(rng.choice([0.0, 0.25, 3.0])))
    r = Ranker.__new__(Ranker)  # _prepare_expected and the arrangement read only these
    r.config = cfg
    r.category_code = rng.integers(0, n_c, n_p)
    r.categories = [f"c{i}" for i in range(n_c)]
    r.supported = rng.random(n_p) < rng.choice([0.0, 0.05, 0.3, 0.9])
    r.gate = (rng.random(n_p) < rng.choice([1.0, 0.7])) & ((r.category_code != 0) | (n_c == 1))
    tie = seed % 2 == 0
    quality = (rng.integers(1, 4, n_p) / 3 if tie else rng.lognormal(0, 1, n_p)).astype(np.float32)
    room = (rng.integers(0, 3, (5, n_c)) / 2 if tie else rng.lognormal(0, 2, (5, n_c))).astype(np.float32)
    price = rng.choice([10.0, 20.0], n_p) if tie else rng.lognormal(3, 1, n_p)
    commission = rng.choice([0.0, 0.1, 0.2], n_p) if tie else rng.uniform(0, 0.3, n_p)
    r.rates = ShelfRates(quality, room, r.category_code.astype(np.int32), r.categories)
    r._price_term, r._commission_term = price ** cfg.price_weight, commission ** cfg.commission_weight
    r._boost = np.where(r.supported, 1 + cfg.support_boost, 1.0)
    r._slot_code = Ranker.slot_codes(r.category_code, r.supported)
    r._prepare_expected()
    return r


@pytest.mark.parametrize("seed", range(80))
def test_the_category_pool_equals_ranking_every_eligible_good_under_any_settings(seed):
    """Pages from the pool of each category's first n (and first n supported) goods equal the arrangement over
    every eligible good, in the pool's order, and pages joined end to end equal one long page."""
    r = stub_ranker(seed)
    rng = np.random.default_rng(seed)
    for anchor in range(5):
        for mask in (None, r.gate & (rng.random(len(r.gate)) < 0.6)):
            rows = np.flatnonzero(r.gate if mask is None else mask)
            rows = rows[np.lexsort((rows, -r._own[rows], r._room_col[rows]))]
            # the score as the ranker factors it (room strength x the good's own factor), so exact ties stay ties
            room = r._room[anchor].astype(float)
            strength = room * 30 / max(float((room * r._best_unit).max()), 1e-12)
            score = strength[r._room_col[rows]] ** r.config.affinity_weight * r._own[rows]
            for k, offset in ((1, 0), (5, 0), (5, 15), (20, 7)):
                got = r._score_expected(anchor, mask, offset + k, k, offset)[0].tolist()
                want = rows[r._arrange(r._slot_code[rows], score, offset + k, k)[offset:offset + k]].tolist()
                assert got == want and len(set(got)) == len(got), (anchor, k, offset)
            pages = [g for o in range(0, 40, 5) for g in r._score_expected(anchor, mask, o + 5, 5, o)[0].tolist()]
            assert pages == r._score_expected(anchor, mask, 40, 5, 0)[0].tolist()
