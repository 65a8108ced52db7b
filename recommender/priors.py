"""Empirical-Bayes strength of a gamma prior: how much the data say a factor varies beyond Poisson noise."""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, polygamma


def prior_strength(n: np.ndarray, expected: np.ndarray, lo: float = 0.5, hi: float = 1e4) -> float:
    """The gamma prior shape k the data support, by moments: counts n ~ Poisson(expected x r)
    with r ~ Gamma(k, k) have E[(n - e)^2 - n] = e^2 / k, so 1/k = sum((n - e)^2 - n) / sum(e^2). Where the
    factor does not vary beyond Poisson noise, k is large and the factor stays at its prior."""
    inv = float(((n - expected) ** 2 - n).sum()) / max(float((expected ** 2).sum()), 1e-12)
    return float(np.clip(1.0 / max(inv, 1.0 / hi), lo, hi))


def prior_strength_ml(n: np.ndarray, expected: np.ndarray, start: float = 1.0, lo: float = 0.1, hi: float = 1e4,
                      steps: int = 30) -> float:
    """The gamma prior shape k that maximises the counts' marginal (negative-binomial) likelihood, n ~
    Poisson(expected x r) with r ~ Gamma(k, k): Newton steps in log k from `start` (a later fit of nearly the
    same counts passes the last answer, and takes a step or two).

    Unlike the moments, which weigh each count by expected^2 and so let the few largest decide, every count
    weighs alike here: where most factors rest on a handful of orders (a catalogue's long tail) the strength is
    what those show."""
    n = np.asarray(n, np.float64)
    mu = np.maximum(np.asarray(expected, np.float64), 1e-12)
    # digamma(n + k) - digamma(k) is 0 where n is: evaluated on the counts that are not, once per distinct count
    # (most are small whole numbers: a few hundred values for 100k goods, and the polygammas were most of the
    # fit's time here)
    ns, times = np.unique(n[n > 0], return_counts=True)
    n_some = float(times.sum())
    t = float(np.log(np.clip(start, lo, hi)))
    for _ in range(steps):
        k = np.exp(t)
        r = k + mu
        score = (float(times @ digamma(ns + k)) - n_some * float(digamma(k))
                 + float((np.log(k / r) + (mu - n) / r).sum()))
        curve = (float(times @ polygamma(1, ns + k)) - n_some * float(polygamma(1, k))
                 + float((1 / k - 1 / r - (mu - n) / r ** 2).sum()))
        grad, hess = k * score, k * k * curve + k * score  # in t = log k
        step = -grad / hess if hess < 0 else np.sign(grad)  # ascend; where not concave, one unit uphill
        if not np.isfinite(step):
            break
        step = float(np.clip(step, -1.0, 1.0))
        bounded = float(np.clip(t + step, np.log(lo), np.log(hi)))
        if bounded == t or abs(step) < 1e-3:  # converged, or pressed against a bound (no variation: hi)
            t = bounded
            break
        t = bounded
    return float(np.exp(t))
