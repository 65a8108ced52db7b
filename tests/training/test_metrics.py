"""Metrics match hand-computed values."""

import numpy as np
import pytest
import scipy.sparse as sp

from training.metrics import bootstrap_ci, coverage, hits, ndcg_at_k, ranking_metrics, top_k


def test_graded_ndcg_matches_a_hand_computed_case():
    gains = np.array([[3.0, 2.0, 0.0, 1.0]])
    ranked = np.array([[1, 0, 3]])
    # dcg = 2/log2(2) + 3/log2(3) + 1/log2(4); ideal = 3 + 2/log2(3) + 1/log2(4)
    assert np.isclose(ndcg_at_k(ranked, gains, 3)[0], (2 + 3 / np.log2(3) + 0.5) / (3 + 2 / np.log2(3) + 0.5))


def test_perfect_graded_ranking_scores_one_and_padding_scores_nothing():
    gains = np.array([[0.0, 5.0, 1.0], [1.0, 0.0, 0.0]])
    assert np.allclose(ndcg_at_k(np.array([[1, 2], [0, 1]]), gains, 2), 1.0)
    assert ndcg_at_k(np.array([[-1, -1]]), gains[:1], 2)[0] == 0.0


def test_rows_without_gain_are_nan():
    assert np.isnan(ndcg_at_k(np.array([[0]]), np.zeros((1, 3)), 1)[0])


def test_top_k_orders_best_first():
    assert top_k(np.array([[0.1, 0.9, 0.5, 0.7]]), 3).tolist() == [[1, 3, 2]]


@pytest.fixture
def case():
    # user 0 bought items 2 (GMV 10) and 5 (GMV 30); user 1 bought item 0 (GMV 5); user 2 bought nothing
    truth = sp.csr_matrix(([10.0, 30.0, 5.0], ([0, 0, 1], [2, 5, 0])), shape=(3, 6))
    ranked = np.array([[5, 1, 2, 3], [4, 3, 1, -1], [0, 1, 2, 3]])
    return ranked, truth


def test_hits_marks_relevant_positions(case):
    ranked, truth = case
    assert hits(ranked, truth).tolist() == [[True, False, True, False], [False] * 4, [False] * 4]


def test_binary_metrics_match_hand_computed_values(case):
    ranked, truth = case
    m = ranking_metrics(ranked, truth, ks=(1, 3))
    assert m["users"].tolist() == [0, 1]  # a user with nothing to find is not scored
    assert m["recall@1"].tolist() == [0.5, 0.0]
    assert m["recall@3"].tolist() == [1.0, 0.0]
    assert m["hitrate@1"].tolist() == [1.0, 0.0]
    # user 0 @3: hits at ranks 1 and 3 -> dcg = 1 + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3)
    assert m["ndcg@3"][0] == pytest.approx(1.5 / (1 + 1 / np.log2(3)))
    # MAP@3 for user 0: (1/1 + 2/3) / min(2, 3)
    assert m["map@3"][0] == pytest.approx((1 + 2 / 3) / 2)
    # GMV recall@1 for user 0: found item 5 (GMV 30) of 40
    assert m["gmv_recall@1"][0] == pytest.approx(0.75)
    assert m["gmv_recall@3"][0] == pytest.approx(1.0)


def test_coverage_counts_distinct_items_shown():
    assert coverage(np.array([[0, 1], [1, -1]]), 4) == 0.5


def test_bootstrap_interval_contains_the_mean_and_narrows_with_more_users():
    rng = np.random.default_rng(0)
    small = rng.random(50)
    large = rng.random(5000)
    m, lo, hi = bootstrap_ci(small)
    assert lo < m < hi
    _, lo2, hi2 = bootstrap_ci(large)
    assert (hi2 - lo2) < (hi - lo) / 3


def test_too_few_users_give_a_mean_and_no_interval():
    values = np.arange(30, dtype=float)
    m, lo, hi = bootstrap_ci(values[:19])
    assert m == 9.0 and np.isnan(lo) and np.isnan(hi)
    m, lo, hi = bootstrap_ci(np.r_[values[:20], np.nan])  # users with no value do not count toward the twenty
    assert m == 9.5 and lo < m < hi


def test_map_divides_by_k_when_more_items_are_relevant_than_k():
    """Four relevant items, K = 2: a list whose two items are both relevant is perfect (MAP 1, not 2/4); one hit
    at rank 2 scores (1/2) / 2."""
    truth = sp.csr_matrix(np.array([[1.0, 1.0, 1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]]))
    ranked = np.array([[3, 1, 4], [5, 0, 4]])
    m = ranking_metrics(ranked, truth, ks=(2,))
    assert m["map@2"].tolist() == [1.0, 0.25]
    assert m["ndcg@2"][0] == pytest.approx(1.0) and m["recall@2"].tolist() == [0.5, 0.25]
