"""Ranking metrics, vectorised over users: one implementation for tests, benchmarks and evaluation."""

from __future__ import annotations

import numpy as np

from recommender.arrays import top_k

__all__ = ["ndcg_at_k", "top_k"]


def ndcg_at_k(ranked: np.ndarray, gains: np.ndarray, k: int) -> np.ndarray:
    """Graded NDCG@k per row.

    ranked : int array (n, >=k) of item columns in ranked order, -1 for padding.
    gains  : float array (n, n_items) of true gains (e.g. expected sales); the ideal ranking sorts them.
    Rows whose gains are all zero get NaN (nothing to find).
    """
    ranked = np.asarray(ranked)[:, :k]
    gains = np.asarray(gains, dtype=np.float64)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    got = np.where(ranked >= 0, np.take_along_axis(gains, np.maximum(ranked, 0), axis=1), 0.0)
    dcg = (got * discount[: got.shape[1]]).sum(axis=1)
    kk = min(k, gains.shape[1])
    ideal_top = -np.partition(-gains, kk - 1, axis=1)[:, :kk]
    ideal = (-np.sort(-ideal_top, axis=1) * discount[:kk]).sum(axis=1)
    return np.divide(dcg, ideal, out=np.full(len(dcg), np.nan), where=ideal > 0)
