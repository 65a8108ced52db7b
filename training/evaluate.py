"""Offline evaluation: a temporal split, four tasks, our model and its ablations against baselines, full-ranking
metrics with bootstrap confidence intervals, and the oracle ceiling on synthetic data.

The split and the tasks (anchor_goods, fan_goods, goods_anchors, fan_goods_all) are in ``training/tasks.py``,
shared with tuning and the nightly gate.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import Field

from recommender.arrays import top_k
from recommender.artifact import Model, load_model
from recommender.contract import Marketplace, load_snapshot
from recommender.embeddings import FactorConfig, fit_factors
from recommender.errors import ConfigError, ContractError
from recommender.ranking import PickFilters, Ranker, RankingConfig
from recommender.ranking.arrange import arrange, slot_codes
from recommender.ranking.catalog import Goods
from recommender.ranking.qc import qc_factor
from recommender.settings import validated
from recommender.shelf_rate import ShelfRateConfig, fit_shelf_rates, has_exposure
from recommender.threads import compute_threads
from recommender.trend import blend, fan_rebuys
from training.config import TrainConfig
from training.evaluate_split import REFUSED, random_split
from training.fit_metrics import (
    dear_share,
    fans_price_p90,
    identical_top_share,
    main_category_spearman,
    price_sensitive_rooms,
)
from training.metrics import bootstrap_ci, coverage, ndcg_at_k, ranking_metrics
from training.report import PER_USER_METRICS
from training.tasks import Task, TaskSample, build_tasks, dot_scores, rank_task, split, sum_pairs
from training.trainer import train
from training.tune import TuneConfig, tune

_log = logging.getLogger(__name__)



class EvalConfig(TaskSample):
    """The split (temporal, or random per user), the tasks and the bootstrap of an offline evaluation."""

    split: Literal["temporal", "random"] = Field("temporal", description="temporal: train before a cut-off, score "
                                                 "the test_days after it; random: hold out test_share of each "
                                                 "user's distinct items (training/evaluate_split.py)")
    test_days: float = Field(14.0, gt=0, le=36500, allow_inf_nan=False,
                             description="days after the cut-off that are scored (temporal); with "
                             "tune_trials, the days that validate the tuning (temporal split: a random split's "
                             "tuning validates on another draw of test_share)")
    test_share: float = Field(0.25, gt=0, lt=1, description="random split: the share of each user's distinct "
                              "items held out")
    split_seed: int = Field(0, ge=0, description="random split: the random state of the held-out draw")
    split_min_items: int = Field(5, ge=2, description="random split: users with fewer distinct items stay all "
                                 "in training")
    ks: tuple[Annotated[int, Field(ge=1)], ...] = Field((10, 20, 50, 100), min_length=1,
                                                        description="cut-offs of the ranking metrics")
    n_boot: int = Field(500, ge=1, description="bootstrap resamples of each confidence interval")
    train: TrainConfig = Field(default_factory=TrainConfig, description="the model's training configuration")
    ranking: RankingConfig = Field(default_factory=RankingConfig, description="the service's ranking settings, "
                                   "which make the served lists (ours, the served oracle, the graded tasks' "
                                   "earnings)")
    tune_trials: int = Field(0, ge=0, description="also tune (xuanpin tune, this many trials) on the training "
                             "period's last days and score the tuned model beside the untuned one (0: do not)")


# -- scorers: (task) -> dense scores (len(users), n_items); higher is better -----------------------------------


def _interactions(train_m: Marketplace, task: str) -> sp.csr_matrix:
    """The task's own user x item training matrix (log-compressed quantities), for the plain baselines."""
    tr = train_m.purchases
    u, i = {"anchor_goods": ("anchor", "product"), "fan_goods": ("fan", "product"),
            "fan_goods_all": ("fan", "product"), "goods_anchors": ("product", "anchor")}[task]
    n = {"anchor": len(train_m.anchor_ids), "fan": len(train_m.fan_ids), "product": len(train_m.product_ids)}
    mat = sum_pairs(tr[u].to_numpy(), tr[i].to_numpy(), tr["quantity"].to_numpy(float), (n[u], n[i]))
    mat.data = np.log1p(mat.data)
    return mat.astype(np.float32)


def buy_again(train_m: Marketplace) -> Callable:
    """The rebuy baseline: what the fan bought, most and latest first (orders decayed over 30 days), then what
    everyone buys."""
    own = fan_rebuys(train_m, 30.0)
    popularity = np.bincount(train_m.purchases["product"].to_numpy(), minlength=len(train_m.product_ids))
    tie = 1e-6 * popularity / max(popularity.max(initial=0), 1)
    return lambda users: own[users].toarray() + tie[None, :]


