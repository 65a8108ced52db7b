"""Anchor vectors: audience for every room with fans, sales where there are sales, vertical for tiny rooms."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from pydantic import ValidationError

from recommender.embeddings import FactorConfig, anchor_vectors
from recommender.threads import compute_threads


def _setup():
    rng = np.random.default_rng(0)
    fans = rng.normal(size=(200, 8)).astype(np.float32)
    products = rng.normal(size=(50, 8)).astype(np.float32)
    # anchor 0: many fans and sales; anchor 1: many fans, no sales; anchor 2: 2 fans, no sales, vertical 0
    eng = sp.csr_matrix(np.vstack([np.r_[np.ones(100), np.zeros(100)], np.r_[np.zeros(100), np.ones(100)],
                                   np.r_[np.ones(2), np.zeros(198)]]).astype(np.float32))
    sales = sp.csr_matrix(np.vstack([np.r_[np.full(10, 3.0), np.zeros(40)], np.zeros(50), np.zeros(50)]))
    return fans, products, eng, sales.astype(np.float32)


def test_anchor_without_sales_is_its_audience():
    fans, products, eng, sales = _setup()
    with compute_threads(1) as n:
        av = anchor_vectors(eng, sales, fans, products, FactorConfig(), n)
    assert av.sales_weight[1] == 0
    mean = fans[100:].mean(axis=0)
    np.testing.assert_allclose(av.blended[1], mean / np.linalg.norm(mean), rtol=1e-5)


def test_sales_weight_grows_with_goods_sold():
    fans, products, eng, sales = _setup()
    with compute_threads(1) as n:
        av = anchor_vectors(eng, sales, fans, products, FactorConfig(), n, sales_shrinkage=10)
    assert av.sales_weight[0] == 0.5  # 10 goods sold, shrinkage 10


def test_a_room_with_few_fans_leans_on_its_vertical():
    fans, products, eng, sales = _setup()
    vertical = np.array([0, 1, 0])
    with compute_threads(1) as n:
        av = anchor_vectors(eng, sales, fans, products, FactorConfig(), n, vertical=vertical,
                            audience_shrinkage=50)
    # anchor 2 has 2 fans: its vector is mostly vertical 0, i.e. anchor 0's sales direction
    assert av.audience[2] @ av.vertical[0] > 0.9
    assert av.audience[1] @ av.vertical[0] < av.audience[2] @ av.vertical[0]


def test_the_factor_configuration_is_validated_on_construction_and_assignment():
    with pytest.raises(ValidationError, match="algorithm"):
        FactorConfig(algorithm="svd")
    cfg = FactorConfig()
    with pytest.raises(ValidationError, match="factors"):
        cfg.factors = -3
    with pytest.raises(ValidationError, match="algorithm"):
        cfg.algorithm = "svd"
    assert cfg == FactorConfig() and FactorConfig.model_fields["factors"].description


def test_bpr_is_the_same_in_two_trainings_of_one_configuration_whatever_the_threads():
    """implicit's BPR is Hogwild SGD: with several threads two identical runs differed, and a paired compare of
    them marked the noise as real (a data scientist's probe); it is fitted on one thread."""
    from recommender.embeddings import fit_factors

    rng = np.random.default_rng(0)
    X = sp.random(400, 300, density=0.05, random_state=1, dtype=np.float32).tocsr()
    X.data[:] = 1 + rng.random(len(X.data))
    cfg = FactorConfig(algorithm="bpr", factors=16, iterations=20, seed=3)
    with compute_threads(2) as threads:
        first, second = fit_factors(X, cfg, threads), fit_factors(X, cfg, threads)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
