"""The gamma prior's strength is read from the data: large where a factor does not vary beyond Poisson noise."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.priors import prior_strength, prior_strength_ml


def test_the_prior_strength_follows_the_variation_beyond_poisson_noise():
    rng = np.random.default_rng(0)
    expected = rng.uniform(5, 50, 20_000)
    plain = rng.poisson(expected)
    assert prior_strength(plain, expected) > 200  # no variation beyond noise: the factor stays at its prior
    varied = rng.poisson(expected * rng.gamma(4.0, 1 / 4.0, len(expected)))  # factors ~ Gamma(4, 4)
    assert prior_strength(varied, expected) == pytest.approx(4.0, rel=0.15)


@pytest.mark.parametrize("k", [0.3, 1.0, 4.0])
def test_the_likelihood_strength_recovers_the_factors_spread_where_the_moments_clip(k):
    """Factors ~ Gamma(k, k) on counts of a catalogue's long tail (most expect a few orders): the marginal
    likelihood finds k, from any start."""
    rng = np.random.default_rng(int(k * 10))
    expected = rng.lognormal(0.0, 1.5, 20_000)
    n = rng.poisson(expected * rng.gamma(k, 1 / k, len(expected)))
    for start in (0.2, 1.0, 50.0):
        assert prior_strength_ml(n, expected, start=start) == pytest.approx(k, rel=0.15)


def test_the_likelihood_strength_is_large_without_variation_beyond_noise_and_has_a_floor():
    rng = np.random.default_rng(1)
    expected = rng.uniform(0.1, 5, 20_000)
    assert prior_strength_ml(rng.poisson(expected), expected) > 200
    wild = rng.poisson(50 * rng.gamma(0.01, 100, 1000))  # a factor of e^+-10: the strength stops at its floor
    assert prior_strength_ml(wild, np.full(1000, 50.0)) == pytest.approx(0.1)


def test_the_likelihood_strength_is_the_maximum_of_the_negative_binomial_likelihood_for_weighted_counts():
    """Capped burst days make counts fractional: the strength is still the k that maximises
    sum lgamma(n + k) - lgamma(k) + k log(k / (k + mu)) + n log(mu / (k + mu)), found here by a bounded search."""
    from scipy.optimize import minimize_scalar
    from scipy.special import gammaln

    rng = np.random.default_rng(7)
    mu = rng.lognormal(0.0, 1.2, 5_000)
    n = rng.poisson(mu * rng.gamma(1.5, 1 / 1.5, len(mu))).astype(float)
    n[:400] *= rng.uniform(0.2, 1.0, 400)  # capped days' weights

    def minus_loglik(t: float) -> float:
        k = np.exp(t)
        return -float((gammaln(n + k) - gammaln(k) + k * np.log(k / (k + mu)) + n * np.log(mu / (k + mu))).sum())

    best = np.exp(minimize_scalar(minus_loglik, bounds=(np.log(0.1), np.log(1e4)), method="bounded",
                                  options={"xatol": 1e-8}).x)
    assert prior_strength_ml(n, mu) == pytest.approx(best, rel=1e-3)