def baselines(train_m: Marketplace, task: str, cfg: EvalConfig, threads: int) -> dict[str, Callable]:
    X = _interactions(train_m, task)
    n_items = X.shape[1]
    rng = np.random.default_rng(cfg.seed)
    popularity = np.asarray(X.sum(axis=0)).ravel()
    recent = train_m.purchases[train_m.purchases["ordered_at"] >= train_m.snapshot_time - pd.Timedelta(days=7)]
    item_col = "anchor" if task == "goods_anchors" else "product"
    recent_pop = np.bincount(recent[item_col].to_numpy(), minlength=n_items).astype(float)

    def constant(v: np.ndarray) -> Callable:
        return lambda users: np.broadcast_to(v + 1e-9 * np.arange(n_items)[::-1], (len(users), n_items)).copy()

    out: dict[str, Callable] = {
        "random": lambda users: rng.random((len(users), n_items)),
        "popularity": constant(popularity),
        "recent_popularity": constant(recent_pop + 1e-3 * popularity),
    }
    # category popularity: the user's category mix of training purchases x popularity within the category
    if task in ("anchor_goods", "fan_goods"):
        cat, _ = pd.factorize(train_m.products["category"], sort=True)
        onehot = sp.csr_matrix((np.ones(n_items), (np.arange(n_items), cat)), shape=(n_items, cat.max() + 1))
        mix = (X @ onehot).toarray()
        mix = mix / np.maximum(mix.sum(axis=1, keepdims=True), 1e-12)
        within = popularity / np.maximum(np.bincount(cat, popularity)[cat], 1e-12)
        out["category_popularity"] = lambda users: mix[users][:, cat] * within[None, :] + 1e-9 * popularity
    if task == "goods_anchors":  # the merchant's plain search: rooms by their GMV in the good's category
        cat, _ = pd.factorize(train_m.products["category"], sort=True)
        tr = train_m.purchases
        gmv = sum_pairs(cat[tr["product"].to_numpy()], tr["anchor"].to_numpy(), tr["amount"].to_numpy(float),
                         (cat.max() + 1, n_items)).toarray()
        out["category_sellers"] = lambda goods: gmv[cat[goods]] + 1e-9 * popularity
    # ItemKNN: cosine item-item similarity over the training matrix, top-100 neighbours per item
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=0)).ravel())
    Xn = X @ sp.diags(1 / np.maximum(norms, 1e-12))
    S = (Xn.T @ Xn).tocsr()
    S.setdiag(0)
    S = _prune_rows(S, 100)
    out["itemknn"] = lambda users: (X[users] @ S).toarray()
    # plain implicit models on the task's own matrix (implicit's BPR defaults, but 50 iterations), of the default
    # size whatever the model's: a baseline that moved with the model's settings moved "ours against the best
    # baseline" with them (a data scientist's probe: 16 factors took plain ALS from 0.14 to 0.23)
    d = FactorConfig().factors
    als = FactorConfig(algorithm="als", factors=d, iterations=15, regularization=0.05, alpha=10.0, seed=cfg.seed)
    bpr = FactorConfig(algorithm="bpr", factors=d, iterations=50, regularization=0.01, learning_rate=0.01,
                       seed=cfg.seed)
    out["als"] = dot_scores(*fit_factors(X, als, threads))
    out["bpr"] = dot_scores(*fit_factors(X, bpr, threads))  # fitted on one thread whatever is asked (fit_factors)
    return out


