"""Hyper-parameters chosen on held-out days of the training period (optuna's TPE sampler with pruning).

The split: the snapshot's last ``test_days`` (the offline evaluation's test window) are cut off first and never
seen; of what remains, the last ``valid_days`` are the validation target and everything before them is what
each trial fits on. A trial is scored like the evaluation scores the model: the pairs new in the validation
days, training pairs excluded, NDCG@K over a fixed sample of users.

Each part of the model is tuned against the task it serves, one optuna study per stage, the earlier stages'
best settings fixed (a joint search over twenty parameters needs far more trials than a nightly budget allows):

1. ``vectors``: the factor model (ALS or BPR; factors, regularization, alpha or learning rate, iterations, the
   confidence transform and the recency half-life) on fan->goods NDCG@K; without a shelf table, where the vectors
   also rank the merchant's view (达人广场), on the geometric mean of fan->goods and goods->anchors NDCG@K. An ALS trial
   reports its NDCG every few iterations and is pruned (median rule) when it trails the ALS trials before it at the
   same point (BPR climbs too slowly for its early passes to be compared).
2. ``content``: how much goods with few buyers lean on their title, brand and price (the content model's
   blend and ridge penalty), on fan->goods NDCG@K.
3. ``trend``: how much the market's current trend (a recency-decayed order count, its half-life) and the fan's
   categories add to the vectors' taste (``recommender/trend.py``), on fan->goods NDCG@K.
4. ``rebuy``: how much a fan's own past orders of a good count (its weight and half-life), on fan->goods NDCG@K
   with rebuys included (``fan_goods_all``: the goods a fan buys in the validation days, bought before or not).
5. ``anchors``: the anchor vectors' shrinkages, the weight of a buyer beside a follower and the trend's weight in
   a room's score (the trend within the room's categories), on anchor->goods NDCG@K of the vectors' affinity with
   the trend, as ``VectorScorer`` ranks a room's goods where the snapshot has no shelf table.
6. ``shelf_rate``: the priors of the shelf-rate model, on anchor->goods NDCG@K of expected orders if shelved,
   each room ranking the goods it had listed by the end of the validation days (realised sales can judge orders
   *if shelved* only where a good was shelved; skipped without a shelf table).

The first trial of every stage is the configuration it starts from, so the report always shows the defaults'
validation score beside the best one, and the chosen settings are never worse on the validation days.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import optuna
import pandas as pd
import scipy.sparse as sp
from pydantic import Field, model_validator

from recommender.audience_fit import fit_audience_rates
from recommender.content import ContentModel
from recommender.contract import Marketplace, load_snapshot
from recommender.embeddings import anchor_vectors, fit_factors
from recommender.errors import ConfigError, ContractError
from recommender.interactions import anchor_fan_engagement, anchor_product_matrix, fan_product_matrix
from recommender.profiles import WINDOWS, anchor_category_gmv, anchor_category_windows, audience_profile
from recommender.ranking import RankingConfig
from recommender.ranking.scorers import merchant_score, relative_fit
from recommender.settings import Settings, validated
from recommender.shelf_rate import fit_shelf
from recommender.threads import compute_threads
from recommender.trend import (
    blend,
    category_codes,
    fan_category_log_share,
    fan_rebuys,
    product_trend,
    room_base,
    room_trend_reach,
)
from training.config import TrainConfig
from training.evaluate_split import hold_out
from training.metrics import ranking_metrics
from training.tasks import Task, TaskSample, build_tasks, dot_scores, rank_task, split

_log = logging.getLogger(__name__)

StageName = Literal["vectors", "content", "trend", "rebuy", "anchors", "shelf_rate"]
STAGES: tuple[str, ...] = get_args(StageName)
#: each stage's share of the budget (renormalised over the stages that run): the vectors carry the most
#: parameters and every other part rests on them
SHARES = {"vectors": 0.4, "content": 0.1, "trend": 0.1, "rebuy": 0.1, "anchors": 0.1, "shelf_rate": 0.2}
MIN_TRIALS = 3  # a stage with fewer trials than this is its start plus noise


@contextmanager
def warnings_silenced() -> Iterator[None]:
    """optuna marks the multivariate TPE and fANOVA as experimental on every use; said once in the docs instead."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        yield


