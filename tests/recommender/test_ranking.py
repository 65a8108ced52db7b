"""Retrieval is exact whichever path serves it; the arrangement honours caps and reserved slots."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.artifact import load_model
from recommender.index import NormOrderedIndex
from recommender.ranking import PickFilters, Ranker


@pytest.fixture(scope="module")
def ranker(small_artifact):
    return Ranker(load_model(small_artifact))


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


@pytest.mark.parametrize("filters", [PickFilters(), PickFilters(category="美妆"), PickFilters(price_max=30.0),
                                     PickFilters(exclude_shelf=True)])
def test_precomputed_candidates_give_the_exact_top_goods(ranker, filters):
    for anchor in range(0, 50, 7):
        mask = ranker.filter_mask(filters, anchor)
        expected = brute(ranker.vectors, ranker.anchor_vectors[anchor], mask, 300)
        got, _ = ranker.retrieve_for_anchor(anchor, mask, 300)
        assert got.tolist() == expected.tolist()
        sup = mask & ranker.supported
        got_sup, _ = ranker.retrieve_for_anchor(anchor, mask, 50, supported_only=True)
        assert got_sup.tolist() == brute(ranker.vectors, ranker.anchor_vectors[anchor], sup, 50).tolist()


def test_reserved_slots_are_spread_through_each_page(ranker):
    for anchor in range(0, 50, 5):
        page = ranker.picks(anchor, 20).items
        positions = [i for i, p in enumerate(page) if p.supported]
        if int(ranker.supported.sum()) >= 20 and positions:
            assert positions[0] <= 4  # the first reserved slot is the fifth at a 20% share
