"""Metrics match hand-computed values."""

import numpy as np

from training.metrics import ndcg_at_k, top_k


def test_ndcg_matches_a_hand_computed_case():
    gains = np.array([[3.0, 2.0, 0.0, 1.0]])
    ranked = np.array([[1, 0, 3]])
    # dcg = 2/log2(2) + 3/log2(3) + 1/log2(4) = 2 + 1.8928 + 0.5; ideal = 3 + 2/log2(3) + 1/2 = 4.7619
    assert np.isclose(ndcg_at_k(ranked, gains, 3)[0], (2 + 3 / np.log2(3) + 0.5) / (3 + 2 / np.log2(3) + 0.5))


def test_perfect_ranking_scores_one_and_padding_scores_nothing():
    gains = np.array([[0.0, 5.0, 1.0], [1.0, 0.0, 0.0]])
    assert np.allclose(ndcg_at_k(np.array([[1, 2], [0, 1]]), gains, 2), 1.0)
    assert ndcg_at_k(np.array([[-1, -1]]), gains[:1], 2)[0] == 0.0


def test_rows_without_gain_are_nan():
    assert np.isnan(ndcg_at_k(np.array([[0]]), np.zeros((1, 3)), 1)[0])


def test_top_k_orders_best_first():
    assert top_k(np.array([[0.1, 0.9, 0.5, 0.7]]), 3).tolist() == [[1, 3, 2]]
