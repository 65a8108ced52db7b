from __future__ import annotations

import pytest

from recommender.artifact import load_model
from recommender.ranking import PickFilters, Ranker, RankingConfig


@pytest.fixture(scope="module")
def ranker(small_artifact):
    return Ranker(load_model(small_artifact))


@pytest.fixture(scope="module")
def shelf_ranker(small_artifact):
    """The category x quality model alone (the room x good term off): every room orders a category alike."""
    return Ranker(load_model(small_artifact), RankingConfig(audience_fit=False))


@pytest.fixture(scope="module")
def plain_ranker(small_artifact):
    """The room x good term without exploration: every score the model's own."""
    return Ranker(load_model(small_artifact), RankingConfig(explore=0.0))


@pytest.fixture(scope="module")
def explore_ranker(small_artifact):
    """The room x good term with wide exploration: near-tied goods rotate over rooms."""
    return Ranker(load_model(small_artifact), RankingConfig(explore=0.3))


@pytest.fixture(scope="module")
def vector_ranker(small_artifact):
    """The ranking of artifacts without the shelf-rate model (no shelf table), with the trend in rooms' scores."""
    model = load_model(small_artifact)
    model.shelf_rate = None
    model.trend = model.trend.model_copy(update={"room_weight": 0.8})  # the market's trend in the room's score
    return Ranker(model)


FILTERS = [PickFilters(), PickFilters(category="美妆"), PickFilters(price_max=30.0), PickFilters(exclude_shelf=True),
           PickFilters(new_goods=True)]
