"""Re-ranking weights benchmark: graded NDCG of the served ranking over a grid of RankingConfig weights.

    python -m bench.tune_ranking [--data /tmp/xuanpin-bench/medium-0] [--affinity 1 1.5 2 3 4]
                                 [--price 0 0.25 0.5 0.75 1] [--commission 1] [--k 100]

The yardstick is the evaluation's ``anchor_goods_if_shelved`` task (``training.evaluate.counterfactual``): each
anchor's served list (gates, expected value affinity^a x price^p x commission^c, exposure support, category caps)
is graded against the generator's ground truth, on expected units sold if shelved (``ndcg``) and on expected
commission if shelved, units x price x rate (``ndcg_earnings``, what the re-ranking is meant to optimise).
The model is trained once on the evaluation's training split (its own split, task and train code); each grid
setting only builds a new Ranker. Every setting also gets a paired bootstrap (over the same anchors) of its
difference from the defaults, and two descriptive figures of its top 20: the median price and the share of
goods in the anchor's own main category. The reference rows (plain category popularity, our raw vectors, the
oracle) come from ``counterfactual`` itself, which also checks that this script grades "ours" as it does.

Needs a generated snapshot with its truth/ (made with ``xuanpin generate --scale medium --seed 0`` when absent).
Results are printed and written as JSON to bench/results/. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fixtures.fit import FIT_SETTINGS
from fixtures.marketplace import DEFAULT_FIT, load_truth
from recommender.artifact import Model, load_model
from recommender.contract import Marketplace, load_snapshot
from recommender.ranking import Ranker, RankingConfig
from recommender.ranking.qc import qc_factor
from recommender.settings import validated
from recommender.threads import compute_threads
from training.config import TrainConfig
from training.evaluate import (
    EvalConfig,
    Task,
    baselines,
    build_tasks,
    counterfactual,
    oracle_served,
    ours,
    ours_reranked,
    split,
)
from training.metrics import bootstrap_ci, ndcg_at_k
from training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
NDCG_K = (20, 50)
DEFAULT = RankingConfig()


def _fit_of(truth_json: Path) -> float | None:
    return json.loads(truth_json.read_text(encoding="utf-8")).get("fit")


def ensure_snapshot(data: Path | None, work: Path) -> tuple[Path, Marketplace]:
    """The medium seed-0 snapshot: `data` if given, else the shared bench copy if it loads, else generated."""
    candidates = [data] if data else [Path("/tmp/xuanpin-bench/medium-0"), work / "medium"]
    for path in candidates:
        truth = path / "truth" / "truth.json"
        if truth.exists() and (data or _fit_of(truth) == FIT_SETTINGS[DEFAULT_FIT]):
            try:
                return path, load_snapshot(path)
            except Exception as exc:  # a stale or partial copy: generate instead
                print(f"{path} does not load ({exc}); generating instead")
    out = data or work / "medium"
    subprocess.run([sys.executable, "-m", "recommender.cli", "generate", "--scale", "medium", "--seed", "0",
                    "--out", str(out)], check=True, cwd=ROOT)
    return out, load_snapshot(out)


def if_shelved_gains(task: Task, truth, ranker: Ranker) -> tuple[np.ndarray, np.ndarray]:
    """Expected units and expected commission if shelved, per task anchor, exactly as ``counterfactual``."""
    expected = np.asarray(truth.expected_sales, dtype=np.float64)[task.users]
    seen = task.seen.tocoo()
    expected[seen.row, seen.col] = 0.0
    if task.unborn is not None:
        expected[:, task.unborn] = 0.0
    return expected, expected * (ranker.goods.price * ranker.goods.commission)[None, :]


def never_sold(train_m: Marketplace, goods: int) -> np.ndarray:
    """(goods,) True for goods without an order in the training split."""
    sold = train_m.product_ids.index(train_m.orders["product_id"].to_numpy())
    return np.bincount(sold[sold >= 0], minlength=goods) == 0


def _ci(values: np.ndarray, n_boot: int, seed: int) -> dict:
    mean, lo, hi = bootstrap_ci(values, n_boot, seed=seed)
    return {"mean": round(mean, 5), "ci95": [round(lo, 5), round(hi, 5)]}


def grade(ranked: np.ndarray, gains: dict[str, np.ndarray], base: dict[str, np.ndarray] | None, cfg: EvalConfig
          ) -> tuple[dict, dict[str, np.ndarray]]:
    """NDCG@K per gain with bootstrap CIs, and the paired difference from `base` (per-anchor values)."""
    row, per_anchor = {}, {}
    for label, g in gains.items():
        for k in NDCG_K:
            name = f"{label}@{k}"
            values = ndcg_at_k(ranked, g, k)
            per_anchor[name] = values
            row[name] = _ci(values, cfg.n_boot, cfg.seed)
            if base is not None:
                row[f"{name}_vs_default"] = _ci(values - base[name], cfg.n_boot, cfg.seed)
    return row, per_anchor


def describe(ranked: np.ndarray, task: Task, ranker: Ranker, model: Model, unsold: np.ndarray, top: int = 20
             ) -> dict:
    """Median price of the top picks, the share of them in the anchor's own main category, their mean 品控 factor
    and the share of them it cuts by a fifth or more, and where the slots go: to goods never sold in training
    (`unsold`), to how many distinct goods, to the ten most picked, to small merchants (扶持 by GMV)."""
    r = ranked[:, :top]
    valid = r >= 0
    out = {f"median_price@{top}": round(float(np.median(ranker.goods.price[r[valid]])), 1) if valid.any() else None}
    if "main_category" in model.anchors:
        main = model.anchors["main_category"].astype(str).to_numpy()[task.users]
        cats = np.asarray(ranker.goods.categories)[ranker.goods.category[np.maximum(r, 0)]]
        same = (cats == main[:, None]) & valid
        out[f"own_category_share@{top}"] = round(float(same.sum() / max(valid.sum(), 1)), 4)
    qc = qc_factor(ranker.goods, RankingConfig())  # one yardstick: the default factor, whatever the grid's weight
    out[f"qc_factor@{top}"] = round(float(qc[r[valid]].mean()), 4) if valid.any() else None
    out[f"qc_below_0.8@{top}"] = round(float((qc[r[valid]] < 0.8).mean()), 4) if valid.any() else None
    return {**out, **exposure(r[valid], unsold, np.asarray(ranker.goods.small, bool), top)}


def exposure(slots: np.ndarray, unsold: np.ndarray, small: np.ndarray, top: int) -> dict:
    """How a set of first pages spreads its slots over goods (the 扶持 and concentration figures)."""
    if not len(slots):
        return {}
    counts = np.bincount(slots, minlength=len(unsold))
    return {f"unsold_share@{top}": round(float(unsold[slots].mean()), 4),
            f"distinct_goods@{top}": int((counts > 0).sum()),
            f"top10_goods_share@{top}": round(float(np.sort(counts)[-10:].sum() / len(slots)), 4),
            f"small_merchant_share@{top}": round(float(small[slots].mean()), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="generated snapshot with truth/ (default: medium seed 0)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/tune"))
    ap.add_argument("--affinity", type=float, nargs="+", default=[1.0, 1.5, 2.0, 3.0, 4.0])
    ap.add_argument("--price", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    ap.add_argument("--commission", type=float, nargs="+", default=[1.0])
    ap.add_argument("--category-share", type=float, nargs="+", default=[DEFAULT.max_category_share],
                    help="max_category_share: at most this share of a page from one category")
    ap.add_argument("--caution", type=float, nargs="+", default=[-1.0],
                    help="rank by this quantile of quality (-1: the mean, the default)")
    ap.add_argument("--qc", type=float, nargs="+", default=[DEFAULT.qc_weight],
                    help="qc_weight: exponent of the 品控 factor (0: off)")
    ap.add_argument("--k", type=int, default=max(EvalConfig().ks),
                    help="served list length (the evaluation asks for its largest K, 100)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tune-ranking.json")
    args = ap.parse_args()
    started = time.perf_counter()

    snapshot, m = ensure_snapshot(args.data, args.work)
    truth = load_truth(snapshot)
    cfg = EvalConfig(tasks=("anchor_goods",), train=TrainConfig(threads=args.threads))
    train_m, test, cutoff = split(m, cfg.test_days)
    task = build_tasks(train_m, test, cfg)["anchor_goods"]
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model(train(train_m, Path(tmp) / "model", cfg.train), mmap=False)
    train_seconds = time.perf_counter() - t
    print(f"{snapshot}: cut-off {cutoff}, {len(task.users)} anchors graded, trained in {train_seconds:.0f} s")

    # reference rows from the evaluation itself (defaults, baselines, raw vectors, oracle)
    t = time.perf_counter()
    ranker = Ranker(model, DEFAULT)
    with compute_threads(args.threads) as threads:
        scorers = {**ours(model, "anchor_goods"), **baselines(train_m, "anchor_goods", cfg, threads)}
    keep = ("ours_no_rerank", "category_popularity", "popularity", "itemknn", "als")
    reference = counterfactual(task, {n: scorers[n] for n in keep}, ranker, truth, args.k, cfg)["models"]
    print(f"reference rows in {time.perf_counter() - t:.0f} s")

    gains = dict(zip(("ndcg", "ndcg_earnings"), if_shelved_gains(task, truth, ranker), strict=True))
    unsold = never_sold(train_m, len(ranker.goods.price))
    small = np.asarray(ranker.goods.small, bool)
    truth_top = np.argsort(-gains["ndcg_earnings"], axis=1)[:, :20]  # the truth's own first pages, no rules
    truth_exposure = {"no_rules": exposure(truth_top.ravel(), unsold, small, 20)}
    served = oracle_served(ranker, task, np.asarray(truth.expected_sales, np.float64), 20)
    truth_exposure["served_rules"] = exposure(served[served >= 0], unsold, small, 20)
    print(f"the truth's first pages by expected commission: {truth_exposure}")
    default_ranked = ours_reranked(ranker, task, args.k)
    default_row, base = grade(default_ranked, gains, None, cfg)
    for name, value in default_row.items():  # this script's yardstick is the evaluation's
        assert value == reference["ours"][name], (name, value, reference["ours"][name])

    grid = list(itertools.product(args.affinity, args.price, args.commission, args.category_share, args.caution,
                                  args.qc))
    rows = []
    for a, p, c, share, caution, qc in grid:
        t = time.perf_counter()
        rc = validated(RankingConfig, {**DEFAULT.model_dump(), "affinity_weight": a, "price_weight": p,
                                       "commission_weight": c, "max_category_share": share,
                                       "caution": None if caution < 0 else caution, "qc_weight": qc}, "the grid")
        r = Ranker(model, rc)
        ranked = ours_reranked(r, task, args.k)
        row, _ = grade(ranked, gains, base, cfg)
        row.update(describe(ranked, task, r, model, unsold))
        rows.append({"affinity_weight": a, "price_weight": p, "commission_weight": c, "max_category_share": share,
                     "caution": rc.caution, "qc_weight": qc, **row, "seconds": round(time.perf_counter() - t, 2)})
        print(f"  a={a:<4} p={p:<4} c={c:<4} cap={share:<4} caution={rc.caution} qc={qc} "
              f"qc@20 {row.get('qc_factor@20')} "
              f"own cat@20 {row.get('own_category_share@20')} unsold@20 {row.get('unsold_share@20')} "
              f"distinct {row.get('distinct_goods@20')} top10 {row.get('top10_goods_share@20')}"
              f" units@50 {row['ndcg@50']['mean']:.3f}  "
              f"earnings@50 {row['ndcg_earnings@50']['mean']:.3f}  ({time.perf_counter() - t:.1f} s)", flush=True)

    def cell(v: dict) -> str:
        return f"{v['mean']:.3f} [{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}]"

    def diff(v: dict) -> str:
        return f"{v['mean']:+.3f} [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}]"

    print(f"\nanchor_goods_if_shelved, served list of {args.k}, {len(task.users)} anchors, 95% bootstrap CIs "
          f"({cfg.n_boot} resamples); vs default = paired difference from the service's defaults (a=p=c=1, "
          f"caution {DEFAULT.caution}, qc {DEFAULT.qc_weight}; the grid's caution defaults to the mean: -1)")
    head = (f"{'a':>4} {'p':>5} {'c':>4} {'caution':>7} {'qc':>4} | {'units NDCG@50':<22} {'vs default':<24} | "
            f"{'earnings NDCG@50':<22} {'vs default':<24} | {'med ¥@20':>8} {'own cat@20':>10}")
    print(head)
    print("-" * len(head))
    for row in rows:
        print(f"{row['affinity_weight']:>4g} {row['price_weight']:>5g} {row['commission_weight']:>4g} "
              f"{row['caution']!s:>7} {row['qc_weight']:>4g} | "
              f"{cell(row['ndcg@50']):<22} {diff(row['ndcg@50_vs_default']):<24} | "
              f"{cell(row['ndcg_earnings@50']):<22} {diff(row['ndcg_earnings@50_vs_default']):<24} | "
              f"{row['median_price@20']:>8} {row.get('own_category_share@20', float('nan')):>10}")
    print("\nreference (same yardstick, from training.evaluate.counterfactual):")
    for name, row in reference.items():
        print(f"  {name:<20} units@50 {cell(row['ndcg@50'])}   earnings@50 {cell(row['ndcg_earnings@50'])}")
    best = max(rows, key=lambda r: r["ndcg_earnings@50"]["mean"])
    print(f"\nbest on earnings@50: a={best['affinity_weight']} p={best['price_weight']} "
          f"c={best['commission_weight']} caution={best['caution']} qc={best['qc_weight']}: "
          f"{cell(best['ndcg_earnings@50'])}, "
          f"units {cell(best['ndcg@50'])}")

    result = {
        "data": {"snapshot": str(snapshot), "fingerprint": m.fingerprint, "cutoff": str(cutoff),
                 "anchors_graded": len(task.users)},
        "config": {"k_served": args.k, "n_boot": cfg.n_boot, "seed": cfg.seed, "test_days": cfg.test_days,
                   "ranking_defaults": DEFAULT.model_dump(), "threads": args.threads},
        "train_seconds": round(train_seconds, 1),
        "grid": rows,
        "reference": reference,
        "truth_exposure@20": truth_exposure,
        "best_earnings@50": {k: best[k] for k in ("affinity_weight", "price_weight", "commission_weight", "caution",
                                                  "qc_weight")},
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"written to {args.out} ({result['seconds']:.0f} s in all)")


if __name__ == "__main__":
    main()
