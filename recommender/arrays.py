"""Vectorised array helpers shared by the core and the generator."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import scipy.sparse as sp


def unique_sorted(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values. numpy 2.4's np.unique hashes first and is ~50x slower on 10M int64 keys
    (11 s vs 0.2 s measured); a sort and a neighbour comparison is all that is needed. The default sort, not a
    stable one: equal values are interchangeable, and numpy's SIMD quicksort took 0.33 s on 18M uint64 keys
    where the stable sort took 3.5 s."""
    s = np.sort(np.asarray(a))
    if len(s) == 0:
        return s
    keep = np.empty(len(s), bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def distinct_per_row(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """For each row, how many distinct cols it is paired with (e.g. distinct anchors that sold a good)."""
    pairs = unique_sorted(np.asarray(rows, np.int64) * n_cols + np.asarray(cols, np.int64))
    return np.bincount(pairs // n_cols, minlength=n_rows)


def distinct_per_row_within(rows: np.ndarray, cols: np.ndarray, age: np.ndarray, windows: tuple[float, ...],
                            n_rows: int, n_cols: int) -> list[np.ndarray]:
    """distinct_per_row over the pairs younger than each of `windows` (ascending; `age < w`), then over all pairs:
    one sort of the pairs, each tagged with the first window it falls in, instead of one sort per window."""
    k = len(windows)
    first = np.searchsorted(np.asarray(windows, float), age, side="right")  # k: in no window
    keys = unique_sorted((np.asarray(rows, np.int64) * n_cols + np.asarray(cols, np.int64)) * (k + 1) + first)
    pair = keys // (k + 1)
    new = np.ones(len(keys), bool)
    np.not_equal(pair[1:], pair[:-1], out=new[1:])
    row, youngest = pair[new] // n_cols, keys[new] % (k + 1)  # sorted: a pair's first key is its youngest
    return [np.bincount(row[youngest <= i], minlength=n_rows) for i in range(k)] + [np.bincount(row, minlength=n_rows)]


def distinct_both_ways_within(rows: np.ndarray, cols: np.ndarray, age: np.ndarray, windows: tuple[float, ...],
                              n_rows: int, n_cols: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """distinct_per_row_within for the rows and for the columns (e.g. the rooms that sold each good and the goods
    each room sold) from one sort of the pairs."""
    k = len(windows)
    first = np.searchsorted(np.asarray(windows, float), age, side="right")
    keys = unique_sorted((np.asarray(rows, np.int64) * n_cols + np.asarray(cols, np.int64)) * (k + 1) + first)
    pair = keys // (k + 1)
    new = np.ones(len(keys), bool)
    np.not_equal(pair[1:], pair[:-1], out=new[1:])
    row, col, youngest = pair[new] // n_cols, pair[new] % n_cols, keys[new] % (k + 1)
    return tuple([np.bincount(x[youngest <= i], minlength=n) for i in range(k)] + [np.bincount(x, minlength=n)]
                 for x, n in ((row, n_rows), (col, n_cols)))


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Columns of the k highest scores per row, best first, ties by column (at the cut too, so the first k
    are a prefix of the first k + 1); NaN ranks last. A partition finds each row's k-th score, then only k
    per row are sorted."""
    scores = np.asarray(scores)
    k = min(k, scores.shape[1])
    if k == 0:
        return np.zeros((len(scores), 0), np.int64)
    if scores.dtype.kind == "f" and np.isnan(scores).any():  # rare: a full sort, NaN after -inf
        nan = np.isnan(scores)
        columns = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
        return np.lexsort((columns, -np.where(nan, 0, scores), nan), axis=-1)[:, :k]
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1:k]
    keep = scores >= kth
    surplus = keep.sum(axis=1) - k
    for row in np.flatnonzero(surplus):  # ties with the k-th score: drop the ones in the highest columns
        tied = np.flatnonzero(scores[row] == kth[row, 0])
        keep[row, tied[len(tied) - surplus[row]:]] = False
    cols = np.nonzero(keep)[1].reshape(len(scores), k)
    order = np.argsort(-np.take_along_axis(scores, cols, axis=1), axis=1, kind="stable")
    return np.take_along_axis(cols, order, axis=1)


def ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """np.concatenate([np.arange(l, h) for l, h in zip(lo, hi)]) without the Python loop."""
    lo, hi = np.asarray(lo, np.int64), np.asarray(hi, np.int64)
    n = np.maximum(hi - lo, 0)
    total = int(n.sum())
    if not total:
        return np.zeros(0, np.int64)
    return np.arange(total) + np.repeat(lo - (np.cumsum(n) - n), n)


def invert_lists(indptr: np.ndarray, values: np.ndarray, n_values: int, priority: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Transpose CSR lists (row -> values) into (indptr, rows) value -> rows listing it, each value's rows
    in descending `priority` (then ascending row), e.g. anchor -> shelved goods into good -> its sellers."""
    indptr = np.asarray(indptr, np.int64)
    n_rows = len(indptr) - 1
    by = np.arange(n_rows) if priority is None else np.lexsort((np.arange(n_rows), -np.asarray(priority)))
    sizes = np.diff(indptr)[by]
    rows = np.repeat(by, sizes).astype(np.int32)
    vals = np.asarray(values)[ranges(indptr[by], indptr[by] + sizes)]
    order = np.argsort(vals, kind="stable")  # stable: keeps the priority order within a value
    out = np.zeros(n_values + 1, np.int64)
    np.cumsum(np.bincount(vals, minlength=n_values), out=out[1:])
    return out, rows[order]


def cell_sums(matrix: sp.csr_matrix, cells: list[tuple[np.ndarray, int]], chunk: int = 1 << 20,
              limit: int = 1 << 24) -> list[np.ndarray]:
    """For each way of splitting the columns into cells (`cells`: every column's cell, -1 where unknown, and the
    number of cells), the (rows, cells) sums of each row's entries by their column's cell, unknown left out.

    The splits share one pass over the entries: a bincount over their joint cell (unknown a cell of its own),
    summed out per split, while the joint table fits in `limit` floats (splits beyond it start another pass);
    row blocks of about `chunk` entries keep the indices small. On the 20M (anchor, fan) entries of a large
    market a sparse product with one-hot matrices took 4 s, a bincount per split 2-6 s with its 20M-row
    temporaries."""
    n_rows, indptr = matrix.shape[0], matrix.indptr
    out = [np.zeros((n_rows, 0))] * len(cells)
    groups: list[list[int]] = []
    for i, (_, n) in enumerate(cells):
        if groups and n_rows * np.prod([cells[j][1] + 1 for j in groups[-1]]) * (n + 1) <= limit:
            groups[-1].append(i)
        else:
            groups.append([i])
    bounds = np.unique(np.concatenate([np.searchsorted(indptr, np.arange(0, matrix.nnz, chunk), "right") - 1,
                                       [0, n_rows]]))
    for group in groups:
        dims = [cells[i][1] + 1 for i in group]
        code = np.zeros(matrix.shape[1], np.int64)
        for i, d in zip(group, dims, strict=True):
            code = code * d + np.where(cells[i][0] >= 0, cells[i][0], d - 1)
        k = int(np.prod(dims))
        joint = np.zeros((n_rows, k))
        for r0, r1 in pairwise(bounds):
            lo, hi = indptr[r0], indptr[r1]
            idx = np.repeat(np.arange(r1 - r0, dtype=np.int64) * k, np.diff(indptr[r0:r1 + 1]))
            idx += code[matrix.indices[lo:hi]]
            joint[r0:r1] = np.bincount(idx, matrix.data[lo:hi], (r1 - r0) * k).reshape(r1 - r0, k)
        joint = joint.reshape(n_rows, *dims)
        for axis, (i, d) in enumerate(zip(group, dims, strict=True)):
            out[i] = joint.sum(axis=tuple(j + 1 for j in range(len(dims)) if j != axis))[:, :d - 1]
    return out
