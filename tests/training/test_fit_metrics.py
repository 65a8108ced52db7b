"""The measures of a personal ranking, on cases small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from training.fit_metrics import dear_share, identical_top_share, main_category_spearman


def test_identical_top_share_counts_pairs_within_a_group_only():
    ranked = np.array([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1], [1, 2, 3, 4, 6], [1, 2, 3, 4, 5]])
    groups = np.array([0, 0, 0, 1])
    # group 0: rows 0 and 1 hold the same set (order aside), row 2 differs: 2 of 6 ordered pairs; group 1 alone
    assert identical_top_share(ranked, groups) == pytest.approx(2 / 6)
    assert np.isnan(identical_top_share(ranked[3:], groups[3:]))


def test_main_category_spearman_is_one_for_the_truth_s_order_and_minus_one_reversed():
    rng = np.random.default_rng(0)
    expected = rng.random((3, 12)) + 0.1
    category = np.array([0] * 6 + [1] * 6)
    main = np.array([0, 1, 0])
    assert main_category_spearman(expected * 7, expected, category, main) == pytest.approx(1.0)
    assert main_category_spearman(-expected, expected, category, main) == pytest.approx(-1.0)
    # goods of other categories do not count: scrambling them changes nothing
    scrambled = expected.copy()
    scrambled[:, 6:] = rng.random((3, 6))
    assert main_category_spearman(scrambled, expected, category, np.array([0, 0, 0])) == pytest.approx(1.0)


def test_dear_share_reads_only_rooms_with_a_limit():
    price = np.array([10.0, 50.0, 200.0, 900.0])
    ranked = np.array([[3, 2, 1, 0], [0, 1, 2, 3]])
    limit = np.array([100.0, np.nan])  # the second room is not price-sensitive
    assert dear_share(ranked, price, limit, k=4) == pytest.approx(2 / 4)


def test_edge_cases_are_said_not_hidden():
    expected = np.array([[3.0, 2.0, 1.0, 0.5], [3.0, 2.0, 1.0, 0.5]])
    category = np.zeros(4, int)
    # a room without a main category is left out; a model that scores every good alike counts as 0
    assert main_category_spearman(np.ones((2, 4)), expected, category, np.array([0, -1])) == 0.0
    assert np.isnan(main_category_spearman(expected, expected, category, np.array([-1, -1])))
    # nothing measurable (no room has a limit, or only padding) is NaN, not 0
    assert np.isnan(dear_share(np.array([[0, 1]]), np.array([1.0, 2.0]), np.array([np.nan]), k=2))
    assert np.isnan(dear_share(np.array([[-1, -1]]), np.array([1.0, 2.0]), np.array([1.5]), k=2))
    # groups of one, or without a main category, have no pairs
    assert np.isnan(identical_top_share(np.array([[1, 2], [1, 2]]), np.array([0, -1]), k=2))
