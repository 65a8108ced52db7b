"""Empirical-Bayes strength of a gamma prior: how much the data say a factor varies beyond Poisson noise."""

from __future__ import annotations

import numpy as np


def prior_strength(n: np.ndarray, expected: np.ndarray, lo: float = 0.5, hi: float = 1e4) -> float:
    """The gamma prior shape k the data support, by moments: counts n ~ Poisson(expected x r)
    with r ~ Gamma(k, k) have E[(n - e)^2 - n] = e^2 / k, so 1/k = sum((n - e)^2 - n) / sum(e^2). Where the
    factor does not vary beyond Poisson noise, k is large and the factor stays at its prior."""
    inv = float(((n - expected) ** 2 - n).sum()) / max(float((expected ** 2).sum()), 1e-12)
    return float(np.clip(1.0 / max(inv, 1.0 / hi), lo, hi))