def _prune_rows(S: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Keep each row's `keep` largest entries (vectorised over the CSR arrays)."""
    S = S.tocsr()
    S.eliminate_zeros()
    counts = np.diff(S.indptr)
    if counts.max(initial=0) <= keep:
        return S
    row = np.repeat(np.arange(S.shape[0]), counts)
    order = np.lexsort((-S.data, row))
    rank = np.arange(len(order)) - np.repeat(S.indptr[:-1], counts)
    kept = order[rank < keep]
    return sp.csr_matrix((S.data[kept], (row[kept], S.indices[kept])), shape=S.shape)


def ours(model: Model, task: str) -> dict[str, Callable]:
    """Our model and its ablations, as raw scorers (the business re-ranking is evaluated separately)."""
    v = model.vectors
    if task == "anchor_goods":
        # ours: expected orders if shelved (the shelf-rate model with the room x good term) where the snapshot has
        # a shelf table, else the vectors; ablation_vector_affinity is the vectors' affinity it replaced
        rates = model.if_shelved
        vector = dot_scores(v["anchor"], v["product"])
        return {"ours_no_rerank": vector if rates is None else (lambda users: rates.expected(users)),
                "ablation_vector_affinity": vector,
                "ablation_audience_only": dot_scores(v["anchor_audience"], v["product"]),
                "ablation_sales_only": dot_scores(v["anchor_sales"], v["product"]),
                "ablation_no_content": dot_scores(v["anchor"], v["product_cf"])}
    if task == "fan_goods_all":
        # rebuys count here: ours with the fan's own orders of each good (recommender/trend.py), and without
        out = {"ours": model.fan_scores, "ablation_no_trend": dot_scores(v["fan"], v["product"])}
        if model.rebuys is not None:
            out["ablation_no_rebuy"] = lambda users: model.fan_scores(users, rebuys=False)
        return out
    if task == "fan_goods":
        # ours: the taste blended with the market's trend (recommender/trend.py); the ablations drop one part each
        out = {"ours": model.fan_scores, "ablation_no_trend": dot_scores(v["fan"], v["product"]),
               "ablation_no_content": dot_scores(v["fan"], v["product_cf"])}
        if model.trend is not None:
            trend = np.asarray(model.product_trend)
            out["ablation_trend_only"] = lambda users: np.broadcast_to(trend, (len(users), len(trend))).copy()
            if model.trend.category_weight:
                no_category = model.trend.model_copy(update={"category_weight": 0.0})
                out["ablation_trend_not_by_category"] = lambda users: blend(
                    np.asarray(v["fan"][users], np.float32) @ np.asarray(v["product"], np.float32).T, trend,
                    np.zeros((len(users), 1), np.float32), np.zeros(len(trend), np.int32), no_category)
        return out
    # ours: a good's expected orders in every room if shelved (the shelf-rate model), else the vectors
    rates = model.if_shelved
    vector = dot_scores(v["product"], v["anchor"])
    rooms = np.arange(len(v["anchor"]))
    return {"ours_no_rerank": vector if rates is None else (lambda goods: rates.expected(rooms, goods).T),
            "ablation_vector_affinity": vector,
            "ablation_audience_only": dot_scores(v["product"], v["anchor_audience"]),
            "ablation_sales_only": dot_scores(v["product"], v["anchor_sales"])}


def shelf_rate_ablations(train_m: Marketplace, cfg: EvalConfig) -> dict[str, Callable]:
    """The shelf-rate model refitted without one part each: the room x good term (category x quality alone, every
    room of a vertical ordering a category alike); burst capping; the audience in the room prior (a room's
    categories it never sold then look alike); the room's own category strength (the prior alone); the goods'
    features in the quality prior. The variants other than the first are without the room x good term."""
    base = cfg.train.shelf_rate

    def variant(**changes) -> ShelfRateConfig:
        return validated(ShelfRateConfig, {**base.model_dump(), **changes}, "shelf-rate ablation")

    variants = {"ablation_category_x_quality": base,
                "ablation_rate_no_burst_cap": variant(burst_rounds=0),
                "ablation_rate_no_audience_prior": variant(audience_power=0.0),
                "ablation_rate_prior_rooms_only": variant(room_prior_orders=1e9),
                "ablation_rate_no_quality_features": variant(quality_features=False)}
    out = {}
    for name, variant in variants.items():
        rates = fit_shelf_rates(train_m, variant)
        if rates is not None:
            out[name] = lambda users, r=rates: r.expected(users)
    return out


def _served(task: Task, k: int, rank_one: Callable[[int, np.ndarray], list[int]]) -> np.ndarray:
    """Rankings from a served, one-user-at-a-time ranker, with training pairs and unborn items excluded."""
    unborn = np.flatnonzero(task.unborn) if task.unborn is not None else np.zeros(0, np.int64)
    out = np.full((len(task.users), k), -1, np.int64)
    for j, user in enumerate(task.users):
        rows = rank_one(int(user), np.concatenate([task.seen[j].indices, unborn]))
        out[j, :len(rows)] = rows
    return out


def ours_anchors_served(ranker: Ranker, task: Task, k: int) -> np.ndarray:
    """The served anchors-for-a-good ranking (达人广场): gates, filters and the ranker's order."""
    return _served(task, k, lambda product, excluded: [
        it["anchor"] for it in ranker.anchors_for(product, k, exclude=excluded).items])


SERVED_PAGE = 20  # the selection center's page (the API's default k): caps and support shares apply per page


def oracle_anchors_served(ranker: Ranker, task: Task, expected: np.ndarray, k: int) -> np.ndarray:
    """The merchant's served rules with perfect knowledge: each good's rooms ranked by the truth's expected sales
    (`expected`: (rooms, goods), all of them) through the same anchor gates, exclusions and 新人主播 slots as
    ours_anchors_served. Its graded NDCG is what those rules allow."""
    gate, arrange_rooms = ranker.anchor_gate, ranker.anchors_for_good.order

    def rank_one(product: int, excluded: np.ndarray) -> list[int]:
        mask = gate.copy()
        mask[excluded] = False
        rows = np.flatnonzero(mask)
        if not len(rows):
            return []
        return rows[arrange_rooms(rows, np.asarray(expected[rows, product], np.float64), k)].tolist()

    return _served(task, k, rank_one)


def ours_reranked(ranker: Ranker, task: Task, k: int, page: int = SERVED_PAGE) -> np.ndarray:
    """The served pipeline for anchors: quality gates, expected value, exposure support, category caps; the
    first k goods as the selection center shows them, `page` at a time (one page of k would cap categories at
    a share of k, not of what is on screen)."""
    def rank_one(anchor: int, excluded: np.ndarray) -> list[int]:
        filters = PickFilters(exclude_products=excluded)
        shown = [p.product for offset in range(0, k, page) for p in ranker.picks(anchor, page, offset, filters).items
                 ][:k]
        if len(set(shown)) < len(shown):  # graded NDCG would count a repeated good twice
            raise RuntimeError(f"anchor row {anchor}: the served pages repeat goods")
        return shown

    return _served(task, k, rank_one)


def oracle_served(ranker: Ranker, task: Task, expected: np.ndarray, k: int, order_value: np.ndarray | None = None
                  ) -> np.ndarray:
    """The served rules with perfect knowledge: each room's goods valued by the truth's expected commission
    (`expected`: (rooms, goods) expected orders if shelved, all rooms) x (yuan per order)^p x commission^c x the
    品控 factor x the support boost (x the room's exploration factors where the ranking explores), through the
    same gates,
    exclusions and page arrangement (category cap, support share, 拓品类 cap, blocks of `page_block`) as
    `ours_reranked`. Its graded NDCG is what the rules allow: the gap between it and the
    unconstrained oracle is the rules', the gap between ours and it the model's. `order_value`: the true yuan per
    order (None: the service's estimate, Goods.order_value)."""
    unborn = np.flatnonzero(task.unborn) if task.unborn is not None else np.zeros(0, np.int64)
    seen = task.seen.tocsr()
    return truth_served(ranker, task.users, expected, k, np.split(seen.indices, seen.indptr[1:-1]), unborn,
                        order_value)


def truth_served(ranker: Ranker, users: np.ndarray, expected: np.ndarray, k: int,
                 excluded: list[np.ndarray] | None = None, unborn: np.ndarray | None = None,
                 order_value: np.ndarray | None = None) -> np.ndarray:
    """(users, k) the truth's expected commission arranged by the served rules for each room in `users`
    (`expected`: all rooms' expected orders if shelved), without the goods `excluded[j]` for the j-th room or
    any `unborn` good: oracle_served's lists, and the served lists' reference in personal_fit."""
    cfg, goods = ranker.config, ranker.goods
    earns = bool(np.any(goods.commission > 0))
    per_order = goods.order_value if order_value is None else order_value
    value = (per_order ** cfg.price_weight * goods.commission ** cfg.commission_weight if earns
             else np.ones(len(goods.price))) * qc_factor(goods, cfg) * ranker.scorer.boost
    code = slot_codes(goods.category, goods.supported)
    explore = ranker.scorer.explore
    out = np.full((len(users), k), -1, np.int64)
    for j, user in enumerate(np.asarray(users).tolist()):
        mask = ranker.gate.copy()
        if excluded is not None:
            mask[excluded[j]] = False
        if unborn is not None:
            mask[unborn] = False
        rows = np.flatnonzero(mask)
        score = np.asarray(expected[user], np.float64)[rows] * value[rows]
        if explore is not None:  # the room's exploration factors are a served rule too
            score = score * explore.factors(user, rows)
        outside = ranker.rooms.outside(user, cfg.home_share) if cfg.max_outside_share < 1 else None
        shown = arrange(code[rows], score, k, cfg.page_block, max_category_share=cfg.max_category_share,
                        support_share=cfg.support_share, outside=outside, max_outside_share=cfg.max_outside_share,
                        tie=rows)
        out[j, :len(shown)] = rows[shown]
    return out


# -- scoring a ranking --------------------------------------------------------------------------------------


def score(ranked: np.ndarray, task: Task, cfg: EvalConfig, goods: Goods | None,
          per_user: dict | None = None, paired: dict | None = None) -> dict:
    """The ranking's metrics with bootstrap intervals, and where the items are goods (`goods`: the exposure
    yardstick) the share of slots held by small merchants, new goods and every supported (扶持) good, and the
    categories' diversity; `per_user` (a dict) also receives the per-user values of PER_USER_METRICS, so two
    reports on the same users can be compared user by user (report.compare), and `paired` (a dict) the same
    values at full precision, which paired_differences compares within the run."""
    values = ranking_metrics(ranked, task.truth, cfg.ks)
    if paired is not None:
        paired.update({m: np.asarray(values[m], np.float64) for m in PAIRED_METRICS if m in values})
    if per_user is not None:
        per_user.update({m: values[m].astype(np.float32) for m in PER_USER_METRICS if m in values})
    out: dict = {}
    for name, per in values.items():
        if name == "users":
            continue
        mean, lo, hi = bootstrap_ci(per, cfg.n_boot, seed=cfg.seed)
        out[name] = {"mean": round(mean, 5), "ci95": [round(lo, 5), round(hi, 5)]}
    k = 20
    top = ranked[:, :k]
    valid = top >= 0
    out["coverage@100"] = round(coverage(ranked[:, :100], task.n_items), 5)
    if goods is not None:
        shown = top[valid]
        for figure, flag in (("exposure_small_merchant@20", goods.small), ("exposure_new_goods@20", goods.new),
                             ("exposure_supported@20", goods.supported)):
            out[figure] = round(float(np.asarray(flag, bool)[shown].mean()) if valid.any() else 0, 5)
        distinct = [len(np.unique(goods.category[r[r >= 0]])) / max((r >= 0).sum(), 1) for r in top]
        out["category_diversity@20"] = round(float(np.mean(distinct)), 5)
    return out


#: the metrics paired differences are reported for
PAIRED_METRICS = ("ndcg@20", "recall@20")

#: the vocabulary each task's users index
USER_IDS = {"anchor_goods": "anchor_ids", "fan_goods": "fan_ids", "fan_goods_all": "fan_ids",
            "goods_anchors": "product_ids"}


def _kept(per_user: dict | None, model: str) -> dict | None:
    """The dict a model's per-user values go into, in a task's collector (None: not collecting)."""
    return None if per_user is None else per_user["models"].setdefault(model, {})


def _task_users(per_user: dict | None, name: str, ids: np.ndarray) -> dict | None:
    """A task's collector in `per_user`: its users' external ids in the order of the per-user values (as text:
    numpy's unicode arrays load without pickles), and a dict for each model's values."""
    if per_user is None:
        return None
    per_user[name] = {"users": np.asarray(ids).astype(str), "models": {}}
    return per_user[name]


def _is_baseline(name: str) -> bool:
    return not name.startswith(("ours", "ablation", "oracle")) and not name.endswith("_tuned")


def paired_differences(values: dict[str, dict[str, np.ndarray]], res: dict, cfg: EvalConfig) -> list[dict]:
    """B - A over the same users, with a paired bootstrap interval (users resampled together): two models scored
    on one sample differ far more surely than their separate intervals' overlap says. `values`: each ranking's
    per-user PAIRED_METRICS, as score() kept them. The pairs: ours against the best baseline by ndcg@20, and each
    of our models tuned against untuned."""
    baselines = [n for n in values if _is_baseline(n)]
    pairs = []
    if "ours" in values and baselines:
        best = max(baselines, key=lambda n: res[n]["ndcg@20"]["mean"])
        pairs.append((best, "ours"))
    pairs += [(n[: -len("_tuned")], n) for n in values if n.endswith("_tuned") and n[: -len("_tuned")] in values]
    out = []
    for a, b in pairs:
        per_a, per_b = values[a], values[b]
        for metric in (m for m in PAIRED_METRICS if m in per_a):
            mean, lo, hi = bootstrap_ci(per_b[metric] - per_a[metric], cfg.n_boot, seed=cfg.seed)
            out.append({"a": a, "b": b, "metric": metric, "mean": round(mean, 5),
                        "ci95": [round(lo, 5), round(hi, 5)]})
    return out


def counterfactual(task: Task, scorers: dict[str, Callable], ranker: Ranker, truth, k: int, cfg: EvalConfig,
                   train_m: Marketplace | None = None, per_user: dict | None = None,
                   tuned: Ranker | None = None) -> dict:
    """The selection center's own question on synthetic data: graded NDCG@K of each anchor's ranking against
    the generator's expected sales of every good *if shelved* (goods sold in training excluded). Realised
    sales cannot answer it: they only happen for goods the anchor chose to list."""
    expected = np.asarray(truth.expected_sales, dtype=np.float64)[task.users]
    seen = task.seen.tocoo()
    expected[seen.row, seen.col] = 0.0
    if task.unborn is not None:
        expected[:, task.unborn] = 0.0  # goods created after the cut-off could not be picked then
    rankings = {name: rank_task(task, scorer, k) for name, scorer in scorers.items()}
    rankings["ours"] = ours_reranked(ranker, task, k)
    if tuned is not None:  # the tuned model's served lists, beside its raw ones (ours_no_rerank_tuned)
        rankings["ours_tuned"] = ours_reranked(tuned, task, k)
    rankings["oracle"] = rank_task(task, lambda users: np.asarray(truth.expected_sales)[users], k)
    # the generator's yuan per order is its price x one constant (units less discounts): the price values alike
    rankings["oracle_served"] = oracle_served(ranker, task, np.asarray(truth.expected_sales), k, ranker.goods.price)
    # what the served ranking optimises: the anchor's expected commission = expected orders x yuan per order x rate;
    # the generator's yuan per order is its price x the same 1.29 (units less discounts) for every good, so price
    # grades alike
    unit_earnings = ranker.goods.price * ranker.goods.commission
    earnings = expected * unit_earnings[None, :]
    # the earnings columns' own ceiling: the truth's best goods by expected commission (1.0 there by construction);
    # `oracle` ranks by expected sales, which a page optimising commission can beat on those columns
    rankings["oracle_earnings"] = rank_task(
        task, lambda users: np.asarray(truth.expected_sales)[users] * unit_earnings[None, :], k)
    models, paired = _graded(rankings, {"ndcg": expected, "ndcg_earnings": earnings}, cfg, per_user)
    out = {"users": len(task.users), "population": task.population, "relevant_pairs": int((expected > 0).sum()),
           "models": models, "paired": paired,
           "graded": "expected sales if shelved (ndcg) and expected commission if shelved (ndcg_earnings), "
                     "from the generator's ground truth",
           "served_gap": served_gap(models)}
    if train_m is not None:
        out["personal"] = personal_fit(task, scorers, ranker, truth, train_m)
    return out


def served_gap(models: dict, metric: str = "ndcg_earnings@50") -> dict:
    """How the served earnings NDCG splits: the rules' share (the served oracle against the unconstrained
    truth, 1.0) and the model's (ours against the served oracle)."""
    ours, ceiling = models["ours"][metric]["mean"], models["oracle_served"][metric]["mean"]
    return {"metric": metric, "ours": ours, "oracle_served": ceiling,
            "ours_of_oracle_served": round(ours / ceiling, 5) if ceiling > 0 else None}


def personal_fit(task: Task, scorers: dict[str, Callable], ranker: Ranker, truth, train_m: Marketplace) -> dict:
    """How personal each ranking is within a category (training/fit_metrics.py), beside the truth's own:
    the main-category Spearman of the models' scores, the share of same-category room pairs with identical top
    5, and the share of dear goods in the top 10 of price-sensitive rooms; and how often the served picks' shown
    range of expected commission holds the truth's (range_coverage)."""
    goods, users = ranker.goods, task.users
    names = train_m.anchors["main_category"].astype(str).to_numpy()[users]
    main = np.array([goods.categories.index(c) if c in goods.categories else -1 for c in names])
    # the lists as a room sees them: every gated good, those it already sells included (as the service shows)
    truth_all = np.asarray(truth.expected_sales, dtype=np.float64)[users]
    value = np.where(ranker.gate[None, :], truth_all * (goods.price * goods.commission)[None, :], -1.0)
    pages = [ranker.picks(int(a), 10).items for a in users.tolist()]
    compared = {"ours": _pad([[p.product for p in page] for page in pages], 10)}
    scores = {name: np.asarray(scorers[name](users), dtype=np.float64)
              for name in ("ours_no_rerank", "ablation_category_x_quality") if name in scorers}
    for name, s in scores.items():
        compared[name] = top_k(np.where(ranker.gate[None, :], s, -np.inf), 10)
    compared["truth_by_commission"] = top_k(value, 10)
    # the same truth through the served rules (support boost and share, category cap, pages): how alike the
    # rules alone make rooms' lists, the reference for the served picks' identical top 5
    compared["truth_served"] = truth_served(ranker, users, np.asarray(truth.expected_sales), 10,
                                            order_value=goods.price)
    sensitive = np.isin(users, price_sensitive_rooms(train_m, truth.fan_level, users))
    limit = np.where(sensitive, fans_price_p90(train_m, goods.price)[users], np.nan)
    out = {}
    for name, ranked in compared.items():
        row = {"identical_top5": round(identical_top_share(ranked, main), 4),
               "dear_top10_price_sensitive": round(dear_share(ranked, goods.price, limit), 4)}
        if name in scores:
            row["spearman_main_category"] = round(main_category_spearman(scores[name], truth_all, goods.category,
                                                                         main), 4)
        out[name] = row
    coverage = range_coverage(pages, truth_all, ranker.explainer.interval)
    if coverage is not None:
        out["ours"]["range_coverage"] = coverage
    return out


def range_coverage(pages: list[list], truth: np.ndarray, interval: tuple[np.ndarray, np.ndarray] | None
                   ) -> float | None:
    """The share of served picks whose shown 5%-95% range of expected commission holds the truth's (`truth`: (rooms
    of `pages`, goods) expected orders if shelved). The range is the pick's expected orders times the good's low
    and high factors (`interval`, the explainer's), then times the same yuan per order and rate, so it is checked
    in orders, before the figures are rounded to the fen. None where the picks carry no range."""
    if interval is None:
        return None
    lo, hi = interval
    held = [p.breakdown["affinity"] * lo[p.product] <= truth[j, p.product] <= p.breakdown["affinity"] * hi[p.product]
            for j, page in enumerate(pages) for p in page]
    return round(float(np.mean(held)), 4) if held else None


def _pad(rows: list[list[int]], k: int) -> np.ndarray:
    """Lists of up to k items as a (rows, k) array, -1 where a list is shorter."""
    out = np.full((len(rows), k), -1, np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r[:k]
    return out


#: the graded tasks' figures a tuned model is paired with its untuned self on
GRADED_PAIRED = ("ndcg@50", "ndcg_earnings@50")


def _graded(rankings: dict[str, np.ndarray], gains: dict[str, np.ndarray], cfg: EvalConfig,
            per_user: dict | None = None) -> tuple[dict, list[dict]]:
    """Graded NDCG@20 and @50 of every ranking under each named gain matrix, with bootstrap intervals, and each
    tuned ranking paired with its untuned one (as paired_differences does for realised sales); a task
    collector `per_user` (see _task_users) also receives every per-user value (NaN: a user with nothing to find)."""
    models, paired, values = {}, [], {}
    for name, ranked in rankings.items():
        row = values[name] = {}
        kept = _kept(per_user, name)
        for label, gain in gains.items():
            for kk in (20, 50):
                v = row[f"{label}@{kk}"] = ndcg_at_k(ranked, gain, kk)
                if kept is not None:
                    kept[f"{label}@{kk}"] = v.astype(np.float32)
        mean_ci = (bootstrap_ci(v, cfg.n_boot, seed=cfg.seed) for v in row.values())
        models[name] = {metric: {"mean": round(mean, 5), "ci95": [round(lo, 5), round(hi, 5)]}
                        for metric, (mean, lo, hi) in zip(row, mean_ci, strict=True)}
    # each tuned model against its untuned self, user by user (the same users, the same truth)
    for b in (n for n in rankings if n.endswith("_tuned") and n[: -len("_tuned")] in rankings):
        a = b[: -len("_tuned")]
        for metric in GRADED_PAIRED:
            if metric in values[a]:
                mean, lo, hi = bootstrap_ci(values[b][metric] - values[a][metric], cfg.n_boot, seed=cfg.seed)
                paired.append({"a": a, "b": b, "metric": metric, "mean": round(mean, 5),
                               "ci95": [round(lo, 5), round(hi, 5)]})
    return models, paired


def counterfactual_goods(task: Task, scorers: dict[str, Callable], ranker: Ranker, truth, k: int, cfg: EvalConfig,
                         served: np.ndarray | None = None, per_user: dict | None = None,
                         served_tuned: np.ndarray | None = None) -> dict:
    """The merchant's question (达人广场) on synthetic data: graded NDCG@K of each good's ranking of anchors
    against the generator's expected sales of the good in every room *if shelved* (rooms that sold it in
    training excluded). Realised sales cannot answer it: a room sells a good only if it chose to list it."""
    expected = np.asarray(truth.expected_sales, dtype=np.float64)[:, task.users].T
    seen = task.seen.tocoo()
    expected[seen.row, seen.col] = 0.0
    if task.unborn is not None:
        expected[:, task.unborn] = 0.0  # rooms opened after the cut-off could not be proposed then
    rankings = {name: rank_task(task, scorer, k) for name, scorer in scorers.items()}
    rankings["ours"] = served if served is not None else ours_anchors_served(ranker, task, k)
    if served_tuned is not None:
        rankings["ours_tuned"] = served_tuned
    rankings["oracle"] = rank_task(task, lambda goods: np.asarray(truth.expected_sales)[:, goods].T, k)
    rankings["oracle_served"] = oracle_anchors_served(ranker, task, np.asarray(truth.expected_sales), k)
    models, paired = _graded(rankings, {"ndcg": expected}, cfg, per_user)
    return {"users": len(task.users), "population": task.population, "relevant_pairs": int((expected > 0).sum()),
            "models": models, "paired": paired,
            "graded": "expected sales of the good in each room if shelved, from the generator's ground truth",
            "served_gap": served_gap(models, "ndcg@50")}


def evaluate(data: str | Path | Marketplace, cfg: EvalConfig | None = None, truth=None,
             progress: Callable[[str], None] = _log.info, per_user: dict | None = None) -> dict:
    """Run every model on every task; `truth` (the generator's ground truth) adds the oracle. A temporal split
    trains one model for all tasks; a random split (training/evaluate_split.py) trains one per task, on that
    task's training part (one for the tasks whose training parts are the same).

    `per_user` (a dict, filled in place; the result stays plain JSON) collects what a paired comparison of two
    reports needs, by task: {"users": the scored users' external ids (str), "models": {model: {metric: float32
    per-user values}}}, the metrics PER_USER_METRICS, or every graded one on the *_if_shelved tasks."""
    cfg = cfg or EvalConfig()
    started = time.perf_counter()
    m = data if isinstance(data, Marketplace) else load_snapshot(data)
    if cfg.split == "temporal":
        train_m, test, cutoff = split(m, cfg.test_days)
        if not len(train_m.orders) or not len(test):
            first, last = m.orders["ordered_at"].min(), m.orders["ordered_at"].max()
            raise ConfigError(f"evaluation needs orders both before and after the cut-off {cutoff} ({cfg.test_days:g} "
                              f"test days before the snapshot's end): training orders {len(train_m.orders):,}, test "
                              f"purchases {len(test):,}; the orders run from {first} to {last}: choose fewer "
                              "--test-days")
        results, tuning = _run(m, train_m, build_tasks(train_m, test, cfg), cfg, truth, per_user=per_user)
        return {
            "config": _config(cfg), "tuning": tuning,
            "data": {**_about(m, truth), "split": {"kind": "temporal", "test_days": cfg.test_days},
                     "cutoff": str(cutoff), "train_orders": len(train_m.orders), "test_orders": len(test),
                     "shelf_model": has_exposure(train_m)},
            "tasks": results,
            "seconds": round(time.perf_counter() - started, 1),
        }
    results, tunings, splits, skipped = {}, {}, {}, {}
    parts: dict[str, tuple[Marketplace, dict[str, Task]]] = {}  # tasks with the same training part share a model
    for name in cfg.tasks:
        if name in REFUSED:
            skipped[name] = REFUSED[name]
            progress(f"skipping {name}: {REFUSED[name]}")
            continue
        rs = random_split(m, name, cfg.test_share, cfg.split_seed, cfg.split_min_items, cfg.max_users, cfg.seed)
        s = splits[name] = rs.summary
        progress(f"{name}: random split by {s['user']}, {s['users_split']:,} of {s['users']:,} users split "
                 f"({s['users_all_in_training']:,} with fewer than {s['min_items']} items kept whole), "
                 f"{s['test_pairs']:,} of {s['pairs']:,} pairs held out")
        parts.setdefault(rs.digest, (rs.train, {}))[1][name] = rs.task
    for train_m, tasks in parts.values():  # e.g. Online Retail: every customer is its own room, one split for both
        progress(f"training a model on the rest for {', '.join(tasks)}")
        task_results, tuning = _run(m, train_m, tasks, cfg, truth, per_user=per_user)
        results |= task_results
        if tuning is not None:
            tunings |= dict.fromkeys(tasks, tuning)
    # in the order asked; a task's graded twin (anchor_goods_if_shelved, on generated data) comes with it
    results = {name: results[name] for task in cfg.tasks for name in (task, f"{task}_if_shelved") if name in results}
    if not results:
        raise ConfigError(f"--split random scores none of the tasks asked ({', '.join(cfg.tasks)}): "
                          + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    return {
        "config": _config(cfg), "tuning": tunings or None,
        "data": {**_about(m, truth),
                 "split": {"kind": "random", "test_share": cfg.test_share, "seed": cfg.split_seed,
                           "min_items": cfg.split_min_items, "reference_time": str(m.snapshot_time),
                           "tasks": splits, "skipped": skipped},
                 "shelf_model": has_exposure(m),
                 "train_orders": {k: v["train_orders"] for k, v in splits.items()},
                 "test_orders": {k: v["test_purchases"] for k, v in splits.items()}},
        "tasks": results,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _about(m: Marketplace, truth) -> dict:
    """What was evaluated: the snapshot (its source, the fingerprint of its bytes, the contract's warnings) and,
    on a generated marketplace, the world it was drawn from (scale, seed, fit, traffic), which the fingerprint
    alone does not tell a reader."""
    return {"source": str(m.source) if m.source else None, "fingerprint": m.fingerprint,
            "warnings": [str(w) for w in m.report.warnings], "ground_truth": truth is not None,
            "generator": getattr(truth, "world", None)}


def _config(cfg: EvalConfig) -> dict:
    return {"split": cfg.split, "test_days": cfg.test_days, "test_share": cfg.test_share,
            "split_seed": cfg.split_seed, "split_min_items": cfg.split_min_items, "ks": list(cfg.ks),
            "max_users": cfg.max_users, "n_boot": cfg.n_boot, "seed": cfg.seed,
            "train": cfg.train.model_dump(mode="json"), "ranking": cfg.ranking.model_dump(mode="json")}


def _run(m: Marketplace, train_m: Marketplace, tasks: dict[str, Task], cfg: EvalConfig, truth,
         per_user: dict | None = None) -> tuple[dict, dict | None]:
    """Train on `train_m` (and tune first if asked) and score every model on `tasks`; `m` is the whole snapshot,
    read only by the oracles. `per_user`: see evaluate."""
    kmax = max(cfg.ks)
    tuning = None
    if cfg.tune_trials:  # on the training period only: its last days validate, the test window stays unseen
        # as many validation days as test days: the model is judged over the whole window, and a short validation
        # rewards a short-lived trend (Online Retail: a 1-day half-life won 14 validation days, 7 days won 30, and
        # the 1-day one lost the 30-day test window). Under a random split the tuning validates on a random split
        # of the training part too (another draw of the same share, by fan): the question the model is judged on,
        # and the held-out pairs are not in the training part, so the tuning never sees them.
        tuned = tune(train_m, TuneConfig(trials=cfg.tune_trials, test_days=0, valid_days=cfg.test_days, seed=cfg.seed,
                                         split=cfg.split, valid_share=cfg.test_share, split_seed=cfg.split_seed + 1,
                                         threads=cfg.train.threads), cfg.train,
                     fewer_days="a shorter --test-days (it sets the tuning's validation days too)")
        tuning = tuned.summary() | {"config": tuned.config.model_dump(mode="json")}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            model = load_model(train(train_m, Path(tmp) / "model", cfg.train), mmap=False)
        except ContractError as exc:  # the split's part, not the snapshot, is what cannot be trained on
            window = (f"choose fewer --test-days than {cfg.test_days:g}" if cfg.split == "temporal" else
                      "choose a smaller --test-share")
            raise ConfigError(f"the split's training part ({len(train_m.orders):,} orders) cannot be trained on: "
                              f"{'; '.join(map(str, exc.problems))}: {window}") from exc
        tuned_model = None if tuning is None else load_model(
            train(train_m, Path(tmp) / "tuned", tuned.config), mmap=False)
        ranker = Ranker(model, cfg.ranking)
        tuned_ranker = None if tuned_model is None else Ranker(tuned_model, cfg.ranking)
        # the exposure figures' yardstick: small merchants and new goods by the service's default thresholds,
        # so a ranking setting that moves a threshold changes what the lists hold, not what is counted in them
        yardstick = ranker.goods if cfg.ranking == RankingConfig() else Goods.from_model(model, RankingConfig())
        results: dict = {}
        with compute_threads(cfg.train.threads) as threads:
            shared: dict[str, dict[str, Callable]] = {}  # fan_goods_all ranks from fan_goods' baselines
            for name, task in tasks.items():
                if not len(task.users):  # nothing to find in the test window: a note, not a table of NaN
                    results[name] = {"users": 0, "population": 0, "relevant_pairs": 0, "models": {},
                                     "skipped": "no user has a new pair in the test window (a longer --test-days "
                                                "may give some)"}
                    continue
                goods = name != "goods_anchors"
                key = "fan_goods" if name == "fan_goods_all" else name
                if key not in shared:
                    shared[key] = baselines(train_m, key, cfg, threads)
                scorers = {**ours(model, name), **shared[key]}
                if name == "fan_goods_all":
                    scorers["buy_again"] = buy_again(train_m)
                if tuned_model is not None:  # the tuned model's raw scorers beside the untuned ones
                    scorers |= {f"{k}_tuned": v for k, v in ours(tuned_model, name).items() if k.startswith("ours")}
                if name == "anchor_goods":
                    scorers.update(shelf_rate_ablations(train_m, cfg))
                ids = getattr(train_m, USER_IDS[name]).ids
                # ranking_metrics scores the users with something to find (here all of them), in task order
                kept = _task_users(per_user, name, ids[task.users[np.diff(task.truth.tocsr().indptr) > 0]])
                # each ranking's per-user figures too: paired differences compare two models user by user
                res, lists, values = {}, {}, {}
                for model_name, scorer in scorers.items():
                    t = time.perf_counter()
                    ranked = lists[model_name] = rank_task(task, scorer, kmax)
                    res[model_name] = score(ranked, task, cfg, yardstick if goods else None,
                                            _kept(kept, model_name), values.setdefault(model_name, {}))
                    res[model_name]["seconds"] = round(time.perf_counter() - t, 2)
                served = None
                if name == "goods_anchors":
                    served = lists["ours"] = ours_anchors_served(ranker, task, kmax)
                    res["ours"] = score(served, task, cfg, None, _kept(kept, "ours"), values.setdefault("ours", {}))
                    if tuned_ranker is not None:
                        lists["ours_tuned"] = ours_anchors_served(tuned_ranker, task, kmax)
                        res["ours_tuned"] = score(lists["ours_tuned"], task, cfg, None, _kept(kept, "ours_tuned"),
                                                  values.setdefault("ours_tuned", {}))
                if name == "anchor_goods":
                    lists["ours"] = ours_reranked(ranker, task, kmax)
                    res["ours"] = score(lists["ours"], task, cfg, yardstick, _kept(kept, "ours"),
                                        values.setdefault("ours", {}))
                    if tuned_ranker is not None:
                        lists["ours_tuned"] = ours_reranked(tuned_ranker, task, kmax)
                        res["ours_tuned"] = score(lists["ours_tuned"], task, cfg, yardstick, _kept(kept, "ours_tuned"),
                                                  values.setdefault("ours_tuned", {}))
                    if truth is not None and truth.expected_sales is not None:
                        expected = np.asarray(truth.expected_sales)
                        # Two ceilings. "oracle": the generator's expected sales if shelved, the quantity the
                        # selection center wants to predict. "oracle_shelf": the same restricted to goods the
                        # anchor had listed by the end, the best possible ranking of *realised* new sales
                        # (nothing sells unless shelved); it uses future listings, as an oracle may.
                        res["oracle"] = score(rank_task(task, lambda users, e=expected: e[users], kmax), task,
                                              cfg, yardstick, _kept(kept, "oracle"))
                        if len(m.shelf):  # without a shelf table nothing says what was listed
                            listed = sum_pairs(m.shelf["anchor"].to_numpy(), m.shelf["product"].to_numpy(),
                                               np.ones(len(m.shelf)), expected.shape).toarray() > 0
                            res["oracle_shelf"] = score(rank_task(
                                task, lambda users, e=expected, s=listed: np.where(s[users], e[users], -1.0), kmax),
                                task, cfg, yardstick, _kept(kept, "oracle_shelf"))
                results[name] = {"users": len(task.users), "population": task.population,
                                 "relevant_pairs": int(task.truth.nnz), "models": res,
                                 "paired": paired_differences(values, res, cfg)}
                if truth is not None and truth.expected_sales is not None and name in ("anchor_goods",
                                                                                       "goods_anchors"):
                    # the graded twin scores every user of the task (NaN where nothing would sell)
                    graded = _task_users(per_user, f"{name}_if_shelved", ids[task.users])
                    if name == "anchor_goods":
                        results["anchor_goods_if_shelved"] = counterfactual(task, scorers, ranker, truth, kmax, cfg,
                                                                            train_m, graded, tuned_ranker)
                    else:
                        results["goods_anchors_if_shelved"] = counterfactual_goods(
                            task, scorers, ranker, truth, kmax, cfg, served, graded, lists.get("ours_tuned"))
    return results, tuning
