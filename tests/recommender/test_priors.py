"""The gamma prior's strength is read from the data: large where a factor does not vary beyond Poisson noise."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.priors import prior_strength


def test_the_prior_strength_follows_the_variation_beyond_poisson_noise():
    rng = np.random.default_rng(0)
    expected = rng.uniform(5, 50, 20_000)
    plain = rng.poisson(expected)
    assert prior_strength(plain, expected) > 200  # no variation beyond noise: the factor stays at its prior
    varied = rng.poisson(expected * rng.gamma(4.0, 1 / 4.0, len(expected)))  # factors ~ Gamma(4, 4)
    assert prior_strength(varied, expected) == pytest.approx(4.0, rel=0.15)