class TuneConfig(Settings):
    """The split, the budget and the stages of a tuning run."""

    test_days: float = Field(14.0, ge=0, description="days at the end of the snapshot cut off first and never seen "
                             "(the offline evaluation's test window; 0 when tuning the model to be served)")
    valid_days: float = Field(14.0, gt=0, description="days before the test window that are the validation target")
    split: Literal["temporal", "random"] = Field("temporal", description="temporal: the last valid_days validate; "
                                                 "random: valid_share of each fan's distinct goods, held out at "
                                                 "random, validate (for a model judged on a random split)")
    valid_share: float = Field(0.25, gt=0, lt=1, description="random split: the share of each fan's distinct goods "
                               "held out to validate")
    split_seed: int = Field(1, ge=0, description="random split: the random state of the held-out draw")
    trials: int | None = Field(30, ge=1, description="trials in all, shared by the stages (None: bounded by minutes)")
    minutes: float | None = Field(None, gt=0, description="wall-clock budget in all, shared like the trials")
    max_users: int = Field(2000, ge=10, description="users sampled per task to score a trial on")
    k: int = Field(20, ge=1, description="NDCG cut-off of every objective")
    seed: int = Field(0, ge=0, description="random state of the sampler and of the users sampled")
    stages: tuple[StageName, ...] = Field(STAGES, min_length=1, description="what to tune, in this order")
    algorithms: tuple[Literal["als", "bpr"], ...] = Field(("als", "bpr"), min_length=1,
                                                          description="factor models the vectors stage may choose")
    threads: int | None = Field(None, ge=1, description="compute threads (default: all cores)")
    confidence: float = Field(0.95, ge=0, lt=1, description="a stage keeps its start unless its best trial beats it "
                              "with this confidence (two-sided interval of the paired bootstrap over the validation "
                              "users); 0: the best trial always wins")
    n_boot: int = Field(1000, ge=100, description="bootstrap resamples of that interval")

    @model_validator(mode="after")
    def _bounded(self) -> TuneConfig:
        if self.trials is None and self.minutes is None:
            raise ValueError("a tuning run needs a budget: trials, minutes or both")
        return self


@dataclass
class MerchantFigures:
    """The rooms' figures the merchant's view (达人广场) weighs the vectors' fit by where no shelf table exists,
    as the served model has them (`VectorScorer.rooms_for`), from the fitting period."""

    fans: np.ndarray  # (anchors,) followers
    category_share: np.ndarray  # (anchors, categories) share of the room's 30-day GMV
    category_orders: np.ndarray  # (anchors, categories) orders over the last 30 days
    product_category: np.ndarray  # (goods,) category column
    weight: float  # RankingConfig.room_activity_weight

    @classmethod
    def of(cls, m: Marketplace) -> MerchantFigures:
        gmv = anchor_category_gmv(m)
        total = gmv.sum(axis=1, keepdims=True)
        orders = anchor_category_windows(m)[1][:, WINDOWS.index(30), :]
        return cls(audience_profile(m).fans, np.divide(gmv, total, out=np.zeros_like(gmv), where=total > 0),
                   orders, category_codes(m)[0], RankingConfig().room_activity_weight)

    def scores(self, fit: np.ndarray, goods: np.ndarray) -> np.ndarray:
        """(len(goods), anchors) from the goods' fit to every room."""
        c = self.product_category[goods]
        return merchant_score(relative_fit(fit), self.fans[None, :], self.category_share[:, c].T,
                              self.category_orders[:, c].T, self.weight)


@dataclass
class Validation:
    """What every trial is fitted on and scored against."""

    fit: Marketplace  # the training period minus the validation days
    tasks: dict[str, Task]  # fan_goods, anchor_goods, fan_goods_all (rebuys too) and, without a shelf table,
    # goods_anchors: what happened in the validation days
    k: int
    threads: int
    listed: sp.csr_matrix | None = None  # (anchor_goods users, goods): listed by the end of the validation days
    merchant: MerchantFigures | None = None  # without a shelf table: what the vectors' merchant view weighs rooms by
    cache: dict[str, Any] = field(default_factory=dict)  # the fixed parts a later stage reuses
    scored: dict[str, np.ndarray] = field(default_factory=dict)  # each task's per-user NDCG, last scored

    def ndcg(self, task: str, scores_for: Callable[[np.ndarray], np.ndarray], listed_only: bool = False) -> float:
        """Mean NDCG@k of the task's users. `listed_only`: each room ranks only the goods it had listed by the end
        of the validation days (what a model of orders *if shelved* can be judged on from realised sales: a good
        sells only where it is listed, and which goods a room lists is its own choice, not the model's)."""
        t = self.tasks[task]
        if listed_only:
            if self.listed is None:
                raise ValueError("no shelf table: nothing to restrict the ranking to")
            listed, users, inner = self.listed, t.users, scores_for

            def scores_for(batch: np.ndarray) -> np.ndarray:
                keep = listed[np.searchsorted(users, batch)].toarray()
                return np.where(keep, inner(batch), -np.inf)

        ranked = rank_task(t, scores_for, self.k)
        per_user = np.asarray(ranking_metrics(ranked, t.truth, (self.k,))[f"ndcg@{self.k}"], np.float64)
        self.scored[task] = per_user
        return float(np.nanmean(per_user))


