"""The page-arrangement rule: best first under the category cap, with reserved slots for supported goods."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.ranking import arrange, slot_codes
from tests.recommender.ranking.plain_rules import reference_arrange


@pytest.mark.parametrize("seed", range(40))
def test_arrangement_equals_the_plain_rule(seed):
    rng = np.random.default_rng(seed)
    n_goods, n_cats = 400, int(rng.integers(1, 8))
    category = rng.integers(-1 if seed % 4 == 0 else 0, n_cats, n_goods)  # -1: a good with no category
    supported = rng.random(n_goods) < rng.choice([0.0, 0.05, 0.3, 1.0])
    share, cap = float(rng.choice([0.0, 0.2, 0.35, 1.0])), float(rng.choice([0.1, 0.3, 0.5, 1.0]))
    m = int(rng.integers(0, 120))
    rows = rng.choice(n_goods, m, replace=False)
    score = rng.choice([1.0, 2.0, 3.0], m) if seed % 3 == 0 else rng.random(m)  # ties, or none
    outside = rng.random(n_cats) < 0.5 if seed % 2 else None  # categories outside the room's own (拓品类)
    away_share = float(rng.choice([0.0, 0.1, 0.25, 1.0]))
    for page in (1, 5, 20):
        for n in (page, 3 * page, 2 * page + 1):
            expected = reference_arrange(category[rows].tolist(), supported[rows].tolist(), score.tolist(), n, page,
                                         share, cap, None if outside is None else outside.tolist(), away_share)
            got = arrange(slot_codes(category, supported)[rows], score, n, page, max_category_share=cap,
                          support_share=share, outside=outside, max_outside_share=away_share)
            assert got.tolist() == expected


@pytest.mark.parametrize("seed", range(3))
def test_deep_pages_of_a_room_whose_main_category_is_capped_equal_the_plain_rule(seed):
    # most candidates in one category capped at 30% of a page: its goods are used more slowly than the others',
    # so deep pages start far behind the other categories' frontier (the regime of offsets in the thousands)
    rng = np.random.default_rng(100 + seed)
    m, n_cats = 1500, 6
    category = np.where(rng.random(m) < 0.75, 0, rng.integers(1, n_cats, m))
    category[rng.random(m) < 0.02] = -1
    supported = rng.random(m) < 0.1
    score = rng.random(m) ** 3 if seed else rng.choice([1.0, 2.0], m)
    outside = np.array([False, False, True, True, False, True])
    expected = reference_arrange(category.tolist(), supported.tolist(), score.tolist(), 1000, 20, 0.2, 0.3,
                                 outside.tolist(), 0.25)
    got = arrange(slot_codes(category, supported), score, 1000, 20, max_category_share=0.3, support_share=0.2,
                  outside=outside, max_outside_share=0.25)
    assert got.tolist() == expected


def test_a_category_s_two_slot_codes_differ_in_the_last_bit_only():
    codes = slot_codes(np.array([0, 0, 3, -1, -1]), np.array([False, True, True, False, True]))
    assert codes.tolist() == [0, 1, 7, -2, -1]
    assert (codes ^ 1).tolist() == [1, 0, 6, -1, -2]


def test_the_cap_gives_way_only_when_nothing_else_is_left():
    # five goods of category 0, best first, and one of category 1: a page of 4 at a cap of half a page takes two
    # of category 0, then category 1, then (nothing else left) a third of category 0
    code = slot_codes(np.array([0, 0, 0, 0, 0, 1]), np.zeros(6, bool))
    score = np.array([6.0, 5, 4, 3, 2, 1])
    assert arrange(code, score, 4, 4, max_category_share=0.5, support_share=0).tolist() == [0, 1, 5, 2]


def test_goods_outside_the_room_s_categories_take_at_most_their_share_of_a_page():
    # categories 0 (the room's) and 1 (outside it), alternating in score: a page of 10 at a 20% share takes two
    # of category 1, then every good of category 0, then (nothing else left) more of category 1
    category = np.array([1, 0] * 6)
    code = slot_codes(category, np.zeros(12, bool))
    score = np.arange(12, 0, -1, dtype=float)
    got = arrange(code, score, 10, 10, max_category_share=1.0, support_share=0, outside=np.array([False, True]),
                  max_outside_share=0.2)
    assert category[got].tolist() == [1, 0, 1, 0, 0, 0, 0, 0, 1, 1]
