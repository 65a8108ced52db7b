"""faiss indexes over goods and anchors: exact inner product by default, approximate only when measured.

Two faiss settings matter on these machines (PERF-NOTES.md): the BLAS threshold, which otherwise scans
batches of fewer than 128k queries one query at a time (15x slower), and OpenBLAS's core type. An HNSW index
is written only when its recall@k against exact search, measured on the actual vectors, reaches the bar.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

_log = logging.getLogger(__name__)

faiss.cvar.distance_compute_blas_threshold = 20


@dataclass
class IndexReport:
    kind: str  # what was written: "flat" or "hnsw"
    requested: str
    recall: float | None = None  # measured recall@k of the approximate index vs exact, if one was tried
    k: int | None = None


def flat_index(vectors: np.ndarray) -> faiss.Index:
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def recall_at_k(approx_ids: np.ndarray, exact_ids: np.ndarray) -> float:
    """Mean share of the exact top-k that the approximate search also returned."""
    hits = [len(np.intersect1d(a[a >= 0], e[e >= 0])) for a, e in zip(approx_ids, exact_ids, strict=True)]
    return float(np.sum(hits) / np.maximum((exact_ids >= 0).sum(), 1))


def build_index(vectors: np.ndarray, queries: np.ndarray, kind: str = "flat", k: int = 50,
                min_recall: float = 0.95, hnsw_m: int = 32, ef_search: int = 128) -> tuple[faiss.Index, IndexReport]:
    """Build the index to serve `vectors`; `queries` are realistic query vectors for measuring recall."""
    exact = flat_index(vectors)
    if kind == "flat":
        return exact, IndexReport("flat", kind)
    if kind != "hnsw":
        raise ValueError(f"index kind must be 'flat' or 'hnsw', got {kind!r}")
    approx = faiss.IndexHNSWFlat(vectors.shape[1], hnsw_m, faiss.METRIC_INNER_PRODUCT)
    approx.hnsw.efSearch = ef_search
    approx.add(np.ascontiguousarray(vectors, dtype=np.float32))
    k = min(k, len(vectors))
    q = np.ascontiguousarray(queries, dtype=np.float32)
    recall = recall_at_k(approx.search(q, k)[1], exact.search(q, k)[1])
    if recall < min_recall:
        _log.warning("HNSW recall@%d is %.3f < %.2f on these vectors: writing the exact index", k, recall,
                     min_recall)
        return exact, IndexReport("flat", kind, recall, k)
    return approx, IndexReport("hnsw", kind, recall, k)


def write_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def read_index(path: Path, mmap: bool = True) -> faiss.Index:
    """Read an index; memory-mapped where faiss supports it, so several workers share its pages."""
    flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
    try:
        return faiss.read_index(str(path), flags)
    except RuntimeError:
        if not mmap:
            raise
        return faiss.read_index(str(path))