@dataclass
class StageResult:
    name: str
    metric: str
    start_value: float  # the configuration the stage started from
    best_value: float
    best_params: dict[str, Any]
    trials: list[dict]  # number, state, value, params, seconds
    importances: dict[str, float]
    seconds: float
    #: the best trial's value and the 95% interval of its gain over the start (paired bootstrap over the
    #: validation users); `kept_start`: the interval reached 0, so the stage kept its start (best_* are the start's)
    trial_best_value: float = math.nan
    gain_interval: tuple[float, float] | None = None
    kept_start: bool = False

    @property
    def chosen(self) -> str:
        """What the stage settled on: "best" (a trial beat its start, surely), "start (within noise)" (the gate
        kept it: `kept_start`) or "start (no trial beat it)"."""
        if self.kept_start:
            return "start (within noise)"
        return "start (no trial beat it)" if self.best_value == self.start_value else "best"

    def as_dict(self) -> dict:
        return {"stage": self.name, "metric": self.metric, "start_value": self.start_value, "chosen": self.chosen,
                "best_value": self.best_value, "best_params": self.best_params, "importances": self.importances,
                "trial_best_value": self.trial_best_value, "gain_interval": self.gain_interval,
                "kept_start": self.kept_start, "seconds": round(self.seconds, 1), "trials": self.trials}


# -- the parameters of each stage: (dotted TrainConfig field, how a trial suggests it) --------------------------


@dataclass(frozen=True)
class Param:
    """One searched parameter: its name in the trials, the TrainConfig field it sets, and its range or choices."""

    name: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] | None = None
    field: str = ""  # the TrainConfig field, when the trials name it otherwise (BPR's own ranges)

    @property
    def target(self) -> str:
        return self.field or self.name

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def start(self, config: TrainConfig) -> Any:
        """`config`'s value, within the range (a start outside it would be a trial TPE cannot place)."""
        value = _field(config, self.target)
        if self.choices is not None:
            return value
        clipped = np.clip(value, self.low, self.high)
        return int(clipped) if self.integer else float(clipped)


