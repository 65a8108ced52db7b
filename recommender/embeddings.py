"""Fan, product and anchor vectors in one inner-product space.

Fans and products come from implicit-feedback matrix factorisation (implicit's ALS, or BPR). An anchor is
scored like a fan, ``anchor_vector @ product_vector``, from two parts:

* audience: the engagement-weighted mean of its fans' vectors. A room's expected sales of a good are the sum
  of its viewers' affinities, and with affinity ~ fan . product that sum is (mean fan) . product. It exists for
  every anchor with fans, including new ones that have not sold anything (cold start).
* sales: the anchor's own sales folded into the space as if it were a fan (an ALS least-squares solve against
  the fixed product factors). It captures what the room converts, beyond who watches it.

The two are L2-normalised and blended with a weight that grows with the number of goods sold.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from pydantic import Field

from recommender.interactions import row_normalize
from recommender.settings import Settings

_log = logging.getLogger(__name__)


@contextmanager
def _faiss_blas_is_not_ours() -> Iterator[None]:
    """Silence implicit's BLAS-threads check for the one pool compute_threads() cannot limit.

    implicit inspects every OpenBLAS in the process. compute_threads() limits numpy's and scipy's (the one
    implicit calls) to 1 thread, but threadpoolctl cannot limit faiss's OpenMP build of OpenBLAS, which
    implicit never calls, so the warning would be a false alarm about that pool.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="OpenBLAS is configured to use", category=RuntimeWarning)
        yield


class FactorConfig(Settings):
    """Implicit-feedback matrix factorisation of the fan x product matrix (implicit's ALS or BPR)."""

    algorithm: Literal["als", "bpr"] = Field("als", description="als: alternating least squares; bpr: Bayesian "
                                             "personalised ranking")
    factors: int = Field(64, ge=1, description="dimension of the fan, product and anchor vectors")
    iterations: int = Field(15, ge=1, description="passes over the data")
    regularization: float = Field(0.2, ge=0, description="L2 penalty on the factors (0.2 and alpha 3 with the amount "
                                  "confidence: good on the synthetic marketplace and on Online Retail alike, README)")
    alpha: float = Field(3.0, gt=0, description="ALS only: confidence scale on the log-compressed amounts (or "
                         "quantities)")
    learning_rate: float = Field(0.01, gt=0, description="BPR only: SGD step size")
    seed: int = Field(0, ge=0, description="random state of the factorisation")


def fit_factors(fan_products: sp.csr_matrix, cfg: FactorConfig, threads: int, show_progress: bool = False,
                callback: Callable[[int, np.ndarray, np.ndarray], None] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Fit (fan_factors, product_factors), both float32 of shape (n, d). Call inside compute_threads().

    `callback(iteration, fan_factors, product_factors)` runs after each pass (0-based) with the factors as they
    stand; tuning scores them there and stops a trailing trial by raising."""
    if cfg.algorithm == "als":
        with _faiss_blas_is_not_ours():
            model = AlternatingLeastSquares(factors=cfg.factors, regularization=cfg.regularization,
                                            alpha=cfg.alpha, iterations=cfg.iterations, random_state=cfg.seed,
                                            num_threads=threads)
    elif cfg.algorithm == "bpr":  # one thread: implicit's BPR is Hogwild SGD, whose result with several threads
        # varies from run to run; two trainings of one configuration must agree (a paired --compare of two
        # identical runs marked 7 rows as different, and tune's noise gate could flip)
        model = BayesianPersonalizedRanking(factors=cfg.factors, learning_rate=cfg.learning_rate,
                                            regularization=cfg.regularization, iterations=cfg.iterations,
                                            random_state=cfg.seed, num_threads=1)
    else:
        raise ValueError(f"algorithm must be 'als' or 'bpr', got {cfg.algorithm!r}")
    hook = None if callback is None else (lambda it, *_: callback(it, model.user_factors, model.item_factors))
    model.fit(fan_products, show_progress=show_progress, callback=hook)
    return (np.ascontiguousarray(model.user_factors, dtype=np.float32),
            np.ascontiguousarray(model.item_factors, dtype=np.float32))


def fold_in(rows: sp.csr_matrix, product_factors: np.ndarray, cfg: FactorConfig, threads: int) -> np.ndarray:
    """Least-squares "fan" vectors for arbitrary rows of product interactions (ALS's user step)."""
    with _faiss_blas_is_not_ours():
        solver = AlternatingLeastSquares(factors=product_factors.shape[1], regularization=cfg.regularization,
                                         alpha=cfg.alpha, num_threads=threads)
    solver.item_factors = np.ascontiguousarray(product_factors, dtype=np.float32)
    return np.asarray(solver.recalculate_user(np.arange(rows.shape[0]), rows.tocsr()), dtype=np.float32)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


@dataclass
class AnchorVectors:
    blended: np.ndarray  # (anchors, d) what retrieval uses
    audience: np.ndarray  # (anchors, d) unit vectors (zero for an anchor without fans or vertical)
    sales: np.ndarray  # (anchors, d) unit vectors (zero for an anchor without sales)
    sales_weight: np.ndarray  # (anchors,) share of `sales` in the blend
    vertical: np.ndarray  # (verticals, d) unit vectors: what rooms of each main category sell


def vertical_vectors(sales: np.ndarray, has_sales: np.ndarray, vertical: np.ndarray, n_verticals: int) -> np.ndarray:
    """Mean sales vector of the selling anchors of each vertical (main category); zero where none sells."""
    out = np.zeros((n_verticals, sales.shape[1]), np.float32)
    known = has_sales & (vertical >= 0)
    np.add.at(out, vertical[known], sales[known])
    return l2_normalize(out)


def anchor_vectors(engagement: sp.csr_matrix, anchor_products: sp.csr_matrix, fan_factors: np.ndarray,
                   product_factors: np.ndarray, cfg: FactorConfig, threads: int, sales_shrinkage: float = 100.0,
                   vertical: np.ndarray | None = None, audience_shrinkage: float = 50.0) -> AnchorVectors:
    """Blend audience, vertical and sales vectors of every anchor.

    audience' = unit(a * audience + (1 - a) * vertical), a = fans / (fans + audience_shrinkage): a room with
    a handful of fans leans on what its vertical sells. Then
    blended = s * sales + (1 - s) * audience', s = goods_sold / (goods_sold + sales_shrinkage).
    `vertical` holds each anchor's main-category code (-1: unknown).
    """
    audience = l2_normalize(np.asarray(row_normalize(engagement) @ fan_factors, dtype=np.float32))
    sales = l2_normalize(fold_in(anchor_products, product_factors, cfg, threads))
    n_sold = np.diff(anchor_products.indptr).astype(np.float32)
    if vertical is not None and (vertical >= 0).any():
        verticals = vertical_vectors(sales, n_sold > 0, vertical, int(vertical.max()) + 1)
        prior = np.where((vertical >= 0)[:, None], verticals[np.maximum(vertical, 0)], 0)
        n_fans = np.diff(engagement.indptr).astype(np.float32)
        a = (n_fans / (n_fans + audience_shrinkage))[:, None]
        audience = l2_normalize((a * audience + (1 - a) * prior).astype(np.float32))
    else:
        verticals = np.zeros((0, sales.shape[1]), np.float32)
    weight = n_sold / (n_sold + sales_shrinkage)
    blended = weight[:, None] * sales + (1 - weight[:, None]) * audience
    return AnchorVectors(blended.astype(np.float32), audience, sales, weight, verticals)
