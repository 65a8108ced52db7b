"""Goods for an anchor: every eligible good ranked, pages that continue, the cap and reserved slots kept."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from recommender import reasons
from recommender.artifact import load_model
from recommender.ranking import PickFilters, Ranker, RankingConfig
from tests.recommender.ranking.conftest import FILTERS
from tests.recommender.ranking.plain_rules import expected_value, reference_arrange
from training.fit_metrics import identical_top_share


def test_reserved_slots_are_spread_through_each_page(ranker):
    for anchor in range(0, 50, 5):
        page = ranker.picks(anchor, 20).items
        positions = [i for i, p in enumerate(page) if p.supported]
        if int(ranker.goods.supported.sum()) >= 20 and positions:
            assert positions[0] <= 4  # the first reserved slot is the fifth at a 20% share


def test_the_category_cap_holds_when_a_room_s_own_best_goods_are_of_one_category(ranker):
    # a room's 20 goods with the most expected orders are nearly all of its main category; a cap of 3 in each
    # block of 10 (ceil(0.25 x 10)) is kept, not relaxed, because every category's best goods are candidates
    strict = Ranker(ranker.model, RankingConfig(max_category_share=0.25, support_share=0.0))
    category = strict.goods.category
    for anchor in range(0, 50, 5):
        best = np.argsort(-strict.model.shelf_rate.expected(anchor)[strict.gate], kind="stable")[:20]
        own = Counter(category[np.flatnonzero(strict.gate)[best]].tolist()).most_common(1)[0][1]
        for offset in (0, 20):
            page = strict.picks(anchor, 20, offset).items
            assert len(page) == 20
            for block in (page[:10], page[10:]):
                cats = Counter(category[[p.product for p in block]].tolist())
                assert max(cats.values()) <= 3, (anchor, own, cats)


@pytest.mark.parametrize("k", [7, 20, 33])
def test_pages_of_every_room_continue_without_repeats(ranker, k):
    """Page p+1 continues page p: the candidates depend on k, not on the offset (the category pool included)."""
    for anchor in range(50):
        shown = [p.product for offset in range(0, 5 * k, k) for p in ranker.picks(anchor, k, offset).items]
        assert len(shown) == len(set(shown)), anchor
        assert shown[:k] == [p.product for p in ranker.picks(anchor, k, 0).items]


def test_a_good_s_figures_do_not_depend_on_the_page_it_is_shown_on(ranker):
    """The same pick at k=1, in a page of 50, and alone at its offset: every figure of its breakdown is equal to
    the last digit (a matrix product's kernel once depended on how many goods were scored)."""
    for anchor in range(50):
        fifty = ranker.picks(anchor, 50).items
        assert fifty[0].breakdown == ranker.picks(anchor, 1).items[0].breakdown, anchor
        for at in (7, 23, 41):
            if at < len(fifty):
                alone = ranker.picks(anchor, 1, at).items[0]
                assert (alone.product, alone.breakdown) == (fifty[at].product, fifty[at].breakdown), (anchor, at)


@pytest.mark.parametrize("filters", [PickFilters(), PickFilters(price_max=100.0)])
def test_pages_are_slices_of_one_order_and_each_holds_the_cap(ranker, filters):
    """Two pages of 10 are one page of 20, five of 10 one of 50, whatever the filters; every page of 10 (at any
    offset that is a multiple of 10) holds the category cap (7 of 10) and a page of 20 holds 14."""
    category = ranker.goods.category
    for anchor in range(0, 50, 3):
        fifty = [p.product for p in ranker.picks(anchor, 50, 0, filters).items]
        tens = [p.product for offset in range(0, 50, 10) for p in ranker.picks(anchor, 10, offset, filters).items]
        twenties = [p.product for offset in (0, 20) for p in ranker.picks(anchor, 20, offset, filters).items]
        assert tens == fifty and twenties == fifty[:40], anchor
        assert [p.product for p in ranker.picks(anchor, 20, 10, filters).items] == fifty[10:30]
        for size in (10, 20):
            for at in range(0, len(fifty) - size + 1, 10):
                most = max(Counter(category[fifty[at:at + size]].tolist()).values())
                assert most <= 0.7 * size, (anchor, size, at)


def test_filters_narrow_the_picks(ranker):
    filters = PickFilters(price_min=20.0, price_max=200.0)
    for anchor in range(0, 50, 7):
        page = ranker.picks(anchor, 20, 0, filters).items
        assert page and all(20.0 <= ranker.goods.price[p.product] <= 200.0 for p in page)


@pytest.mark.parametrize("which", ["ranker", "shelf_ranker", "explore_ranker", "plain_ranker"])
@pytest.mark.parametrize("filters", FILTERS)
def test_picks_are_the_arrangement_rule_applied_to_every_eligible_good(which, filters, request):
    """No retrieval shortlist: the pages are what the plain rule gives over the whole filtered catalogue, with
    the room x good term and without it, and with exploration's factors."""
    ranker = request.getfixturevalue(which)
    cfg, goods = ranker.config, ranker.goods
    for anchor in range(0, 50, 7):
        mask = ranker.goods_for_anchor.filter_mask(filters, anchor)
        rows = np.flatnonzero(mask)
        score = expected_value(ranker, anchor, rows)
        rows, score = rows[np.lexsort((rows, -score))], np.sort(score)[::-1]  # no exact ties here
        for k, offset in ((20, 0), (20, 20), (7, 14)):
            # whatever k, the list is arranged in blocks of page_block: a page is a slice of one order
            expected = reference_arrange(goods.category[rows].tolist(), goods.supported[rows].tolist(),
                                         score.tolist(), offset + k, cfg.page_block, cfg.support_share,
                                         cfg.max_category_share)
            page = ranker.picks(anchor, k, offset, filters)
            got = [p.product for p in page.items]
            assert got == rows[expected[offset:offset + k]].tolist(), (anchor, k, offset)
            np.testing.assert_allclose([p.score for p in page.items], expected_value(ranker, anchor, got), rtol=1e-5)


def test_a_page_says_how_many_goods_were_eligible_and_where_the_next_starts(ranker):
    goods = ranker.goods
    biggest = goods.categories[int(np.bincount(goods.category[ranker.gate]).argmax())]
    filters = PickFilters(category=biggest)
    eligible = int(np.count_nonzero(ranker.gate & goods.in_category(biggest)))
    assert eligible > 25
    page = ranker.picks(0, 20, 0, filters)
    assert page.candidates == eligible and page.next_offset == 20
    last = ranker.picks(0, 20, eligible - 5, filters)
    assert len(last.items) == 5 and last.next_offset is None


def _main_category_tops(ranker, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rooms = np.flatnonzero(ranker.anchor_gate)
    main = ranker.model.anchors["main_category"].to_numpy()[rooms]
    tops = np.full((len(rooms), k), -1)
    for i, (a, cat) in enumerate(zip(rooms, main, strict=True)):
        got = [p.product for p in ranker.picks(int(a), k, 0, PickFilters(category=cat)).items]
        tops[i, :len(got)] = got
    return tops, pd.factorize(main)[0]


def test_rooms_of_one_vertical_get_their_own_first_picks_in_it(ranker, shelf_ranker):
    """With the room x good term, few pairs of rooms sharing a main category see the same five goods first in
    it; the category x quality model shows every such pair the same five."""
    personal, groups = _main_category_tops(ranker)
    alike, _ = _main_category_tops(shelf_ranker)
    assert identical_top_share(personal, groups) < 0.3
    assert identical_top_share(alike, groups) > 0.9


def test_picks_outside_the_room_s_own_categories_are_marked_justified_and_capped(small_artifact):
    """拓品类: a pick whose category is neither the room's main one nor 15% of its GMV is marked, says how many
    rooms with fans like its fans sell that category, and takes at most max_outside_share of a page."""
    model = load_model(small_artifact)
    free, capped = Ranker(model), Ranker(model, RankingConfig(max_outside_share=0.1))
    rooms, seen, fewer = free.rooms, 0, 0
    for anchor in range(len(model.anchor_ids)):
        outside = rooms.outside(anchor, free.config.home_share)
        if outside is None:
            continue
        for pick in free.picks(anchor, 20).items:
            assert pick.outside == bool(outside[free.goods.category[pick.product]])
            codes = [r["code"] for r in pick.reasons]
            assert ("outside_category" in codes) == pick.outside
            seen += pick.outside
        page = capped.picks(anchor, 20).items
        # at most 1 in each block of 10, unless every own category is capped (7) in the block or used up by then
        left = {int(c): int((free.gate & (free.goods.category == c)).sum()) for c in np.flatnonzero(~outside)}
        for block in (page[:10], page[10:]):
            used = Counter(int(free.goods.category[p.product]) for p in block if not p.outside)
            if sum(p.outside for p in block) > 1:
                assert all(used[c] >= 7 or used[c] == n for c, n in left.items()), (anchor, used, left)
            left = {c: n - used[c] for c, n in left.items()}
        fewer += sum(p.outside for p in page) < sum(p.outside for p in free.picks(anchor, 20).items)
    assert seen > 20 and fewer > 5


def test_every_category_outside_a_room_is_justified_the_first_of_the_audience_categories_too(small_artifact):
    """拓品类 reasons are given per category: the category in the audience's first column is no exception."""
    model = load_model(small_artifact)
    ranker = Ranker(model)
    first = model.audience.labels["category"][0]
    code = ranker.categories.index(first)
    checked = 0
    for anchor in range(len(model.anchor_ids)):
        outside = ranker.rooms.outside(anchor, ranker.config.home_share)
        if outside is None or not outside[code]:
            continue
        for pick in ranker.picks(anchor, 5, filters=PickFilters(category=first)).items:
            assert pick.outside and "outside_category" in [r["code"] for r in pick.reasons], anchor
            checked += 1
        if checked >= 20:
            break
    assert checked >= 20


def test_a_category_no_similar_room_sells_is_not_justified_by_0_percent(small_artifact):
    """Where no room with fans like the room's sells the category, "0% of them sell it" would argue against the
    pick: the reason cites the room's own fans buying the category (from the audience's shares), or says the
    estimate rests on the good's sales elsewhere."""
    model = load_model(small_artifact)
    ranker = Ranker(model)
    labels = model.audience.labels["category"]
    checked = 0
    for anchor in range(len(model.anchor_ids)):
        for pick in ranker.picks(anchor, 20).items:
            if not pick.outside:
                continue
            reason = next(r for r in pick.reasons if r["code"] == "outside_category")
            assert " 0% " not in reason["text"], reason
            col = labels.index(model.products["category"].iloc[pick.product])
            if round(ranker.rooms.peers_selling(anchor, col), 2) == 0:
                fans = float(ranker.rooms.category_shares[anchor, col])
                if ranker.rooms.fans[anchor] < reasons.MIN_FANS_FOR_SHARES:  # too few fans for a share to be cited
                    fans = 0.0
                assert reason["value"] == round(fans, 4) and (f"{fans:.0%}" in reason["text"] or fans < 0.005)
                if reason["value"] > 0:  # the category match would say the same figure again
                    assert "audience_match" not in [r["code"] for r in pick.reasons]
                checked += 1
    assert checked >= 1


def test_the_similar_rooms_a_pick_outside_the_room_s_categories_cites_are_others(small_artifact):
    """"粉丝与你相似的直播间中 X% 在卖…" counts the room's peers, never the room: X is recomputed from the peer
    groups leaving the room out, and a room alone in its group cites no peers (it was "100%" of itself)."""
    model = load_model(small_artifact)
    ranker = Ranker(model)
    group, gmv = np.asarray(model.personal.group), np.asarray(model.anchor_category_gmv, float)
    labels = model.audience.labels["category"]
    checked = alone = 0
    for anchor in range(len(model.anchor_ids)):
        peers = np.flatnonzero((group == group[anchor]) & (np.arange(len(group)) != anchor))
        for pick in ranker.picks(anchor, 20).items:
            if not pick.outside:
                continue
            reason = next(r for r in pick.reasons if r["code"] == "outside_category")
            col = labels.index(model.products["category"].iloc[pick.product])
            share = float((gmv[peers, col] > 0).mean()) if len(peers) else 0.0
            if round(share, 2) > 0:
                assert reason["value"] == round(share, 4) and f"{share:.0%}" in reason["text"], (anchor, reason)
                checked += 1
            else:
                assert "相似的直播间中" not in reason["text"], (anchor, reason)
                alone += len(peers) == 0
    assert checked >= 20 and alone >= 1


def test_a_pick_the_room_sold_last_week_tells_it_so_in_its_sales_proof(ranker):
    """A good's sales proof (近7天 N 位主播在带货) is told apart to an anchor who is one of those sellers: exactly
    the picks the room sold in the last 7 days (checked against sold_within) whose first own reason is the proof."""
    from recommender.ranking.ranker import sold_within

    n_goods = len(ranker.model.product_ids)
    sold = set(sold_within(ranker.model, 7).tolist())
    told = 0
    for anchor in range(0, len(ranker.model.anchor_ids), 3):
        for pick in ranker.picks(anchor, 50).items:
            proof = bool(pick.good_reasons) and pick.good_reasons[0]["code"] == "sales_proof"
            mine = anchor * n_goods + pick.product in sold
            assert (pick.own_sales is not None) == (mine and proof), (anchor, pick.product)
            if pick.own_sales is not None:
                assert pick.own_sales["code"] == "sales_proof" and ("你和另外" in pick.own_sales["text"]
                                                                   or "只有你" in pick.own_sales["text"])
                told += 1
    assert told >= 3


def test_exploration_reorders_near_ties_without_changing_a_figure(plain_ranker, explore_ranker):
    """Exploration changes some rooms' first five in their vertical, not all (only near-ties move); a pick's
    shown figures are the model's whatever its factor, and its score is its value x support boost x that
    factor."""
    plain, _ = _main_category_tops(plain_ranker)
    explored, _ = _main_category_tops(explore_ranker)
    changed = (np.sort(plain, axis=1) != np.sort(explored, axis=1)).any(axis=1).mean()
    assert 0.1 < changed < 0.9
    for anchor in range(0, 50, 5):
        page = explore_ranker.picks(anchor, 20).items
        shown = {p.product: p.breakdown for p in plain_ranker.picks(anchor, 200).items}
        assert all("explore" not in b for b in shown.values())
        for pick in page:
            figures = pick.breakdown
            assert 1 / np.exp(0.3) <= figures["explore"] <= np.exp(0.3)
            assert pick.score == pytest.approx(figures["expected_value"] * figures["support_boost"]
                                               * figures["explore"], rel=1e-5)
            if pick.product in shown:
                for name in ("expected_commission_30d", "expected_commission_30d_p05", "affinity", "expected_value"):
                    assert figures[name] == shown[pick.product][name], (anchor, pick.product, name)


def test_exploration_never_puts_a_good_above_one_worth_more_than_its_factors_can_bridge(explore_ranker):
    """Among picks of one category and support status (the arrangement takes them in score order), a later
    pick's value is never more than e^(2 x explore) times an earlier one's."""
    bridge = np.exp(2 * explore_ranker.config.explore)
    swaps = 0
    for anchor in range(50):
        page = explore_ranker.picks(anchor, 50).items
        code = [(explore_ranker.goods.category[p.product], bool(p.supported)) for p in page]
        value = [p.breakdown["expected_value"] for p in page]
        for i in range(len(page)):
            for j in range(i + 1, len(page)):
                if code[i] == code[j]:
                    assert value[j] <= value[i] * bridge * (1 + 1e-6), (anchor, i, j)
                    swaps += value[j] > value[i]
    assert swaps > 0  # near-ties do swap