def _field(config: TrainConfig, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


#: what each stage searches (the vectors stage's algorithm, and its ALS- or BPR-only parameters, apart)
SPACE: dict[str, tuple[Param, ...]] = {
    "vectors": (Param("factors.factors", 16, 256, log=True, integer=True),
                Param("confidence", choices=("quantity", "amount")),
                Param("half_life_days", 3.0, 720.0, log=True)),
    "content": (Param("content.shrinkage", 0.3, 100.0, log=True), Param("content.ridge_alpha", 0.1, 300.0, log=True),
                Param("content.category_weight", 0.0, 3.0)),
    "rebuy": (Param("trend.rebuy_weight", 0.0, 4.0), Param("trend.rebuy_half_life_days", 3.0, 730.0, log=True)),
    "trend": (Param("trend.half_life_days", 1.0, 60.0, log=True), Param("trend.weight", 0.0, 4.0),
              Param("trend.category_weight", 0.0, 0.5)),
    "anchors": (Param("trend.room_weight", 0.0, 4.0), Param("anchors.buyer_weight", 0.0, 4.0),
                Param("anchors.sales_shrinkage", 1.0, 3000.0, log=True),
                Param("anchors.audience_shrinkage", 1.0, 3000.0, log=True)),
    "shelf_rate": (Param("shelf_rate.good_prior_orders", 0.05, 20.0, log=True),
                   Param("shelf_rate.room_prior_orders", 0.1, 50.0, log=True),
                   Param("shelf_rate.audience_power", 0.0, 4.0), Param("shelf_rate.room_lean", choices=(False, True))),
}
ALGORITHM_SPACE: dict[str, tuple[Param, ...]] = {
    "als": (Param("factors.regularization", 1e-3, 10.0, log=True), Param("factors.alpha", 0.5, 100.0, log=True),
            Param("factors.iterations", 5, 40, integer=True)),
    "bpr": (Param("factors.bpr_regularization", 1e-4, 0.1, log=True, field="factors.regularization"),
            Param("factors.learning_rate", 1e-3, 0.1, log=True),
            Param("factors.bpr_iterations", 20, 200, log=True, integer=True, field="factors.iterations")),
}


def _suggest(stage: str, trial: optuna.Trial, algorithms: tuple[str, ...]) -> None:
    """Suggest the stage's parameters (the trial keeps them: `trial.params`)."""
    if stage == "vectors":
        algorithm = trial.suggest_categorical("factors.algorithm", list(algorithms))
    for param in SPACE[stage] + (ALGORITHM_SPACE[algorithm] if stage == "vectors" else ()):
        param.suggest(trial)


def with_params(config: TrainConfig, params: dict[str, Any]) -> TrainConfig:
    """`config` with dotted fields replaced (``{"factors.alpha": 3.0}``), validated like a file."""
    data = config.model_dump()
    for dotted, value in params.items():
        *path, last = dotted.split(".")
        node = data
        for part in path:
            node = node[part]
        node[last] = value
    return validated(TrainConfig, data, "tuned parameters")


def _start_params(stage: str, config: TrainConfig, algorithms: tuple[str, ...]) -> dict[str, Any]:
    """The stage's parameters as `config` has them, named as the stage's trials suggest them."""
    out: dict[str, Any] = {}
    params = SPACE[stage]
    if stage == "vectors":
        algorithm = config.factors.algorithm if config.factors.algorithm in algorithms else algorithms[0]
        out["factors.algorithm"] = algorithm
        params = params + ALGORITHM_SPACE[algorithm]
    return out | {p.name: p.start(config) for p in params}


#: trial parameter names -> TrainConfig fields where they differ (BPR's own ranges are suggested under their own)
_RENAME = {p.name: p.field for ps in ALGORITHM_SPACE.values() for p in ps if p.field}


def _config_params(trial_params: dict[str, Any]) -> dict[str, Any]:
    """Trial parameter names -> TrainConfig fields."""
    return {_RENAME.get(k, k): v for k, v in trial_params.items()}


# -- objectives: fit the stage's part with a trial's settings, score it on the validation days ------------------


class Objectives:
    """One objective per stage, each fitting only what its parameters change."""

    PRUNE_EVERY = 5  # iterations between the NDCG reports of a factor-model trial

    def __init__(self, v: Validation) -> None:
        self.v = v

    def vectors(self, config: TrainConfig, trial: optuna.Trial | None) -> float:
        v = self.v
        X = fan_product_matrix(v.fit, config.half_life_days, config.confidence)
        last = config.factors.iterations
        # BPR climbs slowly over many more passes: its early NDCG says little against ALS's at the same pass, so
        # only ALS trials report (and are compared with each other)
        als = config.factors.algorithm == "als"

        def report(iteration: int, fan: np.ndarray, product: np.ndarray) -> None:
            step = iteration + 1
            if trial is None or als is False or step % self.PRUNE_EVERY or step >= last:
                return
            value = self._vectors_value(config, fan, product)
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"{self.metric('vectors')} {value:.4f} after {step} iterations")

        fan, product = fit_factors(X, config.factors, v.threads, callback=report)
        v.cache["vectors"] = (config, fan, product, X)
        return self._vectors_value(config, fan, product)

    def _vectors_value(self, config: TrainConfig, fan: np.ndarray, product: np.ndarray) -> float:
        """fan->goods NDCG; without a shelf table the vectors also rank the merchant's view, so the geometric
        mean of fan->goods and goods->anchors (settings that only suit fans lowered Online Retail's served
        goods->anchors from 0.065 to 0.050)."""
        fan_goods = self.v.ndcg("fan_goods", dot_scores(fan, product))
        if self.v.merchant is None:
            return fan_goods
        rooms = self._anchor_vectors(config, fan, product).blended
        goods_anchors = self.v.ndcg("goods_anchors", lambda goods: self.v.merchant.scores(product[goods] @ rooms.T,
                                                                                          goods))
        return math.sqrt(max(fan_goods, 0.0) * max(goods_anchors, 0.0))

    def metric(self, stage: str) -> str:
        if stage == "vectors" and self.v.merchant is not None:
            return f"sqrt(fan->goods x goods->anchors) NDCG@{self.v.k}"
        return METRIC[stage].format(k=self.v.k)

    def _anchor_vectors(self, config: TrainConfig, fan: np.ndarray, products: np.ndarray):
        v = self.v
        # the rooms' engagement and sales matrices do not depend on the factors: built once per setting, not at
        # every pruning report of every vectors trial
        key = (config.anchors.buyer_weight, config.half_life_days)
        if v.cache.get("rooms", (None,))[0] != key:
            v.cache["rooms"] = (key, anchor_fan_engagement(v.fit, config.anchors.buyer_weight),
                                anchor_product_matrix(v.fit, config.half_life_days))
        _, engagement, sales = v.cache["rooms"]
        verticals = None
        if "main_category" in v.fit.anchors:
            verticals = pd.factorize(v.fit.anchors["main_category"], sort=True)[0]
        return anchor_vectors(engagement, sales, fan, products, config.factors, v.threads,
                              sales_shrinkage=config.anchors.sales_shrinkage, vertical=verticals,
                              audience_shrinkage=config.anchors.audience_shrinkage)

    def _factors(self, config: TrainConfig) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
        """The fan and good factors of `config` (fitted once per configuration of the vectors)."""
        cached = self.v.cache.get("vectors")
        key = (config.factors, config.half_life_days, config.confidence)
        if cached is None or (cached[0].factors, cached[0].half_life_days, cached[0].confidence) != key:
            X = fan_product_matrix(self.v.fit, config.half_life_days, config.confidence)
            fan, product = fit_factors(X, config.factors, self.v.threads)
            self.v.cache["vectors"] = (config, fan, product, X)
        _, fan, product, X = self.v.cache["vectors"]
        return fan, product, X

    def _product_vectors(self, config: TrainConfig) -> np.ndarray:
        _, product_cf, X = self._factors(config)
        buyers = np.diff(X.tocsc().indptr)
        content = ContentModel(config.content)
        return content.blend(product_cf, content.fit_predict(self.v.fit.products, product_cf, buyers), buyers)

    def content(self, config: TrainConfig, trial: optuna.Trial | None) -> float:
        fan, _, _ = self._factors(config)
        return self.v.ndcg("fan_goods", dot_scores(fan, self._product_vectors(config)))

    def _cached_products(self, config: TrainConfig) -> np.ndarray:
        """The good vectors (factors blended with content) of `config`, fitted once per configuration."""
        key = (config.factors, config.half_life_days, config.confidence, config.content)
        if self.v.cache.get("products", (None,))[0] != key:
            self.v.cache["products"] = (key, self._product_vectors(config))
        return self.v.cache["products"][1]

    def trend(self, config: TrainConfig, trial: optuna.Trial | None) -> float:
        return self.v.ndcg("fan_goods", self._fan_scores(config, rebuys=False))

    def _fan_scores(self, config: TrainConfig, rebuys: bool) -> Callable[[np.ndarray], np.ndarray]:
        """Fans' scores as `Model.fan_scores` blends them (taste, trend, categories and, with `rebuys`, the fan's
        own orders), from this configuration's vectors."""
        v, t = self.v, config.trend
        products = self._cached_products(config)
        fan, _, _ = self._factors(config)
        category, log_share = self._log_share(t.category_smoothing)
        trend = product_trend(v.fit, t.half_life_days)
        own = fan_rebuys(v.fit, t.rebuy_half_life_days) if rebuys else None
        return lambda users: blend(fan[users] @ products.T, trend, log_share[users], category, t,
                                   None if own is None else own[users])

    def _log_share(self, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
        """The goods' category codes and the fans' log category shares (computed once per smoothing)."""
        v = self.v
        category, labels = category_codes(v.fit)
        key = ("log_share", smoothing)
        if v.cache.get("log_share", (None,))[0] != key:
            v.cache["log_share"] = (key, fan_category_log_share(v.fit, category, len(labels), smoothing))
        return category, v.cache["log_share"][1]

    def rebuy(self, config: TrainConfig, trial: optuna.Trial | None) -> float:
        return self.v.ndcg("fan_goods_all", self._fan_scores(config, rebuys=True))

    def anchors(self, config: TrainConfig, trial: optuna.Trial | None) -> float:
        v = self.v
        products = self._cached_products(config)
        fan, _, _ = self._factors(config)
        av = self._anchor_vectors(config, fan, products)
        room_weight = config.trend.room_weight
        if not room_weight:
            return v.ndcg("anchor_goods", dot_scores(av.blended, products))
        trend = product_trend(v.fit, config.trend.half_life_days)
        power = RankingConfig().vector_affinity_weight
        if "room_reach" not in v.cache:  # the rooms' categories: the trend within them, as VectorScorer has it
            v.cache["room_reach"] = room_trend_reach(anchor_category_gmv(v.fit))
        reach, category = v.cache["room_reach"], category_codes(v.fit)[0]

        def scores(users: np.ndarray) -> np.ndarray:  # as VectorScorer ranks a room's goods with the trend
            taste = av.blended[users] @ products.T
            top = np.maximum(taste.max(axis=1, keepdims=True), 1e-9)
            return room_base(taste, top, power, room_weight, trend[None, :] * reach[users][:, category])

        return v.ndcg("anchor_goods", scores)

    def shelf_rate(self, config: TrainConfig, trial: optuna.Trial | None) -> float:
        v = self.v
        engagement = anchor_fan_engagement(v.fit, config.anchors.buyer_weight)
        fitted = fit_shelf(v.fit, config.shelf_rate, engagement)
        if fitted is None:
            raise ValueError("no shelf table: the shelf-rate stage has nothing to fit")
        rates = fitted.rates
        if config.audience_fit.enabled:
            rates = fit_audience_rates(v.fit, fitted, engagement, config.audience_fit)
        return v.ndcg("anchor_goods", lambda users: rates.expected(users), listed_only=True)


#: each stage scores what it tunes, so two stages' figures for the same settings differ: the factors alone,
#: then the factors blended with the content model, then with the trend (ALS or BPR factors)
METRIC = {"vectors": "fan->goods NDCG@{k} (the factors alone)",
          "content": "fan->goods NDCG@{k} (factors blended with the content model)",
          "trend": "fan->goods NDCG@{k} (taste blended with the trend)",
          "rebuy": "fan->goods NDCG@{k}, rebuys included (fan_goods_all)",
          "anchors": "anchor->goods NDCG@{k} (vector affinity with the trend)",
          "shelf_rate": "anchor->goods NDCG@{k} within each room's listed goods (expected orders if shelved)"}


@dataclass
class TuneResult:
    """The chosen configuration and how it was chosen."""

    config: TrainConfig  # the configuration tuning started from, with every stage's best settings
    start: TrainConfig
    stages: list[StageResult]
    split: dict[str, Any]
    data: dict[str, Any]
    budget: dict[str, Any]
    seconds: float

    def summary(self, config_file: str | None = None) -> dict:
        """What a model's manifest (and the registry's history) records of the tuning behind its settings."""
        stages = {s.name: {"metric": s.metric, "start": round(s.start_value, 5), "best": round(s.best_value, 5),
                           "trials": len(s.trials), "best_trial": round(s.trial_best_value, 5),
                           "gain_interval": None if s.gain_interval is None
                           else [round(x, 5) for x in s.gain_interval], "kept_start": s.kept_start,
                           "chosen": s.chosen}
                  for s in self.stages}
        return {"config_file": config_file, "data": self.data, "split": self.split,
                "seconds": round(self.seconds, 1), "stages": stages}

    def as_dict(self) -> dict:
        return {"data": self.data, "split": self.split, "budget": self.budget, "seconds": round(self.seconds, 1),
                "stages": [s.as_dict() for s in self.stages],
                "start": self.start.model_dump(mode="json"), "config": self.config.model_dump(mode="json")}


def prepare(m: Marketplace, cfg: TuneConfig, threads: int) -> tuple[Validation, dict[str, Any]]:
    """Cut the test window off, then the validation days; the tasks every trial is scored on."""
    period = split(m, cfg.test_days)[0] if cfg.test_days > 0 else m
    if cfg.split == "random":  # what a random split asks: which of the fan's goods, from any time, are missing
        held = hold_out(period, "fan_goods", cfg.valid_share, cfg.split_seed)
        fit_m, valid, cutoff = held.train, held.test, period.snapshot_time
    else:
        fit_m, valid, cutoff = split(period, cfg.valid_days)
    if len(fit_m.orders) == 0 or len(valid) == 0:
        what = (f"a random {cfg.valid_share:g} of each fan's goods" if cfg.split == "random"
                else f"the {cfg.valid_days:g} validation days")
        raise ConfigError(f"{m.source}: tuning needs orders both to fit on and in {what} before the "
                          f"{cfg.test_days:g}-day test window (fit orders {len(fit_m.orders)}, validation orders "
                          f"{len(valid)})")
    no_shelf = len(period.shelf) == 0  # the vectors rank the merchant's view too: score it
    # a random split holds out whole (fan, good) pairs: no validation purchase is a rebuy
    names = (("fan_goods", "anchor_goods") + (("fan_goods_all",) if cfg.split == "temporal" else ())
             + (("goods_anchors",) if no_shelf else ()))
    tasks = build_tasks(fit_m, valid, TaskSample(tasks=names, max_users=cfg.max_users, seed=cfg.seed))
    if len(tasks["fan_goods"].users) == 0:
        raise ConfigError(f"{m.source}: no fan bought anything new in the validation days; nothing to tune on")
    listed = None
    if len(period.shelf):
        users = tasks["anchor_goods"].users
        shelf = sp.csr_matrix((np.ones(len(period.shelf)), (period.shelf["anchor"].to_numpy(),
                                                            period.shelf["product"].to_numpy())),
                              shape=(len(fit_m.anchor_ids), len(fit_m.product_ids)))
        listed = (shelf[users] > 0).astype(np.float32).tocsr()
    info = {"kind": cfg.split, "fit_until": str(cutoff), "valid_until": str(period.snapshot_time),
            "test_days_held_out": cfg.test_days,
            **({"valid_share": cfg.valid_share, "split_seed": cfg.split_seed} if cfg.split == "random"
               else {"valid_days": cfg.valid_days}),
            "fit_orders": len(fit_m.orders), "valid_orders": len(valid),
            "users": {name: len(t.users) for name, t in tasks.items()}}
    merchant = MerchantFigures.of(fit_m) if no_shelf and len(tasks["goods_anchors"].users) else None
    return Validation(fit_m, tasks, cfg.k, threads, listed, merchant), info


def _budgets(stages: list[str], cfg: TuneConfig) -> dict[str, tuple[int | None, float | None]]:
    """(trials, seconds) of each stage: the run's budget split by SHARES over the stages that run."""
    total = sum(SHARES[s] for s in stages)
    share = {s: SHARES[s] / total for s in stages}
    trials: dict[str, int | None] = dict.fromkeys(stages)
    if cfg.trials is not None:  # cfg.trials in all, by share, at least MIN_TRIALS a stage; a budget below
        # MIN_TRIALS a stage is raised to that (the caller says so: budget_note)
        exact = {s: cfg.trials * share[s] for s in stages}
        trials = {s: max(MIN_TRIALS, round(exact[s])) for s in stages}
        while sum(trials.values()) > cfg.trials and any(t > MIN_TRIALS for t in trials.values()):
            over = max((s for s in stages if trials[s] > MIN_TRIALS), key=lambda s: trials[s] - exact[s])
            trials[over] -= 1
        while sum(trials.values()) < cfg.trials:
            trials[max(stages, key=lambda s: exact[s] - trials[s])] += 1
    return {s: (trials[s], None if cfg.minutes is None else cfg.minutes * 60 * share[s]) for s in stages}


def budget_note(cfg: TuneConfig, budgets: dict[str, tuple[int | None, float | None]]) -> str | None:
    """What to tell the user when the trials run are more than the budget asked for (None when they are not)."""
    planned = sum(t or 0 for t, _ in budgets.values())
    if cfg.trials is None or planned <= cfg.trials:
        return None
    return (f"budget of {cfg.trials} trials raised to {planned}: each of the {len(budgets)} stages runs at least "
            f"{MIN_TRIALS} (fewer is its start plus noise); choose fewer stages (--stages) for a smaller run")


def _short(params: dict[str, Any]) -> str:
    def fmt(v: Any) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)
    return " ".join(f"{k.rsplit('.', 1)[-1]}={fmt(v)}" for k, v in params.items())


