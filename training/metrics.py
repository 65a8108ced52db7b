"""Ranking metrics, vectorised over users: one implementation for tests, benchmarks and evaluation.

Full-ranking metrics (no sampled negatives). A ranking is an int array (users, K) of item columns, best
first, -1 for padding; the truth is a CSR matrix (users, items) whose nonzeros are the relevant items (its
values, e.g. GMV, are used only by the GMV-weighted recall).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.arrays import top_k

__all__ = ["MIN_INTERVAL_USERS", "bootstrap_ci", "coverage", "hits", "ndcg_at_k", "ranking_metrics", "top_k"]


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


def hits(ranked: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    """(users, K) bool: is the item at each rank relevant? Vectorised through sorted (user, item) keys."""
    ranked = np.asarray(ranked)
    n_items = truth.shape[1]
    truth = truth.tocsr()
    rows = np.repeat(np.arange(truth.shape[0], dtype=np.int64), np.diff(truth.indptr))
    keys = np.sort(rows * n_items + truth.indices)
    query = np.arange(len(ranked), dtype=np.int64)[:, None] * n_items + np.maximum(ranked, 0)
    pos = np.clip(np.searchsorted(keys, query), 0, max(len(keys) - 1, 0))
    return (ranked >= 0) & (len(keys) > 0) & (keys[pos] == query) if len(keys) else np.zeros(ranked.shape, bool)


def ranking_metrics(ranked: np.ndarray, truth: sp.csr_matrix, ks: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Per-user Recall@K, NDCG@K, MAP@K, HitRate@K and GMV-weighted recall@K for users with any truth.

    Binary relevance. NDCG's ideal places min(K, |relevant|) hits first; MAP@K divides by min(K, |relevant|);
    GMV recall = GMV of the relevant items found / GMV of all relevant items (truth values are the GMV).
    """
    truth = truth.tocsr()
    n_rel = np.diff(truth.indptr)
    users = np.flatnonzero(n_rel > 0)
    h = hits(ranked[users], truth[users])
    gmv = _values_at(ranked[users], truth[users])
    total_gmv = np.asarray(truth[users].sum(axis=1)).ravel()
    out: dict[str, np.ndarray] = {"users": users}
    n = n_rel[users].astype(float)
    for k in ks:
        hk = h[:, :k]
        found = hk.sum(axis=1)
        discount = 1.0 / np.log2(np.arange(2, hk.shape[1] + 2))
        ideal = np.cumsum(discount)[np.minimum(n, hk.shape[1]).astype(int) - 1]
        precision_at = np.cumsum(hk, axis=1) / np.arange(1, hk.shape[1] + 1)
        out[f"recall@{k}"] = found / n
        out[f"ndcg@{k}"] = (hk * discount).sum(axis=1) / ideal
        out[f"map@{k}"] = (precision_at * hk).sum(axis=1) / np.minimum(n, k)
        out[f"hitrate@{k}"] = (found > 0).astype(float)
        out[f"gmv_recall@{k}"] = np.divide(gmv[:, :k].sum(axis=1), total_gmv, out=np.zeros(len(users)),
                                           where=total_gmv > 0)
    return out


def _values_at(ranked: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    """truth[u, ranked[u, j]] for every position (0 where not relevant or padded)."""
    h = hits(ranked, truth)
    vals = np.zeros(ranked.shape)
    if h.any():
        u, j = np.nonzero(h)
        vals[u, j] = np.asarray(truth[u, ranked[u, j]]).ravel()
    return vals


def coverage(ranked: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one list."""
    shown = np.unique(ranked[ranked >= 0])
    return len(shown) / n_items if n_items else 0.0


#: fewer users than this give no interval: a percentile bootstrap over one user is that user every time (an
#: interval of width 0 that a comparison would call certain), and over a handful it is far too narrow
MIN_INTERVAL_USERS = 20


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0,
                 min_n: int = MIN_INTERVAL_USERS) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap over users, resampled as a whole (vectorised); low and high are
    NaN where fewer than `min_n` users have a value."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan"), float("nan")
    if len(values) < min_n:
        return float(values.mean()), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (n_boot, len(values)))].mean(axis=1)
    return float(values.mean()), float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))
