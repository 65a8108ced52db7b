"""An approximate index is used only when its measured recall against exact search holds."""

import numpy as np

from recommender.index import NormOrderedIndex, build_index, recall_at_k


def _vectors(n=3000, d=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(200, d)).astype(np.float32)


def test_flat_is_exact_and_reports_no_recall():
    vecs, queries = _vectors()
    index, report = build_index(vecs, queries, "flat")
    assert report.kind == "flat" and report.recall is None
    _, ids = index.search(queries[:3], 5)
    assert (ids[:, 0] == np.argmax(queries[:3] @ vecs.T, axis=1)).all()


def test_hnsw_is_kept_when_recall_clears_the_bar():
    vecs, queries = _vectors()
    index, report = build_index(vecs, queries, "hnsw", k=10, min_recall=0.5)
    assert report.kind == "hnsw" and 0.5 <= report.recall <= 1.0
    assert index.ntotal == len(vecs)


def test_hnsw_falls_back_to_exact_when_recall_is_too_low():
    vecs, queries = _vectors()  # isotropic high-dimensional vectors: hard for HNSW with a tiny efSearch
    index, report = build_index(vecs, queries, "hnsw", k=50, min_recall=0.99, ef_search=8)
    assert report.requested == "hnsw" and report.kind == "flat" and report.recall < 0.99
    _, ids = index.search(queries[:5], 50)
    exact = np.argsort(-(queries[:5] @ vecs.T), axis=1)[:, :50]
    assert recall_at_k(ids, exact) == 1.0


def test_recall_counts_shared_ids():
    assert recall_at_k(np.array([[1, 2, 3]]), np.array([[3, 2, 9]])) == 2 / 3


def brute(vectors, query, mask, n):
    scores = vectors @ query
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