def run_stage(name: str, objectives: Objectives, config: TrainConfig, cfg: TuneConfig, trials: int | None,
              seconds: float | None, progress: Callable[[str], None]) -> StageResult:
    """One optuna study over the stage's parameters, everything else fixed at `config`."""
    started = time.perf_counter()
    startup = 10 if trials is None else max(2, min(10, trials // 3))
    with warnings_silenced():
        sampler = optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=startup, multivariate=True, group=True)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=Objectives.PRUNE_EVERY - 1)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner, study_name=name)
    study.enqueue_trial(_start_params(name, config, cfg.algorithms))
    fit = getattr(objectives, name)
    metric = objectives.metric(name)
    label = f"{trials}" if trials else f"{seconds / 60:.1f} min"

    scored: dict[int, dict[str, np.ndarray]] = {}  # each completed trial's per-user NDCG, for the noise gate

    def objective(trial: optuna.Trial) -> float:
        with warnings_silenced():
            _suggest(name, trial, cfg.algorithms)
        params = _config_params(trial.params)
        t = time.perf_counter()
        objectives.v.scored.clear()
        try:
            value = fit(with_params(config, params), trial)
        except optuna.TrialPruned as exc:
            progress(f"[{name} {trial.number + 1}] pruned: {exc} ({time.perf_counter() - t:.1f} s)  {_short(params)}")
            raise
        scored[trial.number] = dict(objectives.v.scored)
        trial.set_user_attr("seconds", round(time.perf_counter() - t, 2))
        done = [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        best = max([value, *done])
        progress(f"[{name} {trial.number + 1}/{label}] {metric} {value:.4f} (best {best:.4f}, "
                 f"{time.perf_counter() - t:.1f} s)  {_short(params)}")
        return value

    study.optimize(objective, n_trials=trials, timeout=seconds, catch=(FloatingPointError, np.linalg.LinAlgError))
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise ConfigError(f"tuning stage {name}: no trial completed")
    try:
        with warnings_silenced(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "some regimes have fewer than 2 trials": said in the report
            importances = {k: round(float(v), 4) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError):  # too few trials, or no variance to explain
        importances = {}
    rows = [{"number": t.number, "state": t.state.name.lower(), "value": t.value,
             "last_reported": t.intermediate_values.get(max(t.intermediate_values)) if t.intermediate_values
             else None, "seconds": t.user_attrs.get("seconds"), "params": t.params} for t in study.trials]
    first = study.trials[0]
    start_value = first.value if first.state == optuna.trial.TrialState.COMPLETE else math.nan
    best, interval, kept = study.best_trial, None, False
    if cfg.confidence > 0 and best.number != first.number and first.number in scored and best.number in scored:
        interval = paired_gain(scored[first.number], scored[best.number], cfg.confidence, cfg.n_boot, cfg.seed)
        kept = interval[0] <= 0.0
        progress(f"{name}: best trial {best.value:.4f} against the start {start_value:.4f}, gain "
                 f"{cfg.confidence:.0%} interval [{interval[0]:+.4f}, {interval[1]:+.4f}]: "
                 + ("within noise, the start is kept" if kept else "kept"))
    chosen = first if kept else best
    return StageResult(name, metric, float(start_value), float(chosen.value), _config_params(chosen.params), rows,
                       importances, time.perf_counter() - started, float(best.value), interval, kept)


def paired_gain(start: dict[str, np.ndarray], best: dict[str, np.ndarray], confidence: float, n_boot: int,
                seed: int) -> tuple[float, float]:
    """The `confidence` interval of (best's value - start's), resampling each task's validation users, the same
    resample for both (paired): a stage's best of many trials on one sample of users beats its start by chance
    too (the trend stage's 1-day half-life won 14 validation days on Online Retail and lost its test window). A
    stage's value is the geometric mean of its tasks' mean NDCG (one task: the mean), as the objectives score."""
    rng = np.random.default_rng(seed)
    log_start, log_best = np.zeros(n_boot), np.zeros(n_boot)
    for task in start:
        a, b = start[task], best[task]
        idx = rng.integers(0, len(a), (n_boot, len(a)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a resample of users without a value: NaN, dropped
            log_start += np.log(np.maximum(np.nanmean(a[idx], axis=1), 1e-12))
            log_best += np.log(np.maximum(np.nanmean(b[idx], axis=1), 1e-12))
    diff = np.exp(log_best / len(start)) - np.exp(log_start / len(start))
    diff = diff[np.isfinite(diff)]
    tail = (1.0 - confidence) / 2
    return float(np.quantile(diff, tail)), float(np.quantile(diff, 1.0 - tail))


def tune(data: str | Path | Marketplace, cfg: TuneConfig | None = None, start: TrainConfig | None = None,
         progress: Callable[[str], None] = _log.info,
         fewer_days: str = "cut off fewer (--test-days, --valid-days)") -> TuneResult:
    """Tune `start` (the defaults when None) on a snapshot, stage by stage; returns the chosen configuration.
    `fewer_days`: what the caller's user changes to cut off fewer days, for the error of a fit window too small
    (evaluate's --test-days sets both; tune's own two options)."""
    cfg = cfg or TuneConfig()
    start = start or TrainConfig()
    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed trial is reported below, not as a traceback
    m = data if isinstance(data, Marketplace) else load_snapshot(data)
    with compute_threads(cfg.threads if cfg.threads is not None else start.threads) as threads:
        v, split_info = prepare(m, cfg, threads)
        stages = [s for s in cfg.stages if (s != "shelf_rate" or len(v.fit.shelf))
                  and (s != "rebuy" or "fan_goods_all" in v.tasks)]
        budgets = _budgets(stages, cfg)
        valid = f"{split_info['valid_orders']:,} orders of " + (
            f"a random {cfg.valid_share:g} of each fan's goods" if cfg.split == "random"
            else f"the next {cfg.valid_days:g} days")
        progress(f"tuning {', '.join(stages)} on {split_info['fit_orders']:,} orders until {split_info['fit_until']}; "
                 f"validation: {valid}, "
                 f"{split_info['users']['fan_goods']:,} fans and {split_info['users']['anchor_goods']:,} anchors "
                 f"scored; {cfg.test_days:g} test days held out")
        note = budget_note(cfg, budgets)
        if note:
            progress(note)
        objectives = Objectives(v)
        config, results = start, []
        for name in stages:
            try:
                result = run_stage(name, objectives, config, cfg, *budgets[name], progress)
            except ContractError as exc:  # the fit window is too small for a model the snapshot itself fits
                raise ContractError([
                    f"tuning fits on the {split_info['fit_orders']:,} orders until {split_info['fit_until']} (the "
                    f"last {cfg.valid_days:g} validation and {cfg.test_days:g} test days cut off), too few for "
                    f"the {name} stage: {problem}; give the snapshot more days, or {fewer_days}"
                    for problem in exc.problems]) from exc
            config = with_params(config, result.best_params)
            results.append(result)
            progress(f"{name}: {result.metric} {result.start_value:.4f} -> {result.best_value:.4f} "
                     f"({len(result.trials)} trials, {result.seconds:.0f} s)")
    budget = {"trials": cfg.trials, "minutes": cfg.minutes, "note": note,
              "per_stage": {s: {"trials": t, "seconds": sec} for s, (t, sec) in budgets.items()}}
    data_info = {"source": str(m.source) if m.source else None, "fingerprint": m.fingerprint,
                 "snapshot_time": str(m.snapshot_time)}
    return TuneResult(config, start, results, split_info, data_info, budget, time.perf_counter() - started)
