"""The offline trainer: snapshot -> validated tables -> factors -> anchor and content vectors -> statistics ->
indexes -> artifact. Each stage is timed and logged; a failure anywhere leaves any previous artifact intact."""

from __future__ import annotations

import logging
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender.artifact import ArtifactWriter
from recommender.audience_fit import AudienceRates, fit_audience_rates
from recommender.content import ContentModel
from recommender.contract import INVALID_GATES, TABLE_BY_NAME, Marketplace, find_table_file, load_snapshot
from recommender.embeddings import anchor_vectors, fit_factors
from recommender.errors import ContractError
from recommender.evidence import DailySales, Sellers, daily_sales, manifest_entry, save_arrays, top_sellers
from recommender.index import NormOrderedIndex, build_index, flat_index
from recommender.interactions import (
    anchor_fan_engagement,
    anchor_product_matrix,
    fan_product_matrix,
    follower_matrix,
)
from recommender.profiles import (
    AudienceProfile,
    anchor_category_gmv,
    anchor_category_windows,
    anchor_stats,
    audience_order_value,
    audience_profile,
    follow_lists,
    product_stats,
    recent_orders,
    shelf_lists,
    sold_pairs,
)
from recommender.shelf_rate import fit_shelf
from recommender.threads import compute_threads
from recommender.trend import category_codes, fan_category_log_share, fan_rebuys, product_trend
from training.config import TrainConfig
from training.drift import snapshot_problems

_log = logging.getLogger(__name__)


def no_shelf_rate(m: Marketplace) -> str:
    """The warning of a model trained without the shelf-rate model (shelf_rate.has_exposure false), naming which
    of the two tables it lacked."""
    read = m.report.rows_read.get("shelf")  # None: no file; 0: its header only
    table = ("no shelf table" if read is None else "a shelf table with its header only" if read == 0 else
             f"a shelf table none of whose {read:,} rows was kept")
    lacks = (f"{table}, so days on sale are unknown" if not len(m.shelf) else
             "no orders, so nothing says what sold in the days on sale")
    return (f"no shelf-rate model: the snapshot has {lacks}; picks rank by the vectors' affinity and show no "
            "expected commission in yuan")


T = TypeVar("T")

STAGES = ("load", "matrices", "factors", "content", "anchors", "index", "shelf_rate", "audience_fit", "statistics",
          "write")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class StageTimer:
    """Times named stages and logs each one as it ends: the log reads as the story of the run."""

    seconds: dict[str, float] = field(default_factory=dict)
    #: CPU seconds of the process (every thread) per stage: on a shared machine the wall times move with the
    #: other jobs' load, these much less, so runs far apart can be compared by them
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, name: str, what: str) -> Iterator[None]:
        step = f"[{len(self.seconds) + 1}/{len(STAGES)}]"
        _log.info("%s %s: %s", step, name, what)
        start, cpu = time.perf_counter(), time.process_time()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        self.cpu_seconds[name] = round(time.process_time() - cpu, 3)
        self.rss_mb[name] = round(peak_rss_mb(), 1)
        _log.info("%s %s done in %.1fs (peak RSS %.0f MB)", step, name, self.seconds[name], self.rss_mb[name])


