"""Vectors for goods with few or no sales, from their content: title, brand, category and price band.

A ridge regression maps content features to the factors of warm goods (those many fans bought). Titles are
TF-IDF over character 1-3-grams, which works for Chinese without a tokenizer (most Chinese words are one to
three characters). The fitted model is saved as JSON and .npy (no pickle) so the service can embed goods
that arrive after training.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import Field
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge

from recommender.errors import ContractError
from recommender.settings import Settings

_log = logging.getLogger(__name__)


class ContentConfig(Settings):
    """The content model: TF-IDF of titles and brands plus category and price band, ridge-regressed onto the
    factors of warm goods."""

    ngram_max: int = Field(3, ge=1, description="longest character n-gram of the title TF-IDF")
    max_features: int = Field(50_000, ge=1, description="largest TF-IDF vocabulary")
    ridge_alpha: float = Field(10.0, ge=0, description="ridge penalty of the content -> factors regression")
    ridge_tol: float = Field(1e-2, gt=0, description="ridge solver tolerance")
    category_weight: float = Field(1.0, ge=0, description="weight of the one-hot category and price-band blocks "
                                   "beside the text")
    price_bands: int = Field(8, ge=1, description="price bands per category (quantiles of log relative price)")
    min_buyers: int = Field(3, ge=0, description="goods with fewer distinct buyers are not training targets")
    max_train_goods: int = Field(20_000, ge=1, description="warm goods fitted on (a random sample beyond this: "
                                 "the fit time grows, the fit does not)")
    seed: int = Field(0, ge=0, description="random state of the sample of warm goods")
    shrinkage: float = Field(5.0, gt=0, description="factor weight = buyers / (buyers + this); the rest comes "
                             "from content")


def _text(products: pd.DataFrame) -> pd.Series:
    brand = products["brand"].fillna("") if "brand" in products else ""
    return (products["title"].fillna("").astype(str) + " " + brand).str.strip()


class ContentModel:
    """Fit on the warm goods' factors; predict a factor vector for any good from its content."""

    def __init__(self, config: ContentConfig | None = None) -> None:
        self.config = config or ContentConfig()

    def _vectorizer(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer="char", ngram_range=(1, self.config.ngram_max), sublinear_tf=True,
                               min_df=1 if vocabulary else 2, max_features=self.config.max_features,
                               vocabulary=vocabulary, dtype=np.float32)

    def _price_position(self, products: pd.DataFrame) -> np.ndarray:
        """log(price / median price of its category): cheap vs premium within the category."""
        medians = np.array([self.category_median_.get(c, np.nan) for c in products["category"]])
        medians = np.where(np.isnan(medians), self.global_median_, medians)
        return np.log(products["price"].to_numpy(float) / medians)

    def _features(self, products: pd.DataFrame, text: sp.csr_matrix | None = None) -> sp.csr_matrix:
        """The feature matrix; `text`: the titles' TF-IDF when the caller has it (fitting computes it)."""
        if text is None:
            text = self.vectorizer_.transform(_text(products))
        n, w = len(products), self.config.category_weight
        cat_index = {c: i for i, c in enumerate(self.categories_)}
        cat = np.array([cat_index.get(c, -1) for c in products["category"]])
        known = cat >= 0
        cats = sp.csr_matrix((np.full(known.sum(), w, np.float32), (np.flatnonzero(known), cat[known])),
                             shape=(n, len(self.categories_)))
        band = np.searchsorted(self.band_edges_, self._price_position(products))
        bands = sp.csr_matrix((np.full(n, w, np.float32), (np.arange(n), band)),
                              shape=(n, len(self.band_edges_) + 1))
        return sp.hstack([text, cats, bands], format="csr")

    def fit(self, products: pd.DataFrame, factors: np.ndarray, buyers: np.ndarray) -> ContentModel:
        """products: catalogue rows aligned with `factors` (n, d); buyers: distinct buyers per good."""
        self.fit_predict(products, factors, buyers)
        return self

    def fit_predict(self, products: pd.DataFrame, factors: np.ndarray, buyers: np.ndarray) -> np.ndarray:
        """Fit, then predict every good of `products` from the same feature matrix (built once)."""
        warm = buyers >= self.config.min_buyers
        if warm.sum() < 10:
            raise ContractError([f"content model: only {int(warm.sum())} goods have >= {self.config.min_buyers} "
                                 "buyers; too few to learn from"])
        self.categories_ = sorted(products["category"].astype(str).unique())
        self.category_median_ = products.groupby("category")["price"].median().to_dict()
        self.global_median_ = float(products["price"].median())
        self.vectorizer_ = self._vectorizer()
        # all titles: new goods' words get idf too. One pass of the tokenizer (pure Python, the stage's biggest
        # cost) instead of fit then transform; indices sorted as transform leaves them, so the products that
        # follow add in the same order
        text = self.vectorizer_.fit_transform(_text(products))
        text.sort_indices()
        qs = np.linspace(0, 1, self.config.price_bands + 1)[1:-1]
        self.band_edges_ = np.quantile(self._price_position(products), qs)
        X = self._features(products, text)
        train = np.flatnonzero(warm)
        if len(train) > self.config.max_train_goods:
            rng = np.random.default_rng(self.config.seed)
            train = np.sort(rng.choice(train, self.config.max_train_goods, replace=False))
        ridge = Ridge(alpha=self.config.ridge_alpha, tol=self.config.ridge_tol, solver="sparse_cg")
        ridge.fit(X[train], factors[train])
        self.coef_ = np.ascontiguousarray(ridge.coef_.T, dtype=np.float32)  # (features, d)
        self.intercept_ = np.asarray(ridge.intercept_, dtype=np.float32)
        _log.info("content model: fitted on %d of %d warm goods, %d features", len(train), int(warm.sum()),
                  X.shape[1])
        return self._apply(X)

    def _apply(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.coef_ + self.intercept_, dtype=np.float32)

    def predict(self, products: pd.DataFrame) -> np.ndarray:
        """(n, d) factor-space vectors of any goods, including ones added after training."""
        return self._apply(self._features(products))

    def blend(self, factors: np.ndarray, predicted: np.ndarray, buyers: np.ndarray) -> np.ndarray:
        """Trust the learned factors as evidence accumulates; content fills in for goods nobody bought."""
        w = (buyers / (buyers + self.config.shrinkage)).astype(np.float32)[:, None]
        return (w * factors + (1 - w) * predicted).astype(np.float32)

    # -- open-format persistence ----------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "config": self.config.model_dump(),
            "categories": self.categories_,
            "category_median": self.category_median_,
            "global_median": self.global_median_,
            "vocabulary": {k: int(v) for k, v in self.vectorizer_.vocabulary_.items()},
        }
        (directory / "content.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        np.save(directory / "idf.npy", self.vectorizer_.idf_.astype(np.float32), allow_pickle=False)
        np.save(directory / "band_edges.npy", self.band_edges_, allow_pickle=False)
        np.save(directory / "coef.npy", self.coef_, allow_pickle=False)
        np.save(directory / "intercept.npy", self.intercept_, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> ContentModel:
        meta = json.loads((directory / "content.json").read_text(encoding="utf-8"))
        model = cls(ContentConfig.model_validate(meta["config"]))
        model.categories_ = meta["categories"]
        model.category_median_ = meta["category_median"]
        model.global_median_ = meta["global_median"]
        model.vectorizer_ = model._vectorizer(meta["vocabulary"])
        model.vectorizer_.idf_ = np.load(directory / "idf.npy", allow_pickle=False)
        model.band_edges_ = np.load(directory / "band_edges.npy", allow_pickle=False)
        model.coef_ = np.load(directory / "coef.npy", allow_pickle=False)
        model.intercept_ = np.load(directory / "intercept.npy", allow_pickle=False)
        return model
