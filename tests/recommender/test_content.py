"""The content model learns the factor space from titles and categories, and survives a save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from recommender.content import ContentConfig, ContentModel


def _catalogue(n=300, seed=0):
    rng = np.random.default_rng(seed)
    cats = rng.choice(["美妆", "珠宝", "食品/农产品"], n)
    nouns = {"美妆": "口红", "珠宝": "翡翠手镯", "食品/农产品": "猕猴桃"}
    df = pd.DataFrame({
        "title": [f"{nouns[c]} 新款{i % 7}" for i, c in enumerate(cats)],
        "category": cats,
        "brand": np.where(rng.random(n) < 0.3, "花漾", None),
        "price": rng.uniform(10, 500, n),
    })
    centers = {"美妆": np.eye(4)[0], "珠宝": np.eye(4)[1], "食品/农产品": np.eye(4)[2]}
    factors = np.stack([centers[c] for c in cats]).astype(np.float32) + rng.normal(0, 0.05, (n, 4)).astype(np.float32)
    return df, factors


def test_a_new_good_lands_near_its_categorys_warm_goods():
    df, factors = _catalogue()
    model = ContentModel(ContentConfig(min_buyers=1)).fit(df, factors, np.ones(len(df)))
    new = pd.DataFrame({"title": ["翡翠手镯 冰种"], "category": ["珠宝"], "brand": [None], "price": [300.0]})
    v = model.predict(new)[0]
    assert np.argmax(v) == 1


def test_blend_trusts_factors_as_buyers_accumulate():
    model = ContentModel(ContentConfig(shrinkage=5))
    f, c = np.ones((3, 2), np.float32), np.zeros((3, 2), np.float32)
    out = model.blend(f, c, np.array([0, 5, 95]))
    assert np.allclose(out[:, 0], [0.0, 0.5, 0.95])


def test_save_and_load_predict_the_same(tmp_path):
    df, factors = _catalogue()
    model = ContentModel(ContentConfig(min_buyers=1)).fit(df, factors, np.ones(len(df)))
    model.save(tmp_path / "content")
    loaded = ContentModel.load(tmp_path / "content")
    np.testing.assert_allclose(loaded.predict(df), model.predict(df), rtol=1e-5, atol=1e-6)


def test_too_few_warm_goods_is_a_clear_error():
    df, factors = _catalogue(n=20)
    import pytest

    with pytest.raises(ValueError, match="too few to learn from"):
        ContentModel(ContentConfig(min_buyers=3)).fit(df, factors, np.zeros(len(df)))


def test_the_content_configuration_has_bounds():
    with pytest.raises(ValidationError, match="shrinkage"):
        ContentConfig(shrinkage=0)  # buyers / (buyers + 0) is undefined for goods nobody bought
    with pytest.raises(ValidationError, match="ngram_max"):
        ContentConfig(ngram_max=0)
    assert ContentConfig().model_dump()["ridge_alpha"] == 10.0


def test_fitting_predicts_what_the_fitted_model_predicts_to_the_last_bit():
    """fit_predict tokenizes the titles once (fit_transform) instead of fitting, then transforming: the goods'
    vectors must be exactly those predict gives from the fitted vocabulary."""
    df, factors = _catalogue()
    model = ContentModel(ContentConfig(min_buyers=1))
    fitted = model.fit_predict(df, factors, np.ones(len(df)))
    assert np.array_equal(fitted, model.predict(df))
