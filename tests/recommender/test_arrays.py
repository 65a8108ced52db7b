"""Array helpers agree with their plain-Python definitions."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.arrays import (
    distinct_both_ways_within,
    distinct_per_row,
    distinct_per_row_within,
    invert_lists,
    ranges,
    top_k,
)


def test_ranges_concatenates_the_aranges():
    lo, hi = np.array([3, 0, 7, 5]), np.array([6, 0, 9, 4])  # an empty and a reversed range give nothing
    assert ranges(lo, hi).tolist() == [3, 4, 5, 7, 8]
    assert ranges(np.zeros(0), np.zeros(0)).tolist() == []


def test_inverted_lists_name_every_row_that_lists_a_value_highest_priority_first():
    rng = np.random.default_rng(0)
    lists = [sorted(rng.choice(30, rng.integers(0, 8), replace=False).tolist()) for _ in range(20)]
    indptr = np.concatenate([[0], np.cumsum([len(v) for v in lists])])
    values = np.array([x for v in lists for x in v])
    priority = rng.integers(0, 4, 20)  # ties: the lower row first
    out_ptr, rows = invert_lists(indptr, values, 30, priority)
    for v in range(30):
        expected = sorted((r for r, vs in enumerate(lists) if v in vs), key=lambda r: (-priority[r], r))
        assert rows[out_ptr[v]:out_ptr[v + 1]].tolist() == expected


@pytest.mark.parametrize("seed", range(20))
def test_top_k_breaks_ties_by_column_even_at_the_cut_and_ranks_nan_last(seed):
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(1, 20)), int(rng.integers(1, 60))
    scores = rng.integers(0, 4, (rows, cols)).astype(float) if seed % 2 else rng.random((rows, cols))
    scores[rng.random(scores.shape) < 0.1] = np.nan
    scores[rng.random(scores.shape) < 0.1] = -np.inf
    for k in (1, 3, cols, cols + 2):
        expected = [np.lexsort((np.arange(cols), -np.nan_to_num(row, nan=-np.inf)))[:k] for row in scores]
        assert top_k(scores, k).tolist() == np.array(expected).tolist()


@pytest.mark.parametrize("seed", range(5))
def test_distinct_pairs_per_window_equal_one_count_per_window(seed):
    rng = np.random.default_rng(seed)
    n = 2_000
    rows, cols = rng.integers(0, 30, n), rng.integers(0, 40, n)
    age = rng.choice([0.0, 0.5, 1.0, 6.99, 7.0, 29.9, 30.0, 45.0], n)  # ages on and beside the windows' edges
    got = distinct_per_row_within(rows, cols, age, (1, 7, 30), 30, 40)
    for days, counts in zip((1, 7, 30), got[:3], strict=True):
        inside = age < days
        assert np.array_equal(counts, distinct_per_row(rows[inside], cols[inside], 30, 40))
    assert np.array_equal(got[3], distinct_per_row(rows, cols, 30, 40))


@pytest.mark.parametrize("seed", range(3))
def test_one_sort_counts_distinct_pairs_per_row_and_per_column_as_two_do(seed):
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(0, 30, 2_000), rng.integers(0, 40, 2_000)
    age = rng.choice([0.0, 0.5, 1.0, 6.99, 7.0, 29.9, 30.0, 45.0], 2_000)
    by_row, by_col = distinct_both_ways_within(rows, cols, age, (1, 7, 30), 30, 40)
    for got, want in zip(by_row, distinct_per_row_within(rows, cols, age, (1, 7, 30), 30, 40), strict=True):
        assert np.array_equal(got, want)
    for got, want in zip(by_col, distinct_per_row_within(cols, rows, age, (1, 7, 30), 40, 30), strict=True):
        assert np.array_equal(got, want)