def library_versions() -> dict[str, str]:
    names = ("numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "implicit", "faiss-cpu", "threadpoolctl")
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _catalog(m: Marketplace, table: str) -> pd.DataFrame:
    """The contract's columns of an entity table, with the gates' invalid flags it added (extra export columns are
    not part of the model)."""
    names = [c.name for c in TABLE_BY_NAME[table].columns if c.name in getattr(m, table)]
    names += [INVALID_GATES] if INVALID_GATES in getattr(m, table) else []
    return getattr(m, table)[names].reset_index(drop=True)


@dataclass
class _Statistics:
    """The figures the service cites, from the snapshot alone (no model)."""

    audience: AudienceProfile
    p_stats: pd.DataFrame
    a_stats: pd.DataFrame
    category_gmv: np.ndarray
    window_gmv: np.ndarray
    window_orders: np.ndarray
    order_value: np.ndarray
    shelf: tuple[np.ndarray, np.ndarray]
    follow: tuple[np.ndarray, np.ndarray]
    recent: dict[str, np.ndarray]
    trend: np.ndarray
    goods_category: np.ndarray
    fan_category: np.ndarray
    rebuys: sp.csr_matrix | None
    daily: DailySales
    sellers: Sellers


def _timed(beside: _Beside, name: str, fn: Callable[..., T], *args: object) -> T:
    with beside(name):
        return fn(*args)


def _statistics(m: Marketplace, config: TrainConfig, followers: sp.csr_matrix | None = None) -> _Statistics:
    """Audience profiles, 1/7/30-day sales statistics and boards, the trend and rebuy tables, daily sales and top
    sellers (`followers`: follower_matrix(m), if the caller has it)."""
    goods_category, category_labels = category_codes(m)
    window_gmv, window_orders = anchor_category_windows(m)
    sold = sold_pairs(m)
    return _Statistics(
        audience=audience_profile(m, follows=followers), p_stats=product_stats(m, sold=sold),
        a_stats=anchor_stats(m, sold=sold),
        category_gmv=anchor_category_gmv(m), window_gmv=window_gmv, window_orders=window_orders,
        order_value=audience_order_value(m, follows=followers), shelf=shelf_lists(m), follow=follow_lists(m),
        recent=recent_orders(m, config.recent_order_days), trend=product_trend(m, config.trend.half_life_days),
        goods_category=goods_category,
        fan_category=fan_category_log_share(m, goods_category, len(category_labels),
                                            config.trend.category_smoothing),
        rebuys=fan_rebuys(m, config.trend.rebuy_half_life_days) if config.trend.rebuy_weight else None,
        daily=daily_sales(m), sellers=top_sellers(m, keep=config.evidence.top_sellers, followers=followers))


@dataclass
class _Beside:
    """A job run on a thread beside the main one, with its own wall and CPU seconds (the stages' CPU seconds
    count every thread of the process, so they cannot tell the jobs apart)."""

    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start, cpu = time.perf_counter(), time.thread_time()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        self.cpu_seconds[name] = round(time.thread_time() - cpu, 3)


def _fit_rates(m: Marketplace, config: TrainConfig, engagement: sp.csr_matrix, followers: sp.csr_matrix,
               beside: _Beside, shelf_done: Future) -> AudienceRates | None:
    """The shelf-rate model (handed to `shelf_done` as soon as it is fitted) and the room x good term with its
    bounds. Needs only the snapshot, not the vectors."""
    try:
        with beside("shelf_rate"):
            # None without a shelf table: days on sale are unknown, so serving keeps the vector affinity
            fitted = fit_shelf(m, config.shelf_rate, engagement, followers)
    except BaseException as exc:
        shelf_done.set_exception(exc)
        raise
    shelf_done.set_result(fitted)
    if fitted is None or not config.audience_fit.enabled:
        return None
    with beside("audience_fit"):
        personal = fit_audience_rates(m, fitted, engagement, config.audience_fit)
        return personal.with_bounds(config.audience_fit.room_groups)


def train(data: str | Path | Marketplace, out: str | Path, config: TrainConfig | None = None,
          overwrite: bool = False, show_progress: bool = False, tuning: dict | None = None) -> Path:
    """Train on a snapshot directory (or an already loaded marketplace) and write the artifact to `out`.
    `tuning`: where the configuration's tuned settings come from (recorded in the manifest; None: not tuned)."""
    config = config or TrainConfig()
    timer = StageTimer()
    started = datetime.now(UTC)
    source = data.source if isinstance(data, Marketplace) else data
    if source and Path(out).resolve() in (Path(source).resolve(), *Path(source).resolve().parents):
        raise FileExistsError(f"the output {out} would replace the snapshot it is trained on ({source}); choose "
                              "another output directory")

    with timer("load", "reading and validating the snapshot"):
        m = data if isinstance(data, Marketplace) else load_snapshot(data)
        if len(m.orders) == 0:
            where = (find_table_file(Path(m.source), "orders") or [m.source])[0] if m.source else "the snapshot"
            raise ContractError([f"{where}: the orders table has no valid rows; nothing to learn from"])
        if not isinstance(data, Marketplace):  # a snapshot wrong throughout though every row passed (prices in fen
            # against amounts in yuan): nightly refuses it, and so does a training by hand (a loaded marketplace
            # comes from a job that checked it, or split it from one)
            problems = snapshot_problems(m)
            if problems:
                raise ContractError([f"{m.source}: {p}" for p in problems])

    with (ArtifactWriter(out, overwrite=overwrite) as writer, compute_threads(config.threads) as threads,
          ThreadPoolExecutor(2, thread_name_prefix="beside") as background):
        with timer("matrices", "fan x product, anchor x product and anchor x fan matrices"):
            # three independent builds (mostly scipy's and numpy's C loops, which release the GIL) on both cores;
            # the unrefunded orders and their ages they share computed first, once
            m.purchase_age_days  # noqa: B018
            fans_job = background.submit(fan_product_matrix, m, config.half_life_days, config.confidence)
            anchors_job = background.submit(anchor_product_matrix, m, config.half_life_days)
            followers = follower_matrix(m)  # built once: the engagement, the shelf-rate fit and the statistics
            engagement = anchor_fan_engagement(m, config.anchors.buyer_weight, followers)
            fan_products, anchor_products = fans_job.result(), anchors_job.result()

        f = config.factors
        with timer("factors", f"{f.algorithm.upper()} with {f.factors} factors, {f.iterations} iterations on "
                              f"{fan_products.shape[0]} x {fan_products.shape[1]} ({fan_products.nnz} nonzeros)"):
            fan_factors, product_cf = fit_factors(fan_products, f, threads, show_progress=show_progress)
        dim = product_cf.shape[1]
        # The shelf-rate model with its room x good term and the statistics need only the snapshot: they run on a
        # second thread, not beside ALS, which already uses every core. The term, the longest job, starts here,
        # beside content, anchors and the index (which need the vectors); the statistics start once the index is
        # built (a third thread beside those three only slowed the term: large, 4-6 s less after ALS). All are
        # mostly numpy, which releases the GIL in its array loops; each stage below from shelf_rate on is the
        # wait for its job.
        beside, shelf_done = _Beside(), Future()
        rates_job = background.submit(_fit_rates, m, config, engagement, followers, beside, shelf_done)

        with timer("content", "content model for goods with few sales"):
            buyers = np.diff(fan_products.tocsc().indptr)
            content = ContentModel(config.content)
            product_content = content.fit_predict(m.products, product_cf, buyers)
            product_vectors = content.blend(product_cf, product_content, buyers)
            content.save(writer.directory("content"))

        with timer("anchors", "audience and sales vectors of anchors"):
            verticals = None
            if "main_category" in m.anchors:
                verticals = pd.factorize(m.anchors["main_category"], sort=True)[0]  # -1 where missing
            av = anchor_vectors(engagement, anchor_products, fan_factors, product_vectors, f, threads,
                                sales_shrinkage=config.anchors.sales_shrinkage, vertical=verticals,
                                audience_shrinkage=config.anchors.audience_shrinkage)

        # the indexes need only the vectors: built while the shelf-rate model and the term are still fitting
        with timer("index", f"{config.index.kind} indexes over goods and anchors, anchors' candidates"):
            product_index, product_report = build_index(product_vectors, av.blended, config.index.kind,
                                                        config.index.k, config.index.min_recall)
            # Each anchor's exact top goods by affinity, computed in one batch: a request then only masks this
            # list (exact while enough goods survive its filters) instead of scanning the catalogue.
            n_cand = min(config.index.anchor_candidates, len(product_vectors))
            cand_scores, cand_rows = flat_index(product_vectors).search(av.blended, n_cand)
            anchor_index, anchor_report = build_index(av.blended, product_vectors[:20_000], config.index.kind,
                                                      config.index.k, config.index.min_recall)
        statistics = background.submit(_timed, beside, "statistics", _statistics, m, config, followers)

        with timer("shelf_rate", "expected orders of every good in every room if shelved (shelf Poisson model; "
                                 "on a second thread since the factors stage: waiting for it)"):
            fitted = shelf_done.result()
            rates = None if fitted is None else fitted.rates
            fallback = None
            if rates is None:  # said once here and kept in the manifest: `inspect` and /v1/model show it
                fallback = no_shelf_rate(m)
                _log.warning(fallback)

        with timer("audience_fit", "the room x good term: price bands and audience cells (gamma-Poisson; on a "
                                   "second thread since the factors stage: waiting for it)"):
            personal = rates_job.result()
            if personal is not None:
                rates = personal.base  # refitted with the term as exposure: the two are saved together

        with timer("statistics", "audience profiles, 1/7/30-day sales statistics, daily sales and top sellers "
                                 "(computed on a second thread since the index stage: waiting for them)"):
            st = statistics.result()
            audience, p_stats, a_stats, category_gmv = st.audience, st.p_stats, st.a_stats, st.category_gmv
            window_gmv, window_orders, order_value = st.window_gmv, st.window_orders, st.order_value
            shelf_indptr, shelf_products, follow_indptr, follow_anchors = st.shelf + st.follow
            recent, trend, goods_category, fan_category = st.recent, st.trend, st.goods_category, st.fan_category
            rebuys, daily, sellers = st.rebuys, st.daily, st.sellers
            ev = config.evidence

        with timer("write", f"artifact to {out}"):
            for name, vocab in (("anchors", m.anchor_ids), ("fans", m.fan_ids), ("products", m.product_ids)):
                writer.array(f"ids/{name}.npy", vocab.ids)
            for name, arr in (("anchor", av.blended), ("anchor_audience", av.audience),
                              ("anchor_sales", av.sales), ("fan", fan_factors), ("product", product_vectors),
                              ("product_cf", product_cf), ("product_content", product_content)):
                writer.array(f"vectors/{name}.npy", arr)
            writer.index("index/products.faiss", product_index)
            for name, arr in NormOrderedIndex.build(product_vectors).arrays("products").items():
                writer.array(f"index/{name}", arr)
            writer.index("index/anchors.faiss", anchor_index)
            writer.array("candidates/anchor_products.npy", cand_rows)
            writer.array("candidates/anchor_scores.npy", cand_scores)
            if rates is not None:
                rates.save(writer.directory("shelf_rate"))
            if personal is not None:
                personal.save(writer.directory("audience"))
            writer.columns("products", _catalog(m, "products"))
            writer.columns("anchors", _catalog(m, "anchors"))
            writer.columns("product_stats", p_stats)
            writer.columns("anchor_stats", a_stats)
            writer.array("profiles/audience_fans.npy", audience.fans)
            writer.array("profiles/audience_buyers_30d.npy", audience.buyers_30d)
            for dim_name, shares in audience.shares.items():
                writer.array(f"profiles/audience_{dim_name}.npy", shares)
            writer.array("profiles/anchor_category_gmv_30d.npy", category_gmv)
            writer.array("profiles/followers_order_value_30d.npy", order_value)
            writer.array("boards/anchor_gmv.npy", window_gmv)
            writer.array("boards/anchor_orders.npy", window_orders)
            writer.array("shelf/indptr.npy", shelf_indptr)
            writer.array("shelf/products.npy", shelf_products)
            writer.array("follows/indptr.npy", follow_indptr)
            writer.array("follows/anchors.npy", follow_anchors)
            for name, arr in recent.items():
                writer.array(f"recent_orders/{name}.npy", arr)
            writer.array("trend/products.npy", trend)
            writer.array("trend/category.npy", goods_category)
            writer.array("trend/fan_category.npy", fan_category)
            if rebuys is not None:
                writer.array("trend/rebuy_indptr.npy", rebuys.indptr.astype(np.int64))
                writer.array("trend/rebuy_products.npy", rebuys.indices.astype(np.int32))
                writer.array("trend/rebuy_orders.npy", rebuys.data.astype(np.float32))
            for rel, arr in save_arrays(daily, sellers).items():
                writer.array(rel, arr)

        manifest = {
            "model_version": started.strftime("%Y%m%dT%H%M%SZ"),
            "created_at": started.isoformat(),
            "data": {
                "source": str(m.source) if m.source else None,
                "fingerprint": m.fingerprint,
                "snapshot_time": str(m.snapshot_time),
                "rows_read": m.report.rows_read,
                "rows_kept": m.report.rows_kept,
                "optional_present": m.optional_present(),
                "warnings": [str(p) for p in m.report.warnings] + ([fallback] if fallback else []),
            },
            "parameters": config.model_dump(mode="json"),
            "trend": config.trend.model_dump(mode="json"),
            "rebuy": rebuys is not None,
            "tuning": tuning,
            "counts": {"anchors": len(m.anchor_ids), "fans": len(m.fan_ids), "products": len(m.product_ids),
                       "follows": len(m.follows), "orders": len(m.orders), "shelf": len(m.shelf),
                       "clicks": len(m.clicks), "recent_orders": len(recent["key"]),
                       "daily_cells": len(daily.day), "seller_rows": len(sellers.anchor),
                       "rebuy_pairs": 0 if rebuys is None else int(rebuys.nnz),
                       "fan_product_nonzeros": int(fan_products.nnz),
                       "goods_without_buyers": int((buyers == 0).sum()),
                       "anchors_without_sales": int((np.diff(anchor_products.indptr) == 0).sum())},
            "dimensions": dim,
            "score": "inner product of vectors/anchor (or fan) and vectors/product",
            "shelf_rate": None if rates is None else {
                "score": "expected orders per 30 days if shelved = 30 * room[anchor, category] * quality[product]",
                "categories": len(rates.categories)},
            "quality_shape": rates is not None and rates.shape is not None,
            "category_audience": personal is not None and any(v.by_category is not None for v in personal.views),
            "audience": None if personal is None else {
                "score": "expected orders x band_factor[anchor, band[product]] x prod over views of "
                         "audience[anchor, view] . response[product, view] (views in category_audience: "
                         "by_category[anchor, category[product], view])",
                "views": {v.name: len(v.labels or ()) for v in personal.views}},
            "evidence": manifest_entry(daily, sellers, ev.top_sellers),
            "indexes": {"products": asdict(product_report), "anchors": asdict(anchor_report)},
            "profiles": {"labels": audience.labels, "category_share": "followers who bought the category in "
                         "the last 30 days (any room) / followers"},
            "stats_windows_days": [1, 7, 30],
            "anchor_boards": {"windows_days": [1, 7, 30], "gmv": "boards/anchor_gmv.npy", "orders":
                              "boards/anchor_orders.npy", "audience_order_value": "followers' unrefunded orders in "
                              "the last 30 days, any room: amount / orders"},
            "libraries": library_versions(),
            "threads": threads,
            "command": " ".join(sys.argv),
        }
        manifest["timings_seconds"] = timer.seconds
        manifest["cpu_seconds"] = timer.cpu_seconds
        # the jobs beside the main thread, each its own: their time is inside the stages they ran beside
        manifest["beside_seconds"] = beside.seconds
        manifest["beside_cpu_seconds"] = beside.cpu_seconds
        manifest["peak_rss_mb"] = round(peak_rss_mb(), 1)
        path = writer.commit(manifest)
    total = sum(timer.seconds.values())
    _log.info("trained in %.1fs (ALS %.1fs); artifact %s", total, timer.seconds["factors"], path)
    return path
