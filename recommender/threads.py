"""Explicit thread-pool control: implicit, faiss, numpy and scipy each bring OpenMP/BLAS pools.

One process holds up to five pools (numpy's and scipy's OpenBLAS, implicit's libgomp, faiss's libgomp and
OpenBLAS). Left alone they oversubscribe small machines: BLAS threads inside implicit's OpenMP threads, or
faiss and BLAS fighting over two cores. Every heavy stage runs inside :func:`compute_threads`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import faiss  # loaded before any limit is applied, so its OpenBLAS and OpenMP pools are limited too
from threadpoolctl import threadpool_limits


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextmanager
def compute_threads(n: int | None = None, *, blas: int = 1) -> Iterator[int]:
    """Run a block with `n` OpenMP threads (default: all cores) and `blas` BLAS threads.

    implicit parallelises over users with OpenMP and calls BLAS inside each thread, so BLAS must stay at 1
    thread there (implicit warns otherwise); faiss likewise parallelises queries itself.
    """
    n = n or available_cores()
    with threadpool_limits(limits=blas, user_api="blas"), threadpool_limits(limits=n, user_api="openmp"):
        faiss.omp_set_num_threads(n)
        yield n


def set_faiss_threads(n: int) -> None:
    """Let faiss use `n` OpenMP threads in this process from now on (the service: one per worker).

    Callers outside the package use this instead of importing faiss, which must load after the package has set
    ``OPENBLAS_CORETYPE`` (see ``recommender/__init__.py``)."""
    faiss.omp_set_num_threads(n)
